"""Writing feed events straight to a client's socket, under daphne or uvicorn.

The one place that reads a server's private objects for the live feed. What
the rest of the app sees is `Connection(send)`: how many bytes wait unread
(`pending`), `abort()`, and `event_sink()`, a function that writes an event
framed once per event straight to the socket, or None where that cannot be
done safely (then every event takes the plain ASGI path).

It works only with the server versions it was tested with (`TESTED`, pinned
in requirements.txt): `check_versions()` runs at start-up, and on any
mismatch, or with DEMO_DIRECT_WRITES=0, `event_sink()` always answers None.
`pending` and `abort()` keep working: they only read a buffer's size or drop
a connection, through the same objects.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from live_demo.events import Event
    from live_demo.feed import Subscriber

logger = logging.getLogger(__name__)

# The versions whose private objects serving/ reads, as tested; any other
# installed version turns the direct path and daphne's patches off.
TESTED = {
    "daphne": "4.2.3",
    "twisted": "26.10.0",
    "autobahn": "26.10.2",
    "uvicorn": "0.54.0",
    "websockets": "17.4",
    "httptools": "0.9.0",
}


class _State:
    enabled = True
    reason = ""


def untested_versions(*packages: str) -> list[str]:
    """The installed server packages (of ``packages``, or all) not at the version tested.

    In words, for the log. A package that is not installed is no mismatch
    (that server is simply not in use).
    """
    installed = _installed_versions()
    return [
        f"{package} {installed[package]} (tested: {tested})"
        for package, tested in TESTED.items()
        if (not packages or package in packages) and installed.get(package, tested) != tested
    ]


@functools.cache
def _installed_versions() -> dict[str, str]:
    """Read once: what is installed does not change while the process runs."""
    versions = {}
    for package in TESTED:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions


def check_versions(enabled: bool = True) -> bool:
    """Turn direct writes on only if `enabled` and every installed server package is as tested.

    Logs one warning on a mismatch (daphne's patches, serving.daphne_limits,
    stay off then too); returns whether direct writes are on.
    """
    mismatched = untested_versions()
    if mismatched:
        _State.enabled = False
        _State.reason = "untested versions: " + ", ".join(mismatched)
        logger.warning(
            "serving: direct socket writes are off (and daphne's patches, if daphne, Twisted "
            "or autobahn differ): the plain ASGI path applies; %s",
            _State.reason,
        )
    elif not enabled:
        _State.enabled, _State.reason = False, "turned off (DEMO_DIRECT_WRITES=0)"
    else:
        _State.enabled, _State.reason = True, ""
    return _State.enabled


def direct_writes_enabled() -> bool:
    return _State.enabled


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

    @property
    def tls(self) -> bool | None:
        """Whether the connection is encrypted; None where the server's objects are not found.

        daphne leaves `scheme` out of a WebSocket's scope even over TLS, where
        ASGI then means "ws": this is how the origin check learns it is "wss".
        """
        if self.twisted:
            from twisted.internet.interfaces import ISSLTransport

            # As Twisted's own HTTPChannel.isSecure, which daphne's HTTP side uses.
            return ISSLTransport(self.transport, None) is not None
        if self.asyncio:
            return self.transport.get_extra_info("sslcontext") is not None
        return None

    def abort(self) -> bool:
        """Drop the connection now, with whatever it holds unsent; False if it cannot."""
        if self.twisted and hasattr(self.transport, "abortConnection"):
            self.transport.abortConnection()
            return True
        if self.asyncio:
            self.transport.abort()
            return True
        return False

    def event_sink(
        self, subscriber: Subscriber, max_pending: int
    ) -> Callable[[Event], bool] | None:
        """A `Subscriber.sink` writing events straight to this connection, if it can.

        It closes the subscriber as slow once more than `max_pending` bytes
        wait unread, and declines (False) once the connection is closing.
        """
        encode = self._event_encoder() if _State.enabled else None
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
            # A transport that holds the socket itself. A TLS connection's
            # transport (TLSMemoryBIOProtocol) forwards unknown attributes to
            # the TCP transport beneath it, `socket` and `TLS = False`
            # included: asking it with getattr would write plaintext into a
            # TLS stream (the contract tests under real TLS caught this).
            if getattr(transport, "TLS", True) or "socket" not in vars(transport):
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
