"""What every WebSocket consumer of the site shares: its error frame and its clean-up."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer

from .wire import now_ms, to_json


class MessageError(ValueError):
    """A client message we refuse: `code` for programs, `message` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, Any]:
        """The error frame every socket of the site sends: one shape for all."""
        return {"type": "error", "code": self.code, "message": self.message, "ts": now_ms()}


class StandaloneConsumer(AsyncWebsocketConsumer):
    """A consumer that needs neither the channel layer nor the database."""

    # The demo feed is fanned out by live_demo.feed, not by the channel layer:
    # an alias that names no layer keeps these consumers off it, so a
    # channel-layer (Redis) hiccup cannot close their sockets.
    channel_layer_alias = "consumer-uses-no-channel-layer"

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every handler, a
        # round trip to a worker thread per message received (connect, each
        # ping, disconnect): a profile of a reconnect storm found a fifth of
        # the event loop's time there. These consumers hold no connection.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def __call__(self, scope, receive, send) -> None:
        # disconnect() is not called when a handler raises: clean up here too,
        # so that nothing this connection started outlives its socket.
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.release()

    async def disconnect(self, code: int) -> None:
        await self.release()

    async def release(self) -> None:
        """Stop what this connection started; may be called more than once."""

    @staticmethod
    async def stop(task: asyncio.Task | None) -> None:
        """Cancel one of this connection's tasks and wait for it, unless it is the caller."""
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=to_json(content))

    async def send_error(self, error: MessageError) -> None:
        """`{"type": "error", "code", "message", "ts"}`: the socket stays open."""
        await self.send_json(error.as_dict())
