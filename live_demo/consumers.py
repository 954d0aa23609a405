"""The demo's WebSocket endpoint, /ws/demo/: the feed down, chat, pings and binary up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from .events import Event, now_ms, to_json
from .feed import Closed, Feed, Subscriber, get_feed
from .limits import RateLimiter, pending_bytes
from .protocol import (
    CLOSE_CODES,
    CLOSE_TOO_BIG,
    MessageError,
    binary_receipt,
    chat_payload,
    nonce_of,
    resume_id,
    websocket_frame_bytes,
)

logger = logging.getLogger(__name__)


class DemoConsumer(AsyncWebsocketConsumer):
    feed: Feed
    subscriber: Subscriber | None = None
    writer: asyncio.Task | None = None

    async def connect(self) -> None:
        self.options = settings.LIVE_DEMO
        try:
            self.feed = await get_feed()
        except Exception:
            logger.exception("live demo: the feed could not start")
            await self.close()  # before accepting: the handshake is refused (HTTP 403)
            return
        self.limiter = RateLimiter(self.options["MAX_MESSAGES_PER_SECOND"])
        # Set by the first message: a resume, or anything else (go live).
        self.first_message: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        await self.accept()
        self.subscriber = self.feed.subscribe("websocket")
        await self.send_json(welcome(self.feed, self.subscriber))
        self.writer = self.feed.track(asyncio.create_task(self._write()))

    async def disconnect(self, code: int) -> None:
        if self.writer is not None and self.writer is not asyncio.current_task():
            self.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.writer
        if self.subscriber is not None:
            self.feed.unsubscribe(self.subscriber)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        if not self.limiter.allow():
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
            message = json.loads(text_data)
            if not isinstance(message, dict):
                raise MessageError("invalid_message", "A message must be a JSON object.")
            await self._dispatch(message)
        except json.JSONDecodeError:
            self._went_live()
            await self.send_error(MessageError("invalid_json", "That message is not JSON."))
        except MessageError as error:
            self._went_live()
            await self.send_error(error)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "resume":
            last_id = resume_id(message)
            if not self.first_message.done():
                self.first_message.set_result(last_id)
            else:
                for event in await self.feed.late_resume(self.subscriber, last_id):
                    await self.send(text_data=event.json)
            return
        self._went_live()
        if kind == "ping":
            await self.send_json({**_echo(message), "type": "pong", "ts": now_ms()})
        elif kind == "chat":
            payload = chat_payload(
                message,
                sender=self.subscriber.id,
                via="websocket",
                max_chars=self.options["MAX_CHAT_CHARS"],
            )
            await self.feed.publish("chat", payload)
        else:
            known = "chat, ping, resume"
            raise MessageError(
                "unknown_type", f"Unknown message type {kind!r}; the types are {known}."
            )

    async def _receive_binary(self, data: bytes) -> None:
        if len(data) > self.options["MAX_BINARY_BYTES"]:
            await self.close(code=CLOSE_TOO_BIG, reason="binary message over the limit")
            return
        self._went_live()
        wire = websocket_frame_bytes(len(data), masked=True)
        await self.send_json(binary_receipt(data, wire_bytes=wire))

    def _went_live(self) -> None:
        if not self.first_message.done():
            self.first_message.set_result(None)

    async def _write(self) -> None:
        """The feed to this client: replay if it asked to resume, then live."""
        try:
            try:
                last_id = await asyncio.wait_for(
                    asyncio.shield(self.first_message), self.options["RESUME_WINDOW"]
                )
            except TimeoutError:
                last_id = None
            for item in await self.feed.start_from(self.subscriber, last_id):
                await self._send_item(item)
            limit = self.options["MAX_BACKLOG_BYTES"]
            while True:
                for event in await self.subscriber.next_batch():
                    await self.send(text_data=event.json)
                backlog = pending_bytes(self.base_send)
                if backlog is not None and backlog > limit:
                    self.subscriber.close("slow")
        except Closed as closed:
            await self.close(code=CLOSE_CODES[closed.reason], reason=closed.reason)

    async def _send_item(self, item: Event | dict[str, Any]) -> None:
        if isinstance(item, Event):
            await self.send(text_data=item.json)
        else:
            await self.send_json(item)

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=to_json(content))

    async def send_error(self, error: MessageError) -> None:
        await self.send_json(error.as_dict())


def welcome(feed: Feed, subscriber: Subscriber) -> dict[str, Any]:
    """The first message on either transport: who you are, and the limits."""
    options = feed.options
    return {
        "type": "welcome",
        "connection": subscriber.id,
        "transport": subscriber.transport,
        "last_id": feed.last_id,
        "ts": now_ms(),
        "server": {"process": os.getpid(), "backend": feed.backend},
        "limits": {
            "max_text_bytes": options["MAX_TEXT_BYTES"],
            "max_binary_bytes": options["MAX_BINARY_BYTES"],
            "max_messages_per_second": options["MAX_MESSAGES_PER_SECOND"],
            "max_chat_chars": options["MAX_CHAT_CHARS"],
            "history": options["HISTORY"],
        },
    }


def _echo(message: dict[str, Any]) -> dict[str, Any]:
    """A ping's own fields, returned with the pong (say, the client's send time)."""
    nonce_of(message)  # refuses an oversized nonce
    return {key: value for key, value in message.items() if key not in {"type", "ts"}}
