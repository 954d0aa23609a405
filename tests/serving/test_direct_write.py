"""serving/direct_write.py: events written straight to the server's connection.

Framed once per event, written to daphne's (Twisted) or uvicorn's (asyncio)
transport when nothing is queued ahead of them; otherwise left to the writer.
"""

from __future__ import annotations

import enum
import functools
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from live_demo.events import Event, http_chunk
from live_demo.feed import Feed
from serving.direct_write import TESTED, Connection, check_versions, direct_writes_enabled
from tests.frames import parse_frame

OPEN, CLOSING = 3, 4


def daphne_send(protocol: Any, message: dict[str, Any]) -> None:
    """How daphne hands a send to the application: partial(handle_reply, protocol)."""


# Buffered bytes and abort, on a stand-in transport ------------------------------------------


class BufferTransport:
    """A stand-in for Twisted's TCP transport: its write buffer, and abortConnection()."""

    def __init__(self, buffered: int = 0, offset: int = 0, temp: int = 0) -> None:
        self.dataBuffer = b"x" * buffered
        self.offset = offset
        self._tempDataLen = temp
        self.aborted = 0

    def abortConnection(self) -> None:
        self.aborted += 1


class Protocol:
    def __init__(self, transport: Any) -> None:
        self.transport = transport


def test_connection_pending_plain_coroutine_function_none():
    async def send(message: dict[str, Any]) -> None:
        pass

    assert Connection(send).pending is None


def test_connection_pending_reads_twisted_buffer():
    send = functools.partial(daphne_send, Protocol(BufferTransport(100, offset=30, temp=5)))
    assert Connection(send).pending == 75


def test_connection_pending_follows_real_send():
    class Wrapper:
        real_send = functools.partial(daphne_send, Protocol(BufferTransport(10)))

        async def send(self, message: dict[str, Any]) -> None:
            pass

    assert Connection(Wrapper().send).pending == 10


def test_connection_pending_http_request_reads_its_channel():
    class Request:
        channel = Protocol(BufferTransport(40, offset=10))

    assert Connection(functools.partial(daphne_send, Request())).pending == 30


def test_connection_pending_follows_buffer_growth():
    transport = BufferTransport(10)
    connection = Connection(functools.partial(daphne_send, Protocol(transport)))
    transport.dataBuffer += b"y" * 20
    assert connection.pending == 30


def test_connection_pending_no_transport_none():
    assert Connection(functools.partial(daphne_send, object())).pending is None


def test_connection_pending_transport_without_buffer_none():
    assert Connection(functools.partial(daphne_send, Protocol(object()))).pending is None


def test_connection_abort_aborts_transport():
    transport = BufferTransport()
    Connection(functools.partial(daphne_send, Protocol(transport))).abort()
    assert transport.aborted == 1


def test_connection_abort_follows_real_send():
    transport = BufferTransport()

    class Wrapper:
        real_send = functools.partial(daphne_send, Protocol(transport))

        async def send(self, message: dict[str, Any]) -> None:
            pass

    Connection(Wrapper().send).abort()
    assert transport.aborted == 1


def test_connection_abort_no_transport_no_error():
    async def send(message: dict[str, Any]) -> None:
        pass

    connection = Connection(send)
    assert connection.transport is None
    connection.abort()


def test_connection_abort_none_transport_no_error():
    connection = Connection(functools.partial(daphne_send, Protocol(None)))
    assert connection.transport is None
    connection.abort()


def test_connection_abort_transport_without_abort_no_error():
    Connection(functools.partial(daphne_send, Protocol(object()))).abort()


# A Twisted connection, with a real socket underneath -------------------------------------------


class Transport:
    """What Connection reads of Twisted's TCP transport, over one end of a socket pair."""

    TLS = False

    def __init__(self, sock: socket.socket) -> None:
        self.socket = sock
        self.dataBuffer = b""
        self.offset = 0
        self._tempDataLen = 0
        self.queued: list[bytes] = []
        self.connected = True
        self.disconnecting = False
        self.aborted = 0

    def write(self, data: bytes) -> None:
        # Twisted queues and sends when the socket is writable; keep it queued.
        self.queued.append(data)
        self._tempDataLen += len(data)

    def abortConnection(self) -> None:
        self.aborted += 1


class WebSocketProtocol:
    """autobahn's protocol as Connection sees it: state, compression, sendMessage."""

    STATE_OPEN = OPEN

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.state = OPEN
        self._perMessageCompress = None

    def sendMessage(self, payload: bytes, binary: bool = False) -> None:
        raise AssertionError("the direct path does not go through autobahn")


class Request:
    """Twisted's HTTP request as Connection sees it: its channel, chunking, state."""

    def __init__(self, transport: Transport) -> None:
        self.channel = type("Channel", (), {"transport": transport})()
        self.chunked = 1
        self.finished = 0
        self._disconnected = False


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    server.setblocking(False)
    client.settimeout(5)
    yield server, client
    server.close()
    client.close()


@pytest.fixture
def subscriber(settings):
    feed = Feed({**settings.LIVE_DEMO, "REDIS_URL": ""})
    return feed.subscribe("websocket")


def receive(client: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += client.recv(size - len(data))
    return data


def event(number: int) -> Event:
    return Event(id=number, type="tick", ts=1.0, payload={"n": number})


def test_sink_websocket_writes_frame_to_socket(pair, subscriber):
    server, client = pair
    connection = Connection(functools.partial(daphne_send, WebSocketProtocol(Transport(server))))
    subscriber.sink = connection.event_sink(subscriber, 1024)
    subscriber.push(event(1))
    assert parse_frame(receive(client, len(event(1).websocket_frame))) == (
        1,
        event(1).json.encode(),
    )
    assert subscriber.backlog == 0
    assert subscriber.last_sent == 1


def test_sink_sse_writes_chunk_to_socket(pair, subscriber):
    server, client = pair
    connection = Connection(functools.partial(daphne_send, Request(Transport(server))))
    subscriber.sink = connection.event_sink(subscriber, 1024)
    subscriber.push(event(1))
    assert receive(client, len(event(1).sse_chunk)) == http_chunk(event(1).sse)


def test_sink_queues_behind_bytes_twisted_holds(pair, subscriber):
    server, client = pair
    transport = Transport(server)
    transport.write(b"earlier bytes")
    connection = Connection(functools.partial(daphne_send, WebSocketProtocol(transport)))
    subscriber.sink = connection.event_sink(subscriber, 1024)
    subscriber.push(event(1))
    # Behind what is already queued, in order, rather than ahead of it.
    assert transport.queued == [b"earlier bytes", event(1).websocket_frame]
    client.setblocking(False)
    with pytest.raises(BlockingIOError):
        client.recv(100)


def test_sink_closes_slow_subscriber_over_limit(pair, subscriber):
    server, _ = pair
    transport = Transport(server)
    transport.write(b"x" * 500)
    connection = Connection(functools.partial(daphne_send, WebSocketProtocol(transport)))
    subscriber.sink = connection.event_sink(subscriber, 400)
    subscriber.push(event(1))
    assert subscriber.closed_reason == "slow"
    assert subscriber.sink is None


def test_sink_declines_closing_websocket_event_waits(pair, subscriber):
    server, _ = pair
    protocol = WebSocketProtocol(Transport(server))
    connection = Connection(functools.partial(daphne_send, protocol))
    subscriber.sink = connection.event_sink(subscriber, 1024)
    protocol.state = CLOSING
    subscriber.push(event(1))
    # Left for the writer task, which sees the close.
    assert subscriber.sink is None
    assert subscriber.backlog == 1


def test_sink_declines_finished_response(pair, subscriber):
    server, _ = pair
    request = Request(Transport(server))
    connection = Connection(functools.partial(daphne_send, request))
    subscriber.sink = connection.event_sink(subscriber, 1024)
    request.finished = 1
    subscriber.push(event(1))
    assert subscriber.backlog == 1


def test_sink_not_used_while_events_pending(pair, subscriber):
    server, client = pair
    connection = Connection(functools.partial(daphne_send, WebSocketProtocol(Transport(server))))
    subscriber.push(event(1))
    subscriber.sink = connection.event_sink(subscriber, 1024)
    subscriber.push(event(2))
    # Event 2 must not overtake event 1, which waits for the writer.
    assert subscriber.backlog == 2
    client.setblocking(False)
    with pytest.raises(BlockingIOError):
        client.recv(100)


def test_connection_socket_gone_write_dropped_quietly(pair, subscriber):
    server, client = pair
    transport = Transport(server)
    connection = Connection(functools.partial(daphne_send, WebSocketProtocol(transport)))
    client.close()
    server.shutdown(socket.SHUT_WR)
    connection.write(b"lost")
    assert transport.queued == []


def test_event_sink_tls_none(pair, subscriber):
    server, _ = pair
    transport = Transport(server)
    transport.TLS = True
    connection = Connection(functools.partial(daphne_send, WebSocketProtocol(transport)))
    assert connection.event_sink(subscriber, 1024) is None


def test_event_sink_compressed_websocket_none(pair, subscriber):
    server, _ = pair
    protocol = WebSocketProtocol(Transport(server))
    protocol._perMessageCompress = object()
    assert Connection(functools.partial(daphne_send, protocol)).event_sink(subscriber, 1) is None


def test_event_sink_unchunked_response_none(pair, subscriber):
    server, _ = pair
    request = Request(Transport(server))
    request.chunked = 0
    assert Connection(functools.partial(daphne_send, request)).event_sink(subscriber, 1) is None


def test_event_sink_other_server_none(subscriber):
    async def send(message: dict[str, Any]) -> None:
        pass

    assert Connection(send).event_sink(subscriber, 1024) is None


# Under uvicorn: its protocol objects, and an asyncio transport ---------------------------------


class AsyncioTransport:
    """What Connection reads of an asyncio transport: it writes, buffers and aborts."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.buffered = 0
        self.closing = False
        self.aborted = 0

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.closing

    def abort(self) -> None:
        self.aborted += 1


class State(enum.Enum):
    OPEN = 1
    CLOSING = 2


class UvicornWebSocket:
    """uvicorn's `websockets` protocol: the consumer's send is its asgi_send."""

    def __init__(self, transport: AsyncioTransport) -> None:
        self.transport = transport
        self.state = State.OPEN
        self.extensions: list[Any] = []

    def write_frame_sync(self, fin: bool, opcode: int, data: bytes) -> None:
        raise AssertionError("the direct path frames the event itself")

    async def asgi_send(self, message: dict[str, Any]) -> None:
        pass


class UvicornCycle:
    """uvicorn's HTTP request-response cycle: the app's send is its send."""

    def __init__(self, transport: AsyncioTransport) -> None:
        self.transport = transport
        self.chunked_encoding = True
        self.response_complete = False
        self.disconnected = False

    async def send(self, message: dict[str, Any]) -> None:
        pass


class SessionWrapper:
    """Channels' session middleware between a consumer and the server's send."""

    def __init__(self, real_send: Any) -> None:
        self.real_send = real_send

    async def send(self, message: dict[str, Any]) -> None:
        pass


def test_uvicorn_websocket_sink_writes_frame_to_transport(subscriber):
    transport = AsyncioTransport()
    protocol = UvicornWebSocket(transport)
    connection = Connection(SessionWrapper(protocol.asgi_send).send)
    subscriber.sink = connection.event_sink(subscriber, 1024)
    subscriber.push(event(1))
    assert transport.written == [event(1).websocket_frame]
    assert subscriber.last_sent == 1


def test_uvicorn_sse_sink_writes_chunk_to_transport(subscriber):
    transport = AsyncioTransport()
    connection = Connection(UvicornCycle(transport).send)
    subscriber.sink = connection.event_sink(subscriber, 1024)
    subscriber.push(event(1))
    assert transport.written == [http_chunk(event(1).sse)]


def test_uvicorn_pending_reads_transport_buffer():
    transport = AsyncioTransport()
    transport.buffered = 75
    assert Connection(UvicornCycle(transport).send).pending == 75


def test_uvicorn_slow_client_closed_and_aborted(subscriber):
    transport = AsyncioTransport()
    connection = Connection(UvicornWebSocket(transport).asgi_send)
    subscriber.sink = connection.event_sink(subscriber, 100)
    transport.buffered = 500
    subscriber.push(event(1))
    assert subscriber.closed_reason == "slow"
    connection.abort()
    assert transport.aborted == 1


def test_uvicorn_compressed_websocket_no_sink(subscriber):
    protocol = UvicornWebSocket(AsyncioTransport())
    protocol.extensions = [object()]
    assert Connection(protocol.asgi_send).event_sink(subscriber, 1024) is None


def test_uvicorn_closing_websocket_sink_declines(subscriber):
    protocol = UvicornWebSocket(AsyncioTransport())
    connection = Connection(protocol.asgi_send)
    subscriber.sink = connection.event_sink(subscriber, 1024)
    protocol.state = State.CLOSING
    subscriber.push(event(1))
    assert protocol.transport.written == []
    assert subscriber.backlog == 1


def test_uvicorn_finished_response_sink_declines(subscriber):
    cycle = UvicornCycle(AsyncioTransport())
    connection = Connection(cycle.send)
    subscriber.sink = connection.event_sink(subscriber, 1024)
    cycle.response_complete = True
    subscriber.push(event(1))
    assert cycle.transport.written == []


def test_uvicorn_unchunked_response_no_sink(subscriber):
    cycle = UvicornCycle(AsyncioTransport())
    cycle.chunked_encoding = False
    assert Connection(cycle.send).event_sink(subscriber, 1024) is None


# The version check ------------------------------------------------------------------------


@pytest.fixture
def restore_direct_writes() -> Iterator[None]:
    yield
    check_versions(True)


def test_check_versions_as_tested_direct_writes_on(restore_direct_writes):
    assert check_versions(True) is True
    assert direct_writes_enabled()


def test_check_versions_mismatch_warns_once_direct_writes_off(
    restore_direct_writes, monkeypatch, caplog, pair, subscriber
):
    monkeypatch.setitem(TESTED, "daphne", "0.0.1")
    with caplog.at_level("WARNING", logger="serving.direct_write"):
        assert check_versions(True) is False
    assert len(caplog.records) == 1
    assert "daphne" in caplog.records[0].getMessage()
    server, _ = pair
    connection = Connection(functools.partial(daphne_send, WebSocketProtocol(Transport(server))))
    assert connection.event_sink(subscriber, 1024) is None


def test_check_versions_turned_off_no_sink(restore_direct_writes, caplog, pair, subscriber):
    with caplog.at_level("WARNING", logger="serving.direct_write"):
        assert check_versions(False) is False
    assert caplog.records == []
    server, _ = pair
    connection = Connection(functools.partial(daphne_send, WebSocketProtocol(Transport(server))))
    assert connection.event_sink(subscriber, 1024) is None
