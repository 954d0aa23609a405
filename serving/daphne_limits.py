"""daphne's WebSocket layer (autobahn), made to send the close codes we need and to stop floods.

daphne lets an application close a WebSocket only with 1000 or 3000-4999,
gives autobahn one size limit for every message, and queues every frame for
the application without bound. Three things need more: the text-message
limit closes with 1009 (message too big), the network check's probe closes
with 1003 (binary refused) and 1009 itself, and a flood is cut off before its
frames are queued. All reach daphne's protocol object, so all live here.
Under another server, or with daphne, Twisted or autobahn at a version other
than the one tested (serving.direct_write.TESTED), each function does nothing
and the caller's public path applies (the consumers' own checks and closes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .direct_write import Connection, untested_versions

# What the patches here read: another uvicorn or websockets leaves them be.
DAPHNE = ("daphne", "twisted", "autobahn")


def send_close_frame(send: Any, code: int, reason: str) -> bool:
    """Close the WebSocket beneath `send` with `code`, which daphne would refuse from ASGI.

    True when daphne's protocol object sent the close frame; False under
    another server, where the caller closes through ASGI (`close(code=...)`).
    """
    protocol = Connection(send).protocol
    if not hasattr(protocol, "sendCloseFrame") or untested_versions(*DAPHNE):
        return False
    protocol.sendCloseFrame(code=code, reasonUtf8=reason.encode()[:123])
    return True


def limit_daphne_text_messages(text_limit: int, binary_limit: int) -> None:
    """Make daphne's WebSocket layer refuse big messages itself, with close code 1009.

    daphne gives autobahn one size limit for every message (1 MiB, the binary
    limit); autobahn checks it frame by frame, before buffering, and closes
    with 1009 (message too big), a code a consumer cannot send (daphne only
    forwards 1000 and 3000-4999). This adds the text limit at the same place.
    `maxMessagePayloadSize` itself stays as it is: autobahn also checks
    outgoing messages against it.
    """
    if untested_versions(*DAPHNE):
        return
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


def limit_daphne_message_rate(new_limiter: Callable[[], Any], code: int, reason: str) -> None:
    """Make daphne drop a WebSocket's frames over a rate, and close a flood, itself.

    Measured: a client sending pings as fast as it could kept daphne in
    autobahn's frame loop; each frame went into the application's queue
    (unbounded), and Channels needs a few event-loop turns per message, each
    turn behind another socket read's worth of frames. The consumer saw a few
    messages a second, so its own limiter could neither drop the excess in
    time nor see the flood; the queue and the process's memory grew while
    other requests waited seconds. Here each frame costs one `allow()` before
    daphne decodes or queues it.

    `new_limiter()` gives each connection its limiter (at its first message):
    a frame is passed on if `allow()`, dropped otherwise; once `flooding`,
    the connection is closed with `code` and `reason` and nothing more is
    passed on (the application still gets its disconnect).
    """
    if untested_versions(*DAPHNE):
        return
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # another server: the consumer's own limiter applies
        return
    original = getattr(WebSocketProtocol, "_advisor_original_on_message", None)
    if original is None:
        original = WebSocketProtocol.onMessage
        WebSocketProtocol._advisor_original_on_message = original

    def on_message(self, payload: bytes, is_binary: bool) -> None:
        limiter = getattr(self, "_advisor_limiter", None)
        if limiter is None:
            limiter = self._advisor_limiter = new_limiter()
        elif limiter.flooding:
            return  # closing: frames still arriving are dropped
        allowed = limiter.allow()
        if limiter.flooding:
            self.sendClose(code=code, reason=reason)
        elif allowed:
            original(self, payload, is_binary)

    WebSocketProtocol.onMessage = on_message
