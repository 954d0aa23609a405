"""Around every HTTP request: its id, its access log line, its metrics, and a 503
when the database is down under a route served ahead of Django.

- The request id: the proxy's `X-Request-ID` when it is well formed (letters,
  digits, `.`, `_`, `-`, at most 128) and the peer is one of
  DJANGO_TRUSTED_PROXIES, else a new one (uuid4 hex). It is in
  the response's `X-Request-ID` header and in every log line written for the
  request (operations/logs.py).
- The access log: one line per request on the `advisor.access` logger when
  the response ends (for a stream, when it closes): method, path, status,
  duration_ms, client (advisor/clients.py), route; the path without its
  query string and with its secrets redacted (operations/logs.py).
- A request whose client went away before its response started (the server
  told of it with `http.disconnect`, or cancelled the request) is logged and
  counted as 499, nginx's "client closed request": a browser that cancels a
  request (htmx replacing one with the next) is normal use, not a 500. An
  exception that escapes the application stays a 500, gone client or not.
- Metrics: by route name (the URL pattern's name, set by
  `RouteNameMiddleware` for Django's views and by `named` for the routes
  ahead of it), method and status; latency to the response's headers.
- A route ahead of Django (a stream) that meets an unreachable or busy
  database (operations/outages.py) before it starts answering gets a 503 in
  the API's JSON error shape, rather than a dropped connection. Django's own
  views are answered by the 500 handler (advisor/views.py), which does the
  same. Any other database error goes on to the server's 500.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from dataclasses import dataclass

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.urls import URLPattern, path

from advisor.clients import client_address, from_trusted_proxy
from advisor.origins import Scope, header

from . import metrics, outages
from .logs import redacted_path, request_id

access_log = logging.getLogger("advisor.access")
logger = logging.getLogger(__name__)

REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
SCOPE_KEY = "advisor.request"
# nginx's status for a request whose client closed the connection first.
CLIENT_CLOSED = 499


@dataclass
class RequestInfo:
    """What the layers of one request tell each other (kept in its ASGI scope)."""

    id: str
    route: str | None = None
    # The route's keyword arguments, to take its secrets out of the access log.
    arguments: dict | None = None


def incoming_request_id(scope: Scope) -> str:
    # Only the proxy's: a client's own id could pass for another request's
    # in the logs, or tie a line to a request it never made.
    given = header(scope, b"x-request-id")
    if given is not None and REQUEST_ID.fullmatch(given) and from_trusted_proxy(scope):
        return given
    return uuid.uuid4().hex


def route_label(scope: Scope, info: RequestInfo) -> str:
    if info.route:
        return info.route
    if scope["path"].startswith("/" + settings.STATIC_URL.lstrip("/")):
        return "static"
    # A 404, or a route without a name: never the raw path (unbounded labels).
    return "unmatched"


class ObservedRequests:
    """The ASGI middleware around all HTTP (advisor/asgi.py)."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.application(scope, receive, send)
            return
        info = RequestInfo(incoming_request_id(scope))
        scope = {**scope, SCOPE_KEY: info}
        token = request_id.set(info.id)
        response = _Response(send, info.id)
        observed_send = response.send
        client = _Client(receive)
        failed = cancelled = False
        try:
            await self.application(scope, client.receive, observed_send)
        except asyncio.CancelledError:
            # The server gives up on a request when its client has gone (daphne,
            # after application_close_timeout) or when it shuts down.
            cancelled = True
            raise
        except Exception as error:
            # In a thread: telling busy from down may wait for the database.
            outage = sync_to_async(outages.outage, thread_sensitive=False)
            kind = await outage(error) if response.status is None else None
            if kind is None:
                failed = True
                raise
            logger.warning("the database is %s", kind, exc_info=True)
            await observed_send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"retry-after", outages.RETRY_AFTER[kind].encode()),
                    ],
                }
            )
            await observed_send({"type": "http.response.body", "body": outages.json_body(kind)})
        finally:
            duration = time.perf_counter() - response.started
            answered = answered_status(
                response.status, failed=failed, client_gone=cancelled or client.disconnected
            )
            route = route_label(scope, info)
            metrics.observe_request(route, scope["method"], answered, response.headers_after)
            logged_path = redacted_path(scope["path"], info.arguments)
            access_log.info(
                "%s %s %s %.1fms",
                scope["method"],
                logged_path,
                answered,
                duration * 1000,
                extra={
                    "method": scope["method"],
                    "path": logged_path,
                    "status": answered,
                    "duration_ms": round(duration * 1000, 1),
                    "client": client_address(scope),
                    "route": route,
                },
            )
            request_id.reset(token)


def answered_status(sent: int | None, *, failed: bool, client_gone: bool) -> int:
    """The status a request is logged and counted under."""
    if sent is not None:
        return sent
    # No response, and an exception escaped: the server answers 500.
    if failed:
        return 500
    # Nobody left to answer: Django's handler returns without a response when
    # the client disconnects while the view runs (RequestAborted).
    if client_gone:
        return CLIENT_CLOSED
    # The application ended without a word: the server answers 500.
    return 500


class _Client:
    """Whether the server told the application that the client went away."""

    def __init__(self, real_receive) -> None:
        self.real_receive = real_receive
        self.disconnected = False

    async def receive(self):
        message = await self.real_receive()
        if message["type"] == "http.disconnect":
            self.disconnected = True
        return message


class _Response:
    """What the request's response said, seen on its way to the server.

    `send` is a bound method and the server's own send is `real_send`: the
    feed's direct writes find the connection beneath through that chain, as
    through Channels' middleware (serving/direct_write.py).
    """

    def __init__(self, real_send, request_id: str) -> None:
        self.real_send = real_send
        self.started = time.perf_counter()
        self.status: int | None = None
        self.headers_after: float | None = None
        self._echoed = (b"x-request-id", request_id.encode())

    async def send(self, message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers_after = time.perf_counter() - self.started
            message = {**message, "headers": [*message.get("headers", ()), self._echoed]}
        await self.real_send(message)


def named(patterns: list[URLPattern]) -> list[URLPattern]:
    """The routes ahead of Django, each telling its name to the request's metrics."""
    return [
        path(str(pattern.pattern), _naming(pattern.name, pattern.callback), name=pattern.name)
        for pattern in patterns
    ]


def _naming(name: str | None, application):
    async def labelled(scope: Scope, receive, send) -> None:
        info = scope.get(SCOPE_KEY)
        if info is not None and name:
            info.route = name
            info.arguments = scope.get("url_route", {}).get("kwargs")
        await application(scope, receive, send)

    return labelled


class RouteNameMiddleware:
    """Tells the request's metrics which URL pattern Django resolved (by its view name).

    Async, like serving.middleware's: a sync hook would cost a trip to the
    request's thread.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        return self.get_response(request)

    async def process_view(self, request, callback, args, kwargs):
        info = getattr(request, "scope", {}).get(SCOPE_KEY)
        if info is not None and request.resolver_match is not None:
            info.route = request.resolver_match.view_name
            info.arguments = request.resolver_match.kwargs
        return None
