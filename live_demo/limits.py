"""Limits on what one client may send or leave unread."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .events import Event
    from .feed import Subscriber


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


class Connection:
    """The TCP connection beneath an ASGI `send`, where the server lets us see it.

    An ASGI `send` under daphne returns at once: Twisted buffers whatever the
    client does not read, without bound. Reading that buffer lets a client
    that stops reading be cut off, and aborting the transport frees what it
    holds at once (a polite close would wait for the client to read it all).
    This follows the wrappers between a consumer and the server (Channels'
    session middleware keeps the real send as `real_send`) to daphne's
    protocol object and Twisted transport, or to uvicorn's protocol object
    and asyncio transport. Under another server it finds nothing: `pending`
    is None, and the per-subscriber event bound does the job.

    It can also write a feed event straight to the connection (`event_sink`),
    as bytes framed once per event. Under daphne the ASGI path costs a message
    dict, daphne's reply handler, autobahn's framing or Twisted's chunking,
    and Twisted's write-when-writable dance (two epoll changes and a loop turn
    per write), where a direct `send()` costs one system call; under uvicorn
    it saves the framing and a task switch per event.
    """

    def __init__(self, send: Callable[..., Any]) -> None:
        self.protocol, self.transport = _server_parts(send)
        self.twisted = hasattr(self.transport, "dataBuffer")
        self.asyncio = hasattr(self.transport, "get_write_buffer_size")

    @property
    def pending(self) -> int | None:
        transport = self.transport
        if self.twisted:
            return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
        if self.asyncio:
            return transport.get_write_buffer_size()
        return None

    def abort(self) -> None:
        if self.twisted and hasattr(self.transport, "abortConnection"):
            self.transport.abortConnection()
        elif self.asyncio:
            self.transport.abort()

    def event_sink(
        self, subscriber: Subscriber, max_pending: int
    ) -> Callable[[Event], bool] | None:
        """A `Subscriber.sink` writing events straight to this connection, if it can.

        It closes the subscriber as slow once more than `max_pending` bytes
        wait unread, and declines (False) once the connection is closing.
        """
        encode = self._event_encoder()
        if encode is None:
            return None

        def sink(event: Event) -> bool:
            if not self.writable():
                return False
            self.write(encode(event))
            if self.pending > max_pending:
                subscriber.close("slow")
            return True

        return sink

    def _event_encoder(self) -> Callable[[Event], bytes] | None:
        """How events go on this connection's wire, if it can be written to directly.

        Only an open WebSocket without compression or a chunked HTTP/1.1
        response body; under daphne only a plain TCP connection, since bytes
        written to its socket must be the bytes on the wire (no TLS).
        """
        transport, protocol = self.transport, self.protocol
        if self.twisted:
            if getattr(transport, "TLS", True) or not hasattr(transport, "socket"):
                return None
            if hasattr(protocol, "sendMessage"):  # autobahn's WebSocket protocol
                if getattr(protocol, "_perMessageCompress", True) is not None:
                    return None
                return _websocket_frame
            if getattr(protocol, "chunked", False):  # Twisted's HTTP request
                return _sse_chunk
        elif self.asyncio:
            if hasattr(protocol, "write_frame_sync"):  # uvicorn's `websockets` protocol
                return None if protocol.extensions else _websocket_frame
            if getattr(protocol, "chunked_encoding", False):  # uvicorn's HTTP cycle
                return _sse_chunk
        return None

    def writable(self) -> bool:
        transport, protocol = self.transport, self.protocol
        if self.asyncio:
            if transport.is_closing():
                return False
        elif not transport.connected or transport.disconnecting:
            return False
        if hasattr(protocol, "sendMessage"):
            return protocol.state == protocol.STATE_OPEN
        if hasattr(protocol, "write_frame_sync"):
            return protocol.state.name == "OPEN"
        if hasattr(protocol, "chunked_encoding"):
            return not protocol.response_complete and not protocol.disconnected
        return not protocol.finished and not protocol._disconnected

    def write(self, data: bytes) -> None:
        """Send now if nothing is queued before it; otherwise queue it behind the rest."""
        transport = self.transport
        if self.asyncio:
            # An asyncio transport already sends at once when it can.
            transport.write(data)
            return
        sent = 0
        if not self.pending:
            try:
                sent = transport.socket.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                # Gone: Twisted notices on its next read and closes the
                # connection; the bytes are lost with it.
                return
        if sent < len(data):
            transport.write(data[sent:] if sent else data)


def _websocket_frame(event: Event) -> bytes:
    return event.websocket_frame


def _sse_chunk(event: Event) -> bytes:
    return event.sse_chunk


def _server_parts(send: Callable[..., Any]) -> tuple[Any, Any]:
    """The server's protocol object for this connection and its transport, if found."""
    for _ in range(8):
        if isinstance(send, functools.partial):  # daphne: partial(handle_reply, protocol)
            protocol = send.args[0] if send.args else None
            channel = getattr(protocol, "channel", None)  # an HTTP request: its connection
            return protocol, getattr(channel or protocol, "transport", None)
        owner = getattr(send, "__self__", None)
        if hasattr(getattr(owner, "transport", None), "get_write_buffer_size"):
            return owner, owner.transport  # uvicorn: a method of its protocol or cycle
        send = getattr(owner, "real_send", None)
        if send is None:
            return None, None
    return None, None


def limit_daphne_text_messages(text_limit: int, binary_limit: int) -> None:
    """Make daphne's WebSocket layer refuse big messages itself, with close code 1009.

    daphne gives autobahn one size limit for every message (1 MiB, the binary
    limit); autobahn checks it frame by frame, before buffering, and closes
    with 1009 (message too big), a code a consumer cannot send (daphne only
    forwards 1000 and 3000-4999). This adds the text limit at the same place.
    `maxMessagePayloadSize` itself stays as it is: autobahn also checks
    outgoing messages against it.
    """
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # another server: the consumer's own checks apply
        return
    original = getattr(WebSocketProtocol, "_advisor_original_frame_begin", None)
    if original is None:
        original = WebSocketProtocol.onMessageFrameBegin
        WebSocketProtocol._advisor_original_frame_begin = original

    def on_message_frame_begin(self, length: int) -> None:
        original(self, length)
        limit = binary_limit if self.message_is_binary else text_limit
        if not self.failedByMe and self.message_data_total_length > limit:
            self.wasMaxMessagePayloadSizeExceeded = True
            kind = "binary" if self.message_is_binary else "text"
            self._max_message_size_exceeded(
                self.message_data_total_length,
                limit,
                f"{kind} message of {self.message_data_total_length} bytes; the limit is {limit}",
            )

    def max_message_size_exceeded(self, msg_size: int, max_msg_size: int, reason: str) -> None:
        # autobahn fails a connection by dropping TCP (failByDrop, daphne's
        # default): the client would see 1006. A close frame tells it 1009.
        self.failByDrop = False
        super(WebSocketProtocol, self)._max_message_size_exceeded(msg_size, max_msg_size, reason)

    WebSocketProtocol.onMessageFrameBegin = on_message_frame_begin
    WebSocketProtocol._max_message_size_exceeded = max_message_size_exceeded
    WebSocketProtocol._advisor_limits = (text_limit, binary_limit)
