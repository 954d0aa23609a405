"""The JSON error shape, body reader, number parser and pages that every endpoint shares.

Every error a JSON endpoint gives is ``{"errors": {field: message}}`` with a
4xx status: the API, the network check's API and the live demo's HTTP side
answer alike, so a client handles one shape.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Collection, Sequence
from functools import wraps
from inspect import iscoroutinefunction

from django.core.exceptions import RequestDataTooBig
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import RawPostDataException
from django.views.decorators.csrf import csrf_exempt

from .clients import write_refusal
from .origins import is_own_origin, trusted_origins

JSON = "application/json"
FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The most digits a number in a request may have. Nothing in a request counts
# past a billion, and int() needs the check first: it takes other scripts'
# digits, signs, spaces and underscores, and raises ValueError past 4,300
# digits (Python's integer-string conversion limit), which would be a 500.
MAX_DIGITS = 9
# A Content-Length may be longer: up to an exabyte, still far below that limit.
MAX_LENGTH_DIGITS = 18


def whole_number(text: str | None, max_digits: int = MAX_DIGITS) -> int | None:
    """``text`` as an int if it is 1 to ``max_digits`` ASCII digits, else None.

    Every number read from a request (query, form, header, path) goes through
    this rather than int(), so no input can make the conversion raise.
    """
    if text is None or not (0 < len(text) <= max_digits and text.isascii() and text.isdigit()):
        return None
    return int(text)


# Line breaks and tabs: what a multi-line text (a comment) may hold.
MULTILINE = frozenset("\n\r\t")


def text_problem(text: str, max_length: int, *, multiline: bool = False) -> str | None:
    """Why ``text`` (a title, a name, a comment) cannot be stored, or None; for forms,
    the API and commands.

    PostgreSQL refuses NUL, and no database stores lone surrogates. A
    ``multiline`` text may hold line breaks and tabs, no other control character.
    """
    if len(text) > max_length:
        return f"must be at most {max_length} characters"
    allowed = MULTILINE if multiline else frozenset()
    if any(unicodedata.category(char) in {"Cc", "Cs"} and char not in allowed for char in text):
        return "must not contain control characters" + (
            " other than line breaks and tabs" if multiline else ""
        )
    return None


def all_digits(text: str) -> bool:
    """Whether ``text`` is a whole number, of any length (to tell 404 from 400)."""
    return bool(text) and text.isascii() and text.isdigit()


def error_response(status: int, errors: dict[str, str], **headers: str) -> JsonResponse:
    """``{"errors": errors}`` with ``status``; ``Retry_After="5"`` sets Retry-After."""
    response = JsonResponse({"errors": errors}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def answers_json(view: Callable) -> Callable:
    """Mark a view whose every answer is JSON, errors included (a CSRF failure too)."""
    view.answers_json = True
    return view


def is_json_endpoint(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    return bool(match and getattr(match.func, "answers_json", False))


def foreign_origin(request: HttpRequest) -> str | None:
    """The request's Origin header if it names another site than this one, else None.

    No Origin is fine (programs such as curl send none; browsers always send
    one on a cross-site POST). This site is the request's own scheme and host,
    or one of CSRF_TRUSTED_ORIGINS (the origins a proxy in front may present),
    compared as the streams and WebSockets compare them (advisor.origins).
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return None
    own = f"{request.scheme}://{request.get_host()}"
    if is_own_origin(origin, own, trusted_origins()):
        return None
    return origin


def created(document: dict, location: str) -> JsonResponse:
    """201 Created with the new object's document, and where to read it again."""
    response = JsonResponse(document, status=201)
    response["Location"] = location
    return response


def _with_head(methods: tuple[str, ...]) -> tuple[str, ...]:
    # HEAD wherever GET, as require_safe does for pages: monitors ask with it.
    return (*methods, "HEAD") if "GET" in methods and "HEAD" not in methods else methods


def _method_refused(request: HttpRequest, methods: tuple[str, ...]) -> JsonResponse | None:
    if request.method in methods:
        return None
    return error_response(
        405,
        {"method": f"{request.method} is not allowed here; use {', '.join(methods)}"},
        Allow=", ".join(methods),
    )


def json_allow(*methods: str) -> Callable:
    """Like require_http_methods (sync or async views), with the 405 in JSON.

    For JSON endpoints that keep Django's CSRF check (the demo's HTTP side);
    the API uses `json_methods`, which adds its own write checks.
    """
    methods = _with_head(methods)

    def decorator(view: Callable) -> Callable:
        if iscoroutinefunction(view):

            @wraps(view)
            async def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
                return _method_refused(request, methods) or await view(request, *args, **kwargs)

        else:

            @wraps(view)
            def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
                return _method_refused(request, methods) or view(request, *args, **kwargs)

        return answers_json(wrapper)

    return decorator


def json_methods(*methods: str) -> Callable:
    """Like require_http_methods, but the 405 is JSON like every other API error.

    HEAD is allowed wherever GET is, as require_safe does for pages: monitors
    ask with it. The view answers it as GET, and the server drops the body.
    Writes (POST, PUT, PATCH, DELETE) take only `Content-Type: application/json`
    (415 otherwise), only from this site's own pages or from programs (403
    for another Origin), and only so many a second from one client (429 with
    Retry-After; advisor/clients.py).
    """
    methods = _with_head(methods)

    def decorator(view: Callable) -> Callable:
        # The API takes no cookies into account and changes no session, so it
        # needs no CSRF token; what stops a page on another site from writing
        # through a visitor's browser is the JSON content type (no HTML form
        # can send it, and fetch() cannot without a CORS preflight, which
        # this API never grants) and the Origin check.
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            refused = _method_refused(request, methods)
            if refused is not None:
                return refused
            if request.method in WRITES:
                # A body of any other type (or of none: a Blob posted without
                # one) is refused; an empty, untyped body creates nothing and
                # gets the 400 that says so.
                has_body = request.META.get("CONTENT_LENGTH", "") not in {"", "0"}
                # A DELETE says all in its URL: without a body, its type is moot.
                typed = request.content_type and request.method != "DELETE"
                if (has_body or typed) and request.content_type != JSON:
                    return error_response(
                        415, {"body": "Send JSON (Content-Type: application/json)."}
                    )
                origin = foreign_origin(request)
                if origin is not None:
                    return error_response(
                        403, {"origin": f"writes are not accepted from {origin[:100]}"}
                    )
                # Only then the rate: a page on another site, whose requests
                # stop above, must not spend a visitor's allowance. Every
                # attempt past this point counts.
                refused = write_refusal(request)
                if refused is not None:
                    message, seconds = refused
                    return error_response(429, {"rate": message}, Retry_After=seconds)
            return view(request, *args, **kwargs)

        return answers_json(wrapper)

    return decorator


def read_json_object(
    request: HttpRequest, max_bytes: int, *, content_types: Collection[str] | None = None
) -> tuple[dict, None] | tuple[None, JsonResponse]:
    """The body as a JSON object (or an HTML form's fields), or the 4xx that refuses it.

    ``content_types`` lists the media types taken (415 for any other); None
    takes any. Forms among them come back as a dict of their fields.
    """
    if content_types is not None and request.content_type not in content_types:
        wanted = "JSON (Content-Type: application/json)"
        if FORMS & set(content_types):
            wanted += " or an HTML form"
        return None, error_response(415, {"body": f"Send {wanted}."})
    too_big = error_response(413, {"body": f"the body must be at most {max_bytes} bytes"})
    header = request.headers.get("Content-Length")
    if header:
        declared = whole_number(header, MAX_LENGTH_DIGITS)
        if declared is None and all_digits(header):
            # More digits than any body we take: too big, whatever it says.
            return None, too_big
        if declared is None:
            # Django's own body reader would raise on it (a 500): refuse here.
            return None, error_response(
                400, {"body": "the Content-Length header must be a whole number of bytes"}
            )
        if declared > max_bytes:
            return None, too_big
    try:
        if request.content_type in FORMS and content_types is not None:
            if body_bytes(request) > max_bytes:
                return None, too_big
            return request.POST.dict(), None
        body = request.body
    except RequestDataTooBig:
        return None, too_big
    if len(body) > max_bytes:
        return None, too_big
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        # ValueError covers bad UTF-8, bad JSON and integers past Python's
        # digit limit; RecursionError, nesting deeper than the parser goes.
        return None, error_response(400, {"body": f"the body is not valid JSON: {error}"})
    if not isinstance(document, dict):
        return None, error_response(400, {"body": "the body must be a JSON object"})
    return document, None


def body_bytes(request: HttpRequest) -> int:
    """The size of the request body as it came, even once a form parser consumed it."""
    try:
        return len(request.body)
    except RawPostDataException:
        # The CSRF check read a multipart form from the stream (for its token
        # field), so the raw body is gone: its declared length is what came
        # (already checked by read_json_object).
        return whole_number(request.META.get("CONTENT_LENGTH"), MAX_LENGTH_DIGITS) or 0


def json_page(
    request: HttpRequest, items: Sequence, page_size: int, render: Callable[[object], dict]
) -> tuple[dict, None] | tuple[None, JsonResponse]:
    """One ``?page=`` of ``items``: results, count, page, pages, next and previous.

    Pages count from 1; no ``page`` is the first. Anything but a whole
    number from 1 is refused with 400, a page past the last with 404 (a
    number of any length: it names no page). An empty list has one empty page.
    ``next`` and ``previous`` are absolute URLs that keep the other query
    parameters, or null.
    """
    requested = request.GET.get("page")
    number = 1 if requested is None else whole_number(requested)
    if number == 0 or (number is None and not all_digits(requested or "")):
        return None, error_response(
            400, {"page": f"must be a whole number from 1, not {requested!r:.40}"}
        )
    paginator = Paginator(items, page_size)
    if number is None or number > paginator.num_pages:
        return None, error_response(
            404, {"page": f"no page {requested:.40}; there are {paginator.num_pages}"}
        )
    page = paginator.page(number)

    def link(to: int) -> str:
        query = request.GET.copy()
        query["page"] = str(to)
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

    return {
        "results": [render(item) for item in page.object_list],
        "count": paginator.count,
        "page": number,
        "pages": paginator.num_pages,
        "next": link(number + 1) if page.has_next() else None,
        "previous": link(number - 1) if page.has_previous() else None,
    }, None
