"""Site-wide error views: a 404, a 500 (a 503 when the database is down) and a CSRF
failure in the shape the client expects."""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.views.csrf import csrf_failure as default_csrf_failure
from django.views.defaults import page_not_found
from django.views.defaults import server_error as default_server_error

from operations import outages

from .http import answers_json, error_response, is_json_endpoint


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 for the whole site: JSON under /api/, the normal page elsewhere."""
    if request.path.startswith("/api/"):
        return error_response(404, {"path": f"nothing at {request.path}"})
    return page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """500, except when the database is unreachable or busy: then 503 with Retry-After.

    Django calls this inside the failed request's `except` (under
    DJANGO_DEBUG=0; with it on, the debug page shows the traceback). Failing
    to connect, losing the connection, or waiting in vain for one of the
    pool's can happen in any layer (a view, the session, the sign-in): each
    gets this answer, a page or the API's JSON. Other database errors are
    faults, and get the 500 (operations/outages.py).
    """
    error = sys.exc_info()[1]
    kind = outages.outage(error) if error is not None else None
    if kind is None:
        if request.path.startswith("/api/") or is_json_endpoint(request):
            return error_response(500, {"server": "Something went wrong on our side; try again."})
        return default_server_error(request)
    retry_after = outages.RETRY_AFTER[kind]
    if request.path.startswith("/api/") or is_json_endpoint(request):
        return error_response(503, {"database": outages.MESSAGES[kind]}, Retry_After=retry_after)
    # No request context: its processors would read the database.
    page = loader.get_template("503.html").render({"busy": kind == "busy"})
    return HttpResponse(page, status=503, headers={"Retry-After": retry_after})


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """JSON for the endpoints that answer JSON (`advisor.http.answers_json`), else HTML."""
    if is_json_endpoint(request):
        return error_response(
            403,
            {
                "csrf": f"CSRF check failed ({reason}). Send the csrftoken cookie's value "
                "in an X-CSRFToken header."
            },
        )
    return default_csrf_failure(request, reason)


@answers_json
def stream_elsewhere(request: HttpRequest) -> HttpResponse:
    """Names a stream's URL in the URLconf; the ASGI router serves it ahead of Django."""
    return error_response(
        503, {"stream": "The event stream is served by the ASGI application (advisor.asgi) only."}
    )
