"""The demo page, and the HTTP half of the SSE side: send, drop, stats.

Every error here is JSON, ``{"errors": {field: message}}``, with a 4xx status.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe
from redis.exceptions import RedisError

from advisor.clients import ClientRates, client_key
from advisor.http import FORMS, JSON, body_bytes, error_response, json_allow, read_json_object
from advisor.wire import now_ms
from serving.direct_write import direct_writes_enabled

from .feed import current_feed, get_feed, public_id
from .protocol import MessageError, binary_receipt, chat_payload, decode_base64, publish_chat

logger = logging.getLogger(__name__)

# Base64 of the largest binary message, inside a small JSON object.
MAX_SEND_BODY = (settings.LIVE_DEMO["MAX_BINARY_BYTES"] + 2) // 3 * 4 + 1024
MAX_LIMITERS = 4096


def errors(status: int, **fields: str) -> JsonResponse:
    return error_response(status, fields)


# HEAD too (here and on stats): monitors ask with it.
@require_safe
@ensure_csrf_cookie
def demo(request: HttpRequest) -> HttpResponse:
    options = settings.LIVE_DEMO
    return render(
        request,
        "live_demo/demo.html",
        {
            "options": options,
            "backend": "redis" if options["REDIS_URL"] else "memory",
            "binary_sizes": [1024, 64 * 1024, 512 * 1024],
        },
    )


def send_rates() -> tuple[float, float]:
    rate = settings.LIVE_DEMO["MAX_MESSAGES_PER_SECOND"]
    return rate, rate


# One token bucket per client (advisor/clients.py, which also says who the
# client is behind a proxy), the least recently seen forgotten.
_send_limits = ClientRates(send_rates, size=MAX_LIMITERS)


TAKES = {JSON, *FORMS}


def posted_fields(request: HttpRequest, limit: int) -> dict[str, Any] | JsonResponse:
    """The request's fields, from JSON or an HTML form; or the error to answer."""
    body, refused = read_json_object(request, limit, content_types=TAKES)
    return refused or body


def feed_errors(view: Callable) -> Callable:
    """A feed that cannot reach Redis answers 503, not 500: the request may be retried."""

    @wraps(view)
    async def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return await view(request, *args, **kwargs)
        except (RedisError, OSError, TimeoutError):
            logger.exception("live demo: the feed is unavailable")
            return errors(503, feed="The live feed is unavailable at the moment; try again.")

    return wrapper


def request_wire_bytes(request: HttpRequest) -> int:
    """The request as it crossed the network: request line, headers and body."""
    scope = getattr(request, "scope", {})
    line = len(request.method) + len(request.get_full_path()) + len(" HTTP/1.1\r\n") + 1
    headers = sum(len(name) + len(value) + 4 for name, value in scope.get("headers", []))
    return line + headers + 2 + body_bytes(request)


@json_allow("POST")
@feed_errors
async def send(request: HttpRequest) -> HttpResponse:
    """The SSE side's way back: a chat message, or binary data as base64."""
    options = settings.LIVE_DEMO
    if _send_limits.wait(client_key(request)):
        limit = options["MAX_MESSAGES_PER_SECOND"]
        return errors(429, type=f"More than {limit} messages a second; try again shortly.")
    body = posted_fields(request, MAX_SEND_BODY)
    if isinstance(body, JsonResponse):
        return body
    # A message with text and no type is a chat.
    kind = body.get("type", "chat" if "text" in body else None)
    try:
        if kind == "chat":
            feed = await get_feed()
            payload = chat_payload(
                body,
                sender=public_id(body.get("connection", "")),
                via="sse",
                max_chars=options["MAX_CHAT_CHARS"],
            )
            event = await publish_chat(feed, payload)
            return JsonResponse({"type": "chat_ack", "id": event.id, "ts": event.ts}, status=201)
        if kind == "binary":
            data = decode_base64(body.get("data"), max_bytes=options["MAX_BINARY_BYTES"])
            return JsonResponse(binary_receipt(data, wire_bytes=request_wire_bytes(request)))
    except MessageError as error:
        field = "data" if kind == "binary" else "text"
        return JsonResponse({"errors": {field: error.message}, "code": error.code}, status=400)
    return errors(400, type='"type" must be "chat" or "binary".')


@json_allow("POST")
@feed_errors
async def drop(request: HttpRequest) -> HttpResponse:
    """Close one connection from the server's end, so the browser sees a real drop."""
    body = posted_fields(request, 1024)
    if isinstance(body, JsonResponse):
        return body
    connection = body.get("connection")
    if not isinstance(connection, str) or not connection:
        return errors(400, connection="Give the connection id from the welcome message.")
    feed = await get_feed()
    if not await feed.drop(connection):
        return errors(404, connection="No open connection has that id.")
    return JsonResponse({"dropped": connection}, status=202)


@json_allow("GET")
@feed_errors
async def stats(request: HttpRequest) -> HttpResponse:
    """This process's view: subscribers per transport and how each is written to
    (`direct` or `asgi`), tasks, the feed's position.

    Read by the tests (a closed connection leaves nothing behind), the
    benchmarks, and the page's clock-offset estimate (`ts`).
    """
    feed = current_feed()
    body: dict[str, Any] = {
        "ts": now_ms(),
        "process": os.getpid(),
        # Off with DEMO_DIRECT_WRITES=0 or untested server versions.
        "direct_writes": direct_writes_enabled(),
    }
    if feed is None:
        idle = {"websocket": 0, "sse": 0}
        body.update(running=False, subscribers=idle, direct=idle, asgi=idle, tasks=0)
    else:
        oldest, newest, first = await feed.history_bounds()
        body.update(
            running=True,
            backend=feed.backend,
            subscribers=feed.counts(),
            **feed.paths(),
            tasks=len(feed.connection_tasks),
            last_id=newest,
            history={"oldest": oldest, "newest": newest, "first": first},
        )
    return JsonResponse(body, headers={"Cache-Control": "no-store"})
