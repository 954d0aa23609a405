"""Which hosts and origins this site answers: one policy for every route.

Django checks the Host header against ALLOWED_HOSTS for its own views only,
and Channels' origin validator compares only an Origin's host name with
ALLOWED_HOSTS, so `http://127.0.0.1:1234` (another site on another port) or
`https://localhost` passed for this site. Here an Origin is this site's when
its scheme, host and port all equal those of the request itself, or of one
entry of CSRF_TRUSTED_ORIGINS (the origins a proxy in front may present).

The ASGI scope is read the way Django reads a request (Host, X-Forwarded-Host
when USE_X_FORWARDED_HOST, the scheme from SECURE_PROXY_SSL_HEADER when
set), so a stream, a WebSocket and a view agree on what is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from serving.direct_write import Connection

DEFAULT_PORTS = {"http": 80, "https": 443}
# ASGI's WebSocket schemes name the same origins as HTTP's.
HTTP_SCHEMES = {"http": "http", "ws": "http", "https": "https", "wss": "https"}

BAD_HOST = b"Bad Request (400): this server does not answer for that host.\n"
FOREIGN_ORIGIN = b"This stream answers only pages of this site.\n"

Scope = dict[str, Any]


def header(scope: Scope, name: bytes) -> str | None:
    """A request header as Django sees it: repeated ones joined by commas; None if absent."""
    values = [value for key, value in scope.get("headers", ()) if key == name]
    if not values:
        return None
    return b",".join(values).decode("latin-1")


def request_scheme(scope: Scope) -> str:
    """`http` or `https`, as Django's `request.scheme` would say for this scope."""
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        # Django names it as a WSGI variable: HTTP_X_FORWARDED_PROTO.
        value = header(scope, meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode())
        if value is not None:
            return "https" if value.split(",", 1)[0].strip() == secure_value else "http"
    default = "ws" if scope.get("type") == "websocket" else "http"
    return HTTP_SCHEMES.get(scope.get("scheme") or default, "http")


def raw_host(scope: Scope) -> str:
    """The host the request names, unchecked (Django's `_get_raw_host` for a scope)."""
    forwarded = header(scope, b"x-forwarded-host")
    if settings.USE_X_FORWARDED_HOST and forwarded is not None:
        return forwarded
    host = header(scope, b"host")
    if host is not None:
        return host
    # No Host header (HTTP/1.0): the address the server listens on, as Django does.
    server = scope.get("server") or ("unknown", 0)
    port = str(server[1])
    if port != str(DEFAULT_PORTS[request_scheme(scope)]):
        return f"{server[0]}:{port}"
    return str(server[0])


def allowed_host(scope: Scope) -> str | None:
    """The request's host if ALLOWED_HOSTS takes it (Django's own test), else None."""
    host = raw_host(scope)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        # As Django's get_host: development without ALLOWED_HOSTS means localhost.
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _ = split_domain_port(host)
    return host if domain and validate_host(domain, allowed) else None


def origin_key(origin: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of `scheme://host[:port]`, default port filled in; None if not one.

    Anything else is None: "null" (a sandboxed frame, a file:// page), a path,
    user info, a malformed port. Host names compare in lower case.
    """
    # urlsplit would quietly drop spaces, tabs and control characters.
    if not (origin.isascii() and origin.isprintable()) or " " in origin:
        return None
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        # urlsplit refuses "http://[::1" and ports that are not numbers.
        return None
    if (
        not parts.scheme
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or "?" in origin
        or "#" in origin
        or "@" in parts.netloc
    ):
        return None
    scheme = parts.scheme.lower()
    return scheme, parts.hostname.lower(), port if port is not None else DEFAULT_PORTS.get(scheme)


def is_own_origin(origin: str, own: str | None, trusted: Iterable[str] = ()) -> bool:
    """Whether `origin` is `own` (this request's scheme://host) or one of `trusted`.

    The one comparison for every route: the JSON API (advisor.http), the
    streams and the WebSockets. Each entry of `trusted` must be a whole
    origin; a wildcard such as `https://*.example.com` matches nothing here.
    """
    key = origin_key(origin)
    if key is None:
        return False
    return any(
        candidate is not None and origin_key(candidate) == key for candidate in (own, *trusted)
    )


def trusted_origins() -> list[str]:
    return list(getattr(settings, "CSRF_TRUSTED_ORIGINS", ()))


def own_origin(scope: Scope) -> str | None:
    """This request's own origin, scheme://host[:port]; None if its host is not allowed."""
    host = allowed_host(scope)
    return None if host is None else f"{request_scheme(scope)}://{host}"


def foreign_origin(scope: Scope) -> str | None:
    """The request's Origin if it names another site than this one, else None.

    No Origin is None too: each route decides what that means (a same-origin
    EventSource sends none; a browser's WebSocket always sends one).
    """
    origin = header(scope, b"origin")
    if origin is None or is_own_origin(origin, own_origin(scope), trusted_origins()):
        return None
    return origin


async def plain_response(send, status: int, body: bytes, headers: list | None = None) -> None:
    """A short plain-text answer from an ASGI app ahead of Django (a refusal, an error)."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AllowedHostsMiddleware:
    """Refuses a request whose host ALLOWED_HOSTS does not take, on every route.

    Django's views check it themselves, but routes served ahead of Django
    (the streams, static files, WebSockets) never would: a DNS rebinding page
    could read them under a host name of its own. HTTP gets Django's answer
    to a DisallowedHost, 400; a WebSocket handshake is refused (HTTP 403).
    """

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] in {"http", "websocket"} and allowed_host(scope) is None:
            if scope["type"] == "http":
                await plain_response(send, 400, BAD_HOST)
            else:
                await WebsocketDenier()(scope, receive, send)
            return
        await self.application(scope, receive, send)


class SameOriginWebsocketMiddleware:
    """Takes a WebSocket handshake only from a page of this site; others get HTTP 403.

    A browser always sends Origin on a WebSocket handshake, from any page,
    and WebSockets have no CORS: this is the only thing stopping another
    site's page from opening one. No Origin (a program) is refused too.
    """

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive, send) -> None:
        if "scheme" not in scope and Connection(send).tls:
            # daphne never says "wss", even over its own TLS.
            scope = {**scope, "scheme": "wss"}
        if header(scope, b"origin") is None or foreign_origin(scope) is not None:
            await WebsocketDenier()(scope, receive, send)
            return
        await self.application(scope, receive, send)


def same_origin_stream(application):
    """An HTTP route that answers 403 to a page of another site.

    A browser sends Origin on a cross-origin EventSource (a CORS request) but
    none on a same-origin GET, so no Origin is taken: it is this site's own
    page, or a program that no browser's cookies or network position help.
    """

    async def guarded(scope: Scope, receive, send) -> None:
        if foreign_origin(scope) is not None:
            await plain_response(send, 403, FOREIGN_ORIGIN)
            return
        await application(scope, receive, send)

    return guarded
