"""The cap on open demo connections per client (live_demo/caps.py): SSE and WebSocket share it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from channels.testing import WebsocketCommunicator

from advisor.asgi import application
from live_demo import caps, consumers, sse
from live_demo.protocol import CLOSE_TOO_MANY
from live_demo.sse import event_stream

from .test_sse import EVENTS, open_stream
from .test_websocket_server import demo_socket, open_socket, server_close

ORIGIN = b"http://127.0.0.1"
TIMEOUT = 5.0
A, B = "203.0.113.1", "203.0.113.2"


@pytest.fixture
def cap_of_two(settings):
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "MAX_CONNECTIONS_PER_CLIENT": 2}


def socket_from(address: str | None) -> WebsocketCommunicator:
    client = WebsocketCommunicator(
        application, "/ws/demo/", headers=[(b"host", b"127.0.0.1"), (b"origin", ORIGIN)]
    )
    # Before the application's task first runs, which is when it reads the scope.
    if address is not None:
        client.scope["client"] = [address, 40000]
    return client


async def close_code(client: WebsocketCommunicator) -> int:
    async with asyncio.timeout(TIMEOUT):
        while (output := await client.receive_output(timeout=TIMEOUT))["type"] != (
            "websocket.close"
        ):
            pass
    return output["code"]


@contextlib.asynccontextmanager
async def open_sockets(*addresses: str) -> AsyncIterator[list[WebsocketCommunicator]]:
    """Connected, welcomed sockets from these addresses; disconnected afterwards."""
    clients = []
    try:
        for address in addresses:
            client = socket_from(address)
            clients.append(client)
            assert (await client.connect(timeout=TIMEOUT))[0]
            assert (await client.receive_json_from(timeout=TIMEOUT))["type"] == "welcome"
        yield clients
    finally:
        for client in clients:
            await client.disconnect(timeout=TIMEOUT)


class InProcessStream:
    """/demo/events/ run in process for one client address: the status it answered."""

    def __init__(self, address: str) -> None:
        self.scope = {
            "type": "http",
            "method": "GET",
            "path": EVENTS,
            "headers": [],
            "query_string": b"",
            "client": [address, 40000],
        }
        self.inbox: asyncio.Queue[dict] = asyncio.Queue()
        self.started: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self.bodies: list[bytes] = []
        self.task: asyncio.Task | None = None

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.start" and not self.started.done():
            self.started.set_result(message)
        elif message["type"] == "http.response.body":
            self.bodies.append(message["body"])

    async def open(self) -> dict:
        await self.inbox.put({"type": "http.request", "body": b"", "more_body": False})
        self.task = asyncio.create_task(event_stream(self.scope, self.inbox.get, self.send))
        async with asyncio.timeout(TIMEOUT):
            return await self.started

    async def close(self) -> None:
        await self.inbox.put({"type": "http.disconnect"})
        async with asyncio.timeout(TIMEOUT):
            await self.task


# In process -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_websocket_over_the_cap_accepted_then_closed_4029(fresh_feed, cap_of_two):
    async with open_sockets(A, A):
        third = socket_from(A)
        connected, _ = await third.connect(timeout=TIMEOUT)
        assert connected  # accepted, so the browser sees the code
        assert await close_code(third) == CLOSE_TOO_MANY
        await third.disconnect(timeout=TIMEOUT)
        # Another address is not affected.
        async with open_sockets(B):
            assert caps.connections.count(B) == 1
        assert caps.connections.count(A) == 2

    assert caps.connections.count() == 0


@pytest.mark.asyncio
async def test_sse_over_the_cap_429_retry_after_other_client_streams(fresh_feed, cap_of_two):
    streams = [InProcessStream(A) for _ in range(3)] + [InProcessStream(B)]
    first, second, third, other = streams
    assert (await first.open())["status"] == 200
    assert (await second.open())["status"] == 200

    refused = await third.open()
    await third.task
    assert refused["status"] == 429
    headers = dict(refused["headers"])
    assert headers[b"retry-after"] == b"5"
    assert headers[b"content-type"].startswith(b"text/plain")
    assert b"at most 2" in b"".join(third.bodies)
    assert (await other.open())["status"] == 200

    for stream in (first, second, other):
        await stream.close()
    assert caps.connections.count() == 0


@pytest.mark.asyncio
async def test_sse_and_websocket_share_one_cap(fresh_feed, cap_of_two):
    stream = InProcessStream(A)
    assert (await stream.open())["status"] == 200
    async with open_sockets(A):
        assert (await InProcessStream(A).open())["status"] == 429
        late = socket_from(A)
        assert (await late.connect(timeout=TIMEOUT))[0]
        assert await close_code(late) == CLOSE_TOO_MANY
        await late.disconnect(timeout=TIMEOUT)
    await stream.close()

    assert caps.connections.count() == 0


@pytest.mark.asyncio
async def test_place_released_when_the_stream_handler_raises(fresh_feed, cap_of_two, monkeypatch):
    async def broken(stream, receive):
        stream.cancel()
        raise RuntimeError("the stream failed")

    monkeypatch.setattr(sse, "serve_until_disconnect", broken)
    stream = InProcessStream(A)
    await stream.inbox.put({"type": "http.request", "body": b"", "more_body": False})
    with pytest.raises(RuntimeError):
        await event_stream(stream.scope, stream.inbox.get, stream.send)

    assert caps.connections.count() == 0


@pytest.mark.asyncio
async def test_place_released_when_the_consumer_raises(fresh_feed, cap_of_two, monkeypatch):
    def broken(feed, subscriber):
        raise RuntimeError("the welcome failed")

    monkeypatch.setattr(consumers, "welcome", broken)
    client = socket_from(A)
    assert (await client.connect(timeout=TIMEOUT))[0]
    with pytest.raises(RuntimeError):
        await client.wait(timeout=TIMEOUT)

    assert caps.connections.count() == 0


@pytest.mark.asyncio
async def test_unknown_address_not_counted(fresh_feed, cap_of_two):
    clients = [socket_from(None) for _ in range(3)]
    try:
        for client in clients:
            assert (await client.connect(timeout=TIMEOUT))[0]
            assert (await client.receive_json_from(timeout=TIMEOUT))["type"] == "welcome"
        assert caps.connections.count() == 0
    finally:
        for client in clients:
            await client.disconnect(timeout=TIMEOUT)


@pytest.mark.asyncio
async def test_no_cap_with_zero(fresh_feed, settings):
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "MAX_CONNECTIONS_PER_CLIENT": 0}
    async with open_sockets(A, A, A, A):
        assert caps.connections.count(A) == 4
    assert caps.connections.count() == 0


# On daphne ------------------------------------------------------------------------------------


def client_from(url: str, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """An HTTP client whose connections come from `address` (all of 127/8 is loopback)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=url, transport=transport, timeout=httpx.Timeout(10.0))


@pytest.mark.asyncio
async def test_on_daphne_sse_over_the_cap_429_while_another_address_streams(serve):
    url = serve(MAX_CONNECTIONS_PER_CLIENT=2)
    async with client_from(url) as client, client_from(url, "127.0.0.2") as other:
        async with open_stream(client) as first, open_stream(client) as second:
            await first.welcome()
            await second.welcome()
            refused = await client.get(EVENTS)
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "5"
            assert refused.headers["content-type"].startswith("text/plain")
            async with open_stream(other) as elsewhere:
                assert (await elsewhere.welcome())["type"] == "welcome"
        # Both places come back once the streams end.
        async with asyncio.timeout(TIMEOUT):
            while (await client.get("/demo/stats/")).json()["subscribers"]["sse"]:
                await asyncio.sleep(0.05)
        async with open_stream(client) as again:
            assert (await again.welcome())["type"] == "welcome"


@pytest.mark.asyncio
async def test_on_daphne_websocket_over_the_cap_closed_4029(serve):
    url = serve(MAX_CONNECTIONS_PER_CLIENT=1)
    async with demo_socket(url), open_socket(url) as refused:
        assert await server_close(refused) == CLOSE_TOO_MANY
