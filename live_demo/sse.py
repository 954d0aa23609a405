"""The demo's Server-Sent Events endpoint, /demo/events/.

A plain ASGI application rather than a Django view or an `AsyncHttpConsumer`:
it needs the ASGI `send` (to see what the client leaves unread) and it must
notice a disconnect while the stream waits for events. Channels'
`AsyncHttpConsumer` cannot do the second while `handle()` streams (Channels
issues #1249, #1302, #1445), so this runs the stream and the disconnect
watcher as two tasks and ends both when either ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings

from advisor.origins import plain_response
from advisor.wire import to_json
from serving.direct_write import Connection

from . import caps
from .events import Event, format_comment, format_event
from .feed import Closed, Feed, Subscriber, get_feed
from .protocol import welcome

logger = logging.getLogger(__name__)

# A whole number an id sequence can reach (up to 18 digits); anything else
# starts live.
LAST_ID = re.compile(r"[0-9]{1,18}")

UNAVAILABLE = b"The live feed is unavailable at the moment; try again shortly.\n"

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    # nginx and friends otherwise buffer the stream until their buffer fills.
    (b"x-accel-buffering", b"no"),
    (b"x-content-type-options", b"nosniff"),
]


def requested_last_id(scope: dict[str, Any]) -> int | None:
    """The Last-Event-ID header (a reconnect), else ?last_event_id= (a first connect).

    Anything that is not a whole number >= 0 starts afresh from live.
    """
    raw = None
    for name, value in scope.get("headers", []):
        if name == b"last-event-id":
            raw = value.decode("latin-1")
    if raw is None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        raw = (query.get("last_event_id") or [None])[0]
    if raw is None or not LAST_ID.fullmatch(raw.strip()):
        return None
    return int(raw.strip())


async def event_stream(scope, receive, send) -> None:
    if scope["method"] not in {"GET", "HEAD"}:
        await plain_response(
            send, 405, b"Only GET opens an event stream.\n", [(b"allow", b"GET, HEAD")]
        )
        return
    try:
        feed = await get_feed()
    except Exception:
        logger.exception("live demo: the feed could not start")
        await plain_response(send, 503, UNAVAILABLE)
        return
    slot = caps.acquire(scope)
    if slot is None:
        await plain_response(send, 429, caps.refusal(), [(b"retry-after", caps.RETRY_AFTER)])
        return
    with slot:
        subscriber = feed.subscribe("sse")
        try:
            stream = feed.track(asyncio.create_task(_serve(scope, send, feed, subscriber)))
            await serve_until_disconnect(stream, receive)
        finally:
            feed.unsubscribe(subscriber)


async def serve_until_disconnect(stream: asyncio.Task, receive) -> None:
    """Let `stream` run until it ends or the client goes; then end both, leaking no task."""
    watcher = asyncio.create_task(wait_for_disconnect(receive))
    try:
        await asyncio.wait({stream, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (stream, watcher):
            task.cancel()
        await asyncio.gather(stream, watcher, return_exceptions=True)


async def _serve(scope, send, feed: Feed, subscriber: Subscriber) -> None:
    options = settings.LIVE_DEMO
    try:
        first = await _first_chunk(scope, feed, subscriber)
    except Exception:
        logger.exception("live demo: could not read the feed's history")
        await plain_response(send, 503, UNAVAILABLE)
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    if scope["method"] == "HEAD":
        await send({"type": "http.response.body", "body": b""})
        return
    connection = Connection(send)
    sink = None
    # aclosing: a cancelled stream closes its generator at once, and with it
    # the heartbeat timer, instead of whenever the generator is collected.
    try:
        async with contextlib.aclosing(_chunks(first, subscriber, options["HEARTBEAT"])) as chunks:
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                backlog = connection.pending
                if backlog is not None and backlog > options["MAX_BACKLOG_BYTES"]:
                    subscriber.close("slow")
                elif not subscriber.backlog:
                    # Caught up: the feed writes the next events itself. (Only
                    # now: Twisted picks the body's framing at its first write.)
                    sink = sink or connection.event_sink(subscriber, options["MAX_BACKLOG_BYTES"])
                    subscriber.sink = sink
    except Closed as closed:
        if closed.reason == "slow":
            # It is not reading: ending the response politely would keep its
            # backlog in memory until it did. Cut the connection instead.
            connection.abort()
            return
        # Otherwise ending the response is the drop: EventSource reconnects
        # after retry: milliseconds, sending Last-Event-ID.
    await send({"type": "http.response.body", "body": b""})


async def _first_chunk(scope, feed: Feed, subscriber: Subscriber) -> bytes:
    """retry:, the welcome, then (on a resume) a gap notice and the missed events."""
    retry = feed.options["RETRY_MS"]
    chunk = [format_event(to_json(welcome(feed, subscriber)), event="welcome", retry=retry)]
    for item in await feed.start_from(subscriber, requested_last_id(scope)):
        if isinstance(item, Event):
            chunk.append(item.sse)
        else:
            chunk.append(format_event(to_json(item), event=item["type"]))
    return b"".join(chunk)


async def _chunks(first: bytes, subscriber: Subscriber, heartbeat: float) -> AsyncIterator[bytes]:
    """The stream, one chunk per wake-up: under daphne each send costs more than its bytes."""
    yield first
    loop = asyncio.get_running_loop()
    beat_due = False

    def beat() -> None:
        # One timer per heartbeat period, not one per event.
        nonlocal beat_due, timer
        beat_due = True
        subscriber.wake()
        timer = loop.call_later(heartbeat, beat)

    timer = loop.call_later(heartbeat, beat)
    try:
        while True:
            chunk = [event.sse for event in await subscriber.next_batch()]
            if beat_due:
                chunk.append(format_comment("heartbeat"))
                beat_due = False
            if chunk:
                yield b"".join(chunk)
    finally:
        timer.cancel()


async def wait_for_disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
