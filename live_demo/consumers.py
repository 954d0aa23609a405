"""The demo's WebSocket endpoint, /ws/demo/: the feed down, chat, pings and binary up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from django.conf import settings

from advisor.consumers import MessageError, StandaloneConsumer
from advisor.limits import RateLimiter
from serving.direct_write import Connection

from . import caps
from .events import Event
from .feed import Closed, Feed, Subscriber, get_feed
from .protocol import (
    CLOSE_CODES,
    CLOSE_INTERNAL,
    CLOSE_TOO_BIG,
    CLOSE_TOO_FAST,
    CLOSE_TOO_MANY,
    binary_receipt,
    chat_payload,
    pong,
    publish_chat,
    resume_id,
    websocket_frame_bytes,
    welcome,
)

logger = logging.getLogger(__name__)


class DemoConsumer(StandaloneConsumer):
    feed: Feed
    subscriber: Subscriber | None = None
    writer: asyncio.Task | None = None
    # A resume that came after the connection went live: the writer restarts
    # the stream after this id.
    rewind_to: int | None = None
    # Set once the consumer closes a flooding client: frames still in flight
    # (daphne queues them for us) are ignored at no cost.
    closing = False
    # This connection's place under the per-client cap (live_demo/caps.py).
    slot = None

    async def connect(self) -> None:
        self.options = settings.LIVE_DEMO
        try:
            self.feed = await get_feed()
        except Exception:
            logger.exception("live demo: the feed could not start")
            await self.close()  # before accepting: the handshake is refused (HTTP 403)
            return
        self.slot = caps.acquire(self.scope)
        if self.slot is None:
            # Accepted, then closed: a refused handshake shows a browser only
            # 1006, where a close code says why.
            self.closing = True
            await self.accept()
            await self.close(code=CLOSE_TOO_MANY, reason="too many connections")
            return
        self.limiter = RateLimiter(
            self.options["MAX_MESSAGES_PER_SECOND"],
            flood_factor=self.options["FLOOD_FACTOR"],
            flood_seconds=self.options["FLOOD_SECONDS"],
        )
        # Resolved by the first message (a resume, or anything else: go live)
        # or by the end of the resume window, whichever comes first.
        self.first_message: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        await self.accept()
        self.subscriber = self.feed.subscribe("websocket")
        await self.send_json(welcome(self.feed, self.subscriber))
        self.writer = self.feed.track(asyncio.create_task(self._write()))

    async def release(self) -> None:
        writer, self.writer = self.writer, None
        await self.stop(writer)
        if self.subscriber is not None:
            self.feed.unsubscribe(self.subscriber)
        if self.slot is not None:
            self.slot.release()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        # The limit comes first: a frame over it costs a clock read and
        # nothing else (no size check, no JSON, no answer but a warning a
        # second), or a flood would stall the process that drops it.
        if self.closing:
            return
        allowed = self.limiter.allow()
        if self.limiter.flooding:
            self.closing = True
            await self.close(code=CLOSE_TOO_FAST, reason="too many messages")
            return
        if not allowed:
            if self.limiter.should_warn():
                limit = self.options["MAX_MESSAGES_PER_SECOND"]
                await self.send_error(
                    MessageError(
                        "rate_limited",
                        f"More than {limit} messages a second: the excess was dropped "
                        f"({self.limiter.dropped} so far).",
                    )
                )
            return
        if bytes_data is not None:
            await self._receive_binary(bytes_data)
            return
        if len(text_data.encode()) > self.options["MAX_TEXT_BYTES"]:
            # daphne closes with 1009 before the message gets here; other
            # servers and the test communicator land here.
            await self.close(code=CLOSE_TOO_BIG, reason="text message over the limit")
            return
        try:
            try:
                message = json.loads(text_data)
            except (ValueError, RecursionError):
                # Not JSON, or JSON Python will not hold (a 5,000-digit
                # number, brackets nested thousands deep).
                raise MessageError("invalid_json", "That message is not JSON.") from None
            if not isinstance(message, dict):
                raise MessageError("invalid_message", "A message must be a JSON object.")
            await self._dispatch(message)
        except MessageError as error:
            self._go_live()
            await self.send_error(error)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "resume":
            last_id = resume_id(message)
            if not self.first_message.done():
                self.first_message.set_result(last_id)
            else:
                # Later on, "I have everything up to last_id" restarts the
                # stream there: in order, whatever this connection was sent.
                self.rewind_to = last_id
                self.subscriber.sink = None
                self.subscriber.wake()
            return
        self._go_live()
        if kind == "ping":
            await self.send_json(pong(message))
        elif kind == "chat":
            payload = chat_payload(
                message,
                sender=self.subscriber.public_id,
                via="websocket",
                max_chars=self.options["MAX_CHAT_CHARS"],
            )
            await publish_chat(self.feed, payload)
        else:
            known = "chat, ping, resume"
            raise MessageError(
                "unknown_type", f"Unknown message type {kind!r:.40}; the types are {known}."
            )

    async def _receive_binary(self, data: bytes) -> None:
        if len(data) > self.options["MAX_BINARY_BYTES"]:
            await self.close(code=CLOSE_TOO_BIG, reason="binary message over the limit")
            return
        self._go_live()
        wire = websocket_frame_bytes(len(data), masked=True)
        await self.send_json(binary_receipt(data, wire_bytes=wire))

    def _go_live(self) -> None:
        if not self.first_message.done():
            self.first_message.set_result(None)

    async def _write(self) -> None:
        """The feed to this client: replay if it asked to resume, then live."""
        connection = Connection(self.base_send)
        try:
            try:
                last_id = await asyncio.wait_for(
                    asyncio.shield(self.first_message), self.options["RESUME_WINDOW"]
                )
            except TimeoutError:
                self._go_live()
                last_id = None
            await self._replay(last_id)
            limit = self.options["MAX_BACKLOG_BYTES"]
            sink = connection.event_sink(self.subscriber, limit)
            while True:
                if not self.subscriber.backlog and self.rewind_to is None:
                    # Caught up: the feed writes the next events itself.
                    self.subscriber.sink = sink
                batch = await self.subscriber.next_batch()
                if self.rewind_to is not None:
                    # The batch is in the history too: the replay covers it.
                    last_id, self.rewind_to = self.rewind_to, None
                    await self._replay(last_id)
                    continue
                for event in batch:
                    await self.send(text_data=event.json)
                backlog = connection.pending
                if backlog is not None and backlog > limit:
                    self.subscriber.close("slow")
        except Closed as closed:
            # A slow client is not reading: a close frame would wait behind its
            # backlog (under uvicorn the close itself waits for the client).
            # Dropping the connection frees the backlog at once.
            if closed.reason == "slow" and connection.abort():
                return
            await self.close(code=CLOSE_CODES[closed.reason], reason=closed.reason)
        except OSError:
            # The client is gone (uvicorn says so when sending to it); the
            # server reports the disconnect, and disconnect() cleans up.
            return
        except Exception:
            if connection.transport is not None and not connection.writable():
                # The server is closing the socket itself (a flood, a message
                # over the limit): sends fail until the disconnect comes.
                return
            # Without its writer the socket would stay open and silent.
            logger.exception("live demo: the WebSocket writer failed")
            with contextlib.suppress(Exception):
                await self.close(code=CLOSE_INTERNAL, reason="server error")

    async def _replay(self, last_id: int | None) -> None:
        for item in await self.feed.start_from(self.subscriber, last_id):
            if isinstance(item, Event):
                await self.send(text_data=item.json)
            else:
                await self.send_json(item)
