"""/ws/workload/?run=<id>: one run's events down, its up messages answered, one forced drop.

The first message says where to start: ``{"type": "start"}``, or after the
drop ``{"type": "resume", "last_id": n}``; events flow after it. Up messages
(``{"type": "up", "seq", "t", "data"}``) are answered with ``up_ack`` and the
bytes the message took on the wire; pings with pongs (the page's clock offset).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings

from advisor.consumers import MessageError
from advisor.limits import RateLimiter
from advisor.wire import now_ms

from .. import caps
from ..consumers import DemoConsumer
from ..protocol import (
    CLOSE_DROPPED,
    CLOSE_INTERNAL,
    CLOSE_TOO_MANY,
    pong,
    resume_id,
    websocket_frame_bytes,
)
from .runs import DROPPED, END, UP_DATA_CHARS, Run, RunRefused, runs

logger = logging.getLogger(__name__)

CLOSE_UNKNOWN_RUN = 4004  # no such run, or it ended (HTTP 404)
CLOSE_BUSY = 4409  # this run's WebSocket is open already (HTTP 409; 4009 is the demo's "too big")


class WorkloadConsumer(DemoConsumer):
    """The demo's consumer with a run instead of the feed: its message checks, its limits."""

    run: Run | None = None
    size = 0

    async def connect(self) -> None:
        self.options = settings.LIVE_DEMO
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        # Accepted, then closed with an error frame: a refused handshake shows
        # a browser only 1006, where a frame and a close code say why.
        await self.accept()
        try:
            run = await runs.get((query.get("run") or [""])[0])
        except RunRefused as refused:
            await self._refuse(CLOSE_INTERNAL, "unavailable", refused.message)
            return
        if run is None:
            await self._refuse(
                CLOSE_UNKNOWN_RUN, "unknown_run", "No running workload has that id."
            )
            return
        self.slot = caps.acquire(self.scope)
        if self.slot is None:
            await self._refuse(CLOSE_TOO_MANY, "too_many", caps.refusal().decode().strip())
            return
        if not runs.claim(run, "websocket", self):
            await self._refuse(CLOSE_BUSY, "busy", "This run's WebSocket is open already.")
            return
        self.run = run
        self.limiter = RateLimiter(
            self.options["MAX_MESSAGES_PER_SECOND"],
            flood_factor=self.options["FLOOD_FACTOR"],
            flood_seconds=self.options["FLOOD_SECONDS"],
        )

    async def _refuse(self, code: int, error: str, message: str) -> None:
        self.closing = True
        await self.send_error(MessageError(error, message))
        await self.close(code=code, reason=error)

    async def release(self) -> None:
        writer, self.writer = self.writer, None
        await self.stop(writer)
        if self.run is not None:
            runs.let_go(self.run, "websocket", self)
            self.run = None
        if self.slot is not None:
            self.slot.release()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        # The demo's own checks (rate, flood, size, JSON) come first; an up
        # message's answer says how many bytes it took.
        self.size = len(text_data.encode()) if text_data is not None else 0
        await super().receive(text_data, bytes_data)

    async def _receive_binary(self, data: bytes) -> None:
        await self.send_error(MessageError("invalid_message", "Up messages are JSON text."))

    def _go_live(self) -> None:
        """Events flow after a start or a resume, not after any first message."""

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind in ("start", "resume"):
            if self.writer is not None:
                raise MessageError("already_started", "This connection's events flow already.")
            last_id = 0 if kind == "start" else resume_id(message)
            await self.send_json(self.run.welcome("websocket", last_id))
            self.writer = asyncio.create_task(self._write(last_id))
        elif kind == "up":
            await self.send_json(
                up_ack(message, wire_bytes=websocket_frame_bytes(self.size, masked=True))
            )
        elif kind == "ping":
            await self.send_json(pong(message))
        else:
            raise MessageError(
                "unknown_type",
                f"Unknown message type {kind!r:.40}; the types are start, resume, up, ping.",
            )

    async def _write(self, last_id: int) -> None:
        run = self.run
        try:
            async for batch in runs.events(run, "websocket", last_id):
                if batch == DROPPED:
                    # The forced drop: the page reconnects and resumes, maybe
                    # before this socket's disconnect is through.
                    runs.let_go(run, "websocket", self)
                    await self.close(code=CLOSE_DROPPED, reason="dropped")
                    return
                if batch == END:
                    await self.send_json({"type": "end", "total": run.total, "ts": now_ms()})
                    await self.close(code=1000, reason="end")
                    return
                for event in batch:
                    if event.binary:
                        await self.send(bytes_data=event.payload)
                    else:
                        await self.send(text_data=event.payload)
        except Exception:
            logger.exception("workload: the WebSocket writer failed")
            with contextlib.suppress(Exception):
                await self.close(code=CLOSE_INTERNAL, reason="server error")


def up_ack(message: dict[str, Any], *, wire_bytes: int) -> dict[str, Any]:
    """The answer to an up message, on either path: its seq and time back, and its cost."""
    seq, sent = message.get("seq"), message.get("t")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**53:
        raise MessageError("invalid_up", '"seq" must be a whole number >= 0.')
    if isinstance(sent, bool) or not isinstance(sent, int | float) or not math.isfinite(sent):
        raise MessageError("invalid_up", '"t" must be a number (the send time, in ms).')
    data = message.get("data", "")
    if not isinstance(data, str) or len(data) > UP_DATA_CHARS:
        raise MessageError(
            "invalid_up", f'"data" must be a string of at most {UP_DATA_CHARS} characters.'
        )
    return {"type": "up_ack", "seq": seq, "t": sent, "wire_bytes": wire_bytes, "ts": now_ms()}
