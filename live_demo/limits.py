"""Limits on what one client may send or leave unread."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any


class RateLimiter:
    """A token bucket: `rate` messages a second, bursts of up to `rate`."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.tokens = rate
        self.clock = clock
        self.updated = clock()
        self.dropped = 0
        self._warned_at: float | None = None

    def allow(self) -> bool:
        now = self.clock()
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.dropped += 1
        return False

    def should_warn(self) -> bool:
        """At most one warning a second, so the warnings do not become the flood."""
        now = self.clock()
        if self._warned_at is None or now - self._warned_at >= 1:
            self._warned_at = now
            return True
        return False


def pending_bytes(send: Callable[..., Any]) -> int | None:
    """Bytes written to this connection but not yet taken by the client's TCP stack.

    An ASGI `send` under daphne returns at once: Twisted buffers whatever the
    client does not read, without bound. This reads that buffer so a client
    that stops reading can be cut off. It follows the wrappers between a
    consumer and daphne (Channels' session middleware keeps the real send as
    `real_send`); under another server it returns None, and the per-subscriber
    event bound does the job (servers with flow control make `send` wait).
    """
    for _ in range(8):
        if isinstance(send, functools.partial):
            protocol = send.args[0] if send.args else None
            return _twisted_buffered(protocol)
        owner = getattr(send, "__self__", None)
        send = getattr(owner, "real_send", None)
        if send is None:
            return None
    return None


def _twisted_buffered(protocol: Any) -> int | None:
    channel = getattr(protocol, "channel", None)  # an HTTP request: its connection
    transport = getattr(channel or protocol, "transport", None)
    if transport is None or not hasattr(transport, "dataBuffer"):
        return None
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


def limit_daphne_text_messages(text_limit: int, binary_limit: int) -> None:
    """Make daphne's WebSocket layer refuse big messages itself, with close code 1009.

    daphne passes one size limit for every message to autobahn; autobahn checks
    it frame by frame before buffering, and closes with 1009 (message too
    big), a code a consumer cannot send (daphne only forwards 1000 and
    3000-4999). Narrowing the limit when a text message begins gives text and
    binary messages their own limits at that level.
    """
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # another server: the consumer's own checks apply
        return
    if getattr(WebSocketProtocol, "_advisor_limits", None) == (text_limit, binary_limit):
        return
    original = getattr(WebSocketProtocol, "_advisor_original_begin", None)
    if original is None:
        original = WebSocketProtocol.onMessageBegin
        WebSocketProtocol._advisor_original_begin = original

    def on_message_begin(self, isBinary: bool) -> None:
        self.maxMessagePayloadSize = binary_limit if isBinary else text_limit
        original(self, isBinary)

    WebSocketProtocol.onMessageBegin = on_message_begin
    WebSocketProtocol._advisor_limits = (text_limit, binary_limit)
