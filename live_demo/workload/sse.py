"""/demo/workload/events/?run=<id>: one run's events as Server-Sent Events.

JSON events go as they are (``event: json``), binary ones as base64
(``event: binary``). At the forced drop the response ends; EventSource comes
back after ``retry:`` with Last-Event-ID and gets what it missed. After the
last event an ``end`` event; a reconnect after it gets 204, which tells
EventSource to stop. Served ahead of Django like the demo's own stream, with
its pieces: the headers, the disconnect watcher and the event framing.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs

from advisor.origins import plain_response
from advisor.wire import now_ms, to_json

from .. import caps
from ..events import format_event
from ..sse import HEADERS, requested_last_id, serve_until_disconnect
from .runs import DROPPED, END, Run, RunRefused, runs

logger = logging.getLogger(__name__)

# A short retry: the recovery time is part of what the run measures.
RETRY_MS = 500
UNKNOWN_RUN = b"No running workload has that id; start one from the page.\n"
BUSY = b"This run's event stream is open already.\n"


async def workload_stream(scope, receive, send) -> None:
    if scope["method"] not in {"GET", "HEAD"}:
        await plain_response(
            send, 405, b"Only GET opens an event stream.\n", [(b"allow", b"GET, HEAD")]
        )
        return
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    try:
        run = await runs.get((query.get("run") or [""])[0])
    except RunRefused as refused:
        retry = [(b"retry-after", str(refused.retry_after).encode())]
        await plain_response(send, refused.status, f"{refused.message}\n".encode(), retry)
        return
    if run is None:
        await plain_response(send, 404, UNKNOWN_RUN)
        return
    last_id = requested_last_id(scope) or 0
    if last_id >= run.total:
        # Everything was delivered: 204 stops EventSource's reconnecting.
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    slot = caps.acquire(scope)
    if slot is None:
        await plain_response(send, 429, caps.refusal(), [(b"retry-after", caps.RETRY_AFTER)])
        return
    with slot:
        if not runs.claim(run, "sse", scope):
            await plain_response(send, 409, BUSY)
            return
        try:
            stream = asyncio.create_task(_serve(scope, send, run, last_id))
            await serve_until_disconnect(stream, receive)
        finally:
            runs.let_go(run, "sse", scope)


async def _serve(scope, send, run: Run, last_id: int) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    if scope["method"] == "HEAD":
        await send({"type": "http.response.body", "body": b""})
        return
    welcome = to_json(run.welcome("sse", last_id))
    first = format_event(welcome, event="welcome", retry=RETRY_MS)
    await send({"type": "http.response.body", "body": first, "more_body": True})
    async for batch in runs.events(run, "sse", last_id):
        if batch == DROPPED:
            break
        if batch == END:
            end = to_json({"type": "end", "total": run.total, "ts": now_ms()})
            chunk = format_event(end, event="end")
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            break
        chunk = b"".join(
            format_event(event.sse_data(), event="binary" if event.binary else "json", id=event.id)
            for event in batch
        )
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
