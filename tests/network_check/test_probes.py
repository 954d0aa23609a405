"""The network check's probes: /network-check/ws/ in process and on daphne, and
/network-check/events/ on daphne (where streaming and buffering can be seen)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from channels.testing import WebsocketCommunicator
from django.urls import reverse
from websockets.exceptions import InvalidStatus

from advisor.asgi import application
from network_check import probes as probes_module
from network_check.probes import open_probe_streams, probe_stream, probes_per_client
from tests.live_demo.test_sse import Message, parse
from tests.live_demo.test_websocket_server import open_socket, receive_until, server_close

PROBE = "/network-check/ws/"
EVENTS = "/network-check/events/"
ALLOWED_ORIGIN = b"http://127.0.0.1"
TIMEOUT = 5.0
POLL = 0.05


# The WebSocket probe, in process --------------------------------------------------------------


def communicator(query: str = "", origin: bytes = ALLOWED_ORIGIN) -> WebsocketCommunicator:
    path = f"{PROBE}?{query}" if query else PROBE
    return WebsocketCommunicator(
        application, path, headers=[(b"host", b"127.0.0.1"), (b"origin", origin)]
    )


@asynccontextmanager
async def probe_client(query: str = "") -> AsyncIterator[tuple[WebsocketCommunicator, dict]]:
    """A connected probe client and its welcome; disconnected afterwards."""
    client = communicator(query)
    try:
        connected, _ = await client.connect(timeout=TIMEOUT)
        assert connected
        yield client, await client.receive_json_from(timeout=TIMEOUT)
    finally:
        await client.disconnect(timeout=TIMEOUT)


async def ping(client: WebsocketCommunicator, n: int, client_ts: float = 1.5) -> dict[str, Any]:
    await client.send_json_to({"type": "ping", "n": n, "client_ts": client_ts})
    return await client.receive_json_from(timeout=TIMEOUT)


async def close_code(client: WebsocketCommunicator) -> int:
    """The server's close code, skipping whatever it sent before closing."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            output = await client.receive_output(timeout=TIMEOUT)
            if output["type"] == "websocket.close":
                return output.get("code", 1000)


@pytest.mark.asyncio
async def test_ws_probe_welcome_has_server_time_and_limits():
    async with probe_client() as (_, welcome):
        assert welcome["type"] == "welcome"
        assert welcome["server_ts"] > 1.7e12
        assert welcome["limits"] == {
            "max_text_bytes": 1024,
            "max_messages_per_second": 20,
            "max_pings": 100,
            "lifetime_s": 30.0,
        }


@pytest.mark.asyncio
async def test_ws_probe_ping_answered_with_pong():
    async with probe_client() as (client, welcome):
        pong = await ping(client, 7, client_ts=1234.5)

    assert pong["type"] == "pong"
    assert pong["n"] == 7
    assert pong["client_ts"] == 1234.5
    assert pong["server_ts"] >= welcome["server_ts"]


@pytest.mark.asyncio
async def test_ws_probe_pings_answered_in_order():
    async with probe_client() as (client, _):
        answers = [(await ping(client, n))["n"] for n in range(10)]

    assert answers == list(range(10))


@pytest.mark.asyncio
async def test_ws_probe_ping_without_client_ts_echoes_null():
    async with probe_client() as (client, _):
        await client.send_json_to({"type": "ping", "n": 1})
        pong = await client.receive_json_from(timeout=TIMEOUT)

    assert pong["n"] == 1
    assert pong["client_ts"] is None


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('{"type": "chat", "text": "hi"}', "unknown_type"),
        ("{}", "unknown_type"),
        ('{"type": "ping"}', "invalid_ping"),
        ('{"type": "ping", "n": "1"}', "invalid_ping"),
        ('{"type": "ping", "n": true}', "invalid_ping"),
        ('{"type": "ping", "n": -1}', "invalid_ping"),
        ('{"type": "ping", "n": 1.5}', "invalid_ping"),
        ('{"type": "ping", "n": 1, "client_ts": "now"}', "invalid_ping"),
        ('{"type": "ping", "n": 1, "client_ts": NaN}', "invalid_ping"),
        ('{"type": "ping", "n": 1, "client_ts": 1e400}', "invalid_ping"),
    ],
    ids=[
        "not-json",
        "array",
        "unknown-type",
        "no-type",
        "missing-n",
        "string-n",
        "boolean-n",
        "negative-n",
        "fractional-n",
        "string-client-ts",
        "nan-client-ts",
        "infinite-client-ts",
    ],
)
async def test_ws_probe_bad_message_error_frame_connection_open(text, code):
    async with probe_client() as (client, _):
        await client.send_to(text_data=text)
        error = await client.receive_json_from(timeout=TIMEOUT)
        assert error["type"] == "error"
        assert error["code"] == code
        assert isinstance(error["message"], str) and error["message"]
        assert (await ping(client, 1))["type"] == "pong"


@pytest.mark.asyncio
async def test_ws_probe_text_over_1_kib_closed_1009():
    async with probe_client() as (client, _):
        await client.send_to(text_data=json.dumps({"type": "ping", "n": 1, "pad": "x" * 1024}))
        assert await close_code(client) == 1009


@pytest.mark.asyncio
async def test_ws_probe_text_of_1_kib_answered():
    message = {"type": "ping", "n": 1, "pad": ""}
    message["pad"] = "x" * (1024 - len(json.dumps(message)))
    assert len(json.dumps(message)) == 1024
    async with probe_client() as (client, _):
        await client.send_to(text_data=json.dumps(message))
        assert (await client.receive_json_from(timeout=TIMEOUT))["type"] == "pong"


@pytest.mark.asyncio
async def test_ws_probe_binary_closed_1003():
    async with probe_client() as (client, _):
        await client.send_to(bytes_data=b"\x00\x01")
        assert await close_code(client) == 1003


@pytest.mark.asyncio
async def test_ws_probe_over_rate_closed_4008(settings):
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "PROBE_MAX_MESSAGES_PER_SECOND": 5}
    async with probe_client() as (client, _):
        for n in range(40):
            await client.send_json_to({"type": "ping", "n": n})
        pongs = 0
        async with asyncio.timeout(TIMEOUT):
            while (output := await client.receive_output(timeout=TIMEOUT))["type"] != (
                "websocket.close"
            ):
                pongs += 1
        assert output["code"] == 4008
        assert pongs < 40


@pytest.mark.asyncio
async def test_ws_probe_ping_allowance_answered_then_closed_1000(settings):
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "PROBE_MAX_PINGS": 3}
    async with probe_client() as (client, _):
        answers = [(await ping(client, n))["n"] for n in range(3)]
        assert answers == [0, 1, 2]
        assert await close_code(client) == 1000


@pytest.mark.asyncio
async def test_ws_probe_lifetime_over_closed_1000(settings):
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "PROBE_LIFETIME": 0.2}
    async with probe_client() as (client, _):
        assert await close_code(client) == 1000


@pytest.mark.asyncio
async def test_ws_probe_disconnect_leaves_no_timer():
    def expiry_tasks() -> list[asyncio.Task]:
        return [task for task in asyncio.all_tasks() if "_expire" in repr(task.get_coro())]

    async with probe_client() as (client, _):
        assert len(expiry_tasks()) == 1
        await ping(client, 1)

    assert expiry_tasks() == []


@pytest.mark.asyncio
async def test_ws_probe_simulate_blocked_handshake_refused():
    client = communicator("simulate=blocked")
    connected, _ = await client.connect(timeout=TIMEOUT)
    await client.disconnect(timeout=TIMEOUT)

    assert not connected


@pytest.mark.asyncio
async def test_ws_probe_unknown_simulation_error_then_closed():
    client = communicator("simulate=buffering")
    try:
        connected, _ = await client.connect(timeout=TIMEOUT)
        assert connected
        error = await client.receive_json_from(timeout=TIMEOUT)
        assert error["type"] == "error"
        assert "simulate=blocked" in error["message"]
        assert await close_code(client) == 1000
    finally:
        await client.disconnect(timeout=TIMEOUT)


@pytest.mark.asyncio
async def test_ws_probe_foreign_origin_refused():
    client = communicator(origin=b"http://evil.example")
    connected, _ = await client.connect(timeout=TIMEOUT)
    await client.disconnect(timeout=TIMEOUT)

    assert not connected


# The WebSocket probe on daphne: the close codes and refusals on the wire ------------------------


async def welcomed(websocket) -> dict[str, Any]:
    welcome = json.loads(await asyncio.wait_for(websocket.recv(), TIMEOUT))
    assert welcome["type"] == "welcome"
    return welcome


@pytest.mark.asyncio
async def test_ws_probe_on_daphne_ping_pong(serve):
    async with open_socket(serve(), PROBE) as websocket:
        await welcomed(websocket)
        await websocket.send(json.dumps({"type": "ping", "n": 3, "client_ts": 99.5}))
        pong = (await receive_until(websocket, lambda message: message["type"] == "pong"))[-1]

    assert (pong["n"], pong["client_ts"]) == (3, 99.5)


@pytest.mark.asyncio
async def test_ws_probe_on_daphne_text_over_1_kib_closed_1009(serve):
    async with open_socket(serve(), PROBE) as websocket:
        await welcomed(websocket)
        await websocket.send("x" * 1025)
        assert await server_close(websocket) == 1009


@pytest.mark.asyncio
async def test_ws_probe_on_daphne_binary_closed_1003(serve):
    async with open_socket(serve(), PROBE) as websocket:
        await welcomed(websocket)
        await websocket.send(b"\x00")
        assert await server_close(websocket) == 1003


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "origin"),
    [(f"{PROBE}?simulate=blocked", "http://127.0.0.1"), (PROBE, "http://evil.example")],
    ids=["simulate-blocked", "foreign-origin"],
)
async def test_ws_probe_on_daphne_refused_403(serve, path, origin):
    url = serve()
    with pytest.raises(InvalidStatus) as refused:
        async with open_socket(url, path, origin=origin):
            pass
    assert refused.value.response.status_code == 403


# The SSE probe on daphne ------------------------------------------------------------------------


def client_for(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10.0))


async def read_stream(
    client: httpx.AsyncClient, query: str = "", timeout: float = 10.0
) -> tuple[list[tuple[float, Message]], float]:
    """Every message with the time it arrived (from sending the request), and when it ended."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    received = []
    async with asyncio.timeout(timeout), client.stream("GET", f"{EVENTS}?{query}") as response:
        assert response.status_code == 200
        async for message in parse(response.aiter_lines()):
            received.append((loop.time() - started, message))
    return received, loop.time() - started


def probes(received: list[tuple[float, Message]]) -> list[tuple[float, Message]]:
    return [(at, message) for at, message in received if message.event == "probe"]


@pytest.mark.asyncio
async def test_probe_stream_headers(serve):
    async with client_for(serve()) as client, client.stream("GET", EVENTS) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"


@pytest.mark.asyncio
async def test_probe_stream_defaults_ten_events_then_done_then_end(serve):
    async with client_for(serve()) as client:
        received, _ = await read_stream(client)

    messages = [message for _, message in received]
    assert messages[0].retry == 60000
    events = [message for message in messages if message.event == "probe"]
    assert [event.id for event in events] == [str(n) for n in range(1, 11)]
    assert [event.json["n"] for event in events] == list(range(1, 11))
    assert {event.json["of"] for event in events} == {10}
    sent = [event.json["sent_ms"] for event in events]
    assert sent == sorted(sent)
    assert sent[-1] >= 9 * 200
    assert messages[-1].event == "done"
    assert messages[-1].json == {"of": 10}


@pytest.mark.asyncio
async def test_probe_stream_events_spread_over_time(serve):
    async with client_for(serve()) as client:
        received, _ = await read_stream(client, "count=5&interval_ms=400")

    arrivals = [at for at, _ in probes(received)]
    assert len(arrivals) == 5
    # 4 intervals of 0.4 s: generous, the machine is busy.
    assert arrivals[-1] - arrivals[0] >= 0.8
    assert arrivals[1] - arrivals[0] >= 0.2


@pytest.mark.asyncio
async def test_probe_stream_simulate_buffering_all_at_once_at_the_end(serve):
    async with client_for(serve()) as client:
        received, _ = await read_stream(client, "count=5&interval_ms=400&simulate=buffering")

    events = probes(received)
    arrivals = [at for at, _ in events]
    assert len(arrivals) == 5
    assert arrivals[0] >= 0.8  # nothing before the last event's time
    assert arrivals[-1] - arrivals[0] < 0.8
    # The server produced them on the same schedule as when streaming: the last
    # 4 intervals after the stream opened (the first may be a little late itself).
    sent = [message.json["sent_ms"] for _, message in events]
    assert sent == sorted(sent) and sent[-1] >= 4 * 400
    assert received[-1][1].event == "done"


@pytest.mark.asyncio
async def test_probe_stream_head_headers_only(serve):
    async with client_for(serve()) as client:
        response = await client.head(EVENTS)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.content == b""


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "query",
    [
        "count=1",
        "count=51",
        "count=abc",
        "count=",
        "count=-3",
        "count=%EF%BC%93",  # a full-width 3
        "count=10&count=11",
        "count=1e1",
        "interval_ms=49",
        "interval_ms=1001",
        "interval_ms=2.5",
        "simulate=blocked",
        "simulate=",
        "simulate=buffering&simulate=buffering",
        "colour=red",
    ],
)
async def test_probe_stream_bad_query_400_says_the_ranges(serve, query):
    async with client_for(serve()) as client:
        response = await client.get(f"{EVENTS}?{query}")

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert "from 2 to 50" in response.text
    assert "from 50 to 1000" in response.text


@pytest.mark.asyncio
async def test_probe_stream_post_405(serve):
    async with client_for(serve()) as client:
        response = await client.post(EVENTS)

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.asyncio
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "garbage", "http://[::1"])
async def test_probe_stream_foreign_origin_403(serve, origin):
    async with client_for(serve()) as client:
        response = await client.get(EVENTS, headers={"Origin": origin})

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.asyncio
async def test_probe_stream_own_origin_streams(serve):
    url = serve()
    async with client_for(url) as client:
        response = await client.get(f"{EVENTS}?count=2&interval_ms=50", headers={"Origin": url})

    assert response.status_code == 200
    assert "event: done" in response.text


@contextlib.asynccontextmanager
async def held_stream(client: httpx.AsyncClient) -> AsyncIterator[None]:
    """A long probe stream, open (its first event read) until the block ends."""
    async with client.stream("GET", f"{EVENTS}?count=50&interval_ms=1000") as response:
        assert response.status_code == 200
        messages = parse(response.aiter_lines())
        async with asyncio.timeout(TIMEOUT):
            while (await anext(messages)).event != "probe":
                pass
        yield


@pytest.mark.asyncio
async def test_probe_stream_over_cap_503_retry_after(serve):
    client = client_for(serve(MAX_PROBE_STREAMS=2))
    async with client, held_stream(client), held_stream(client):
        response = await client.get(EVENTS)

    assert response.status_code == 503
    assert response.headers["retry-after"].isdigit()


@pytest.mark.asyncio
async def test_probe_stream_client_disconnect_frees_its_place(serve):
    async with client_for(serve(MAX_PROBE_STREAMS=1)) as client:
        async with held_stream(client):
            assert (await client.get(EVENTS)).status_code == 503
        # The place comes back only once the stream's tasks have ended.
        async with asyncio.timeout(TIMEOUT):
            while (response := await client.get(f"{EVENTS}?count=2")).status_code == 503:
                await asyncio.sleep(POLL)

    assert response.status_code == 200


# The SSE probe in process: what a disconnect leaves behind --------------------------------------


@pytest.mark.asyncio
async def test_probe_stream_disconnect_ends_every_task():
    before = asyncio.all_tasks()
    incoming: asyncio.Queue[dict] = asyncio.Queue()
    await incoming.put({"type": "http.request", "body": b"", "more_body": False})
    bodies: list[bytes] = []
    first_body = asyncio.Event()

    async def send(message: dict) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message["body"])
            first_body.set()

    scope = {
        "type": "http",
        "method": "GET",
        "path": EVENTS,
        "query_string": b"count=50&interval_ms=1000",
        "headers": [],
    }
    app = asyncio.create_task(probe_stream(scope, incoming.get, send))
    async with asyncio.timeout(TIMEOUT):
        await first_body.wait()
    assert open_probe_streams() == 1
    await incoming.put({"type": "http.disconnect"})
    async with asyncio.timeout(TIMEOUT):
        await app

    assert open_probe_streams() == 0
    assert asyncio.all_tasks() - before == set()
    assert b"event: probe" in bodies[0]
    assert b"event: done" not in b"".join(bodies)


def test_probe_stream_url_named_answers_only_under_asgi(client):
    response = client.get(reverse("network_check:events"))

    assert reverse("network_check:events") == EVENTS
    assert response.status_code == 503
    assert "ASGI" in response.json()["errors"]["stream"]


# The per-client cap on probe streams ------------------------------------------------------------


def client_from(url: str, address: str) -> httpx.AsyncClient:
    """A client whose connections come from `address` (all of 127/8 is loopback)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=url, transport=transport, timeout=httpx.Timeout(10.0))


@pytest.mark.asyncio
async def test_probe_probes_per_client_capped_429_while_another_client_gets_one(serve):
    url = serve(PROBE_MAX_STREAMS_PER_CLIENT=2)
    client, other = client_from(url, "127.0.0.1"), client_from(url, "127.0.0.2")
    async with client, other, held_stream(client), held_stream(client):
        refused = await client.get(EVENTS)
        assert refused.status_code == 429
        assert refused.headers["retry-after"].isdigit()
        assert refused.headers["content-type"].startswith("text/plain")
        assert "at most 2" in refused.text
        response = await other.get(f"{EVENTS}?count=2&interval_ms=50")
        assert response.status_code == 200
        assert "event: done" in response.text


@pytest.mark.asyncio
async def test_probe_stream_per_client_place_released_after_disconnect_and_failure(
    settings, monkeypatch
):
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "PROBE_MAX_STREAMS_PER_CLIENT": 1}
    scope = {
        "type": "http",
        "method": "GET",
        "path": EVENTS,
        "query_string": b"count=2&interval_ms=50",
        "headers": [],
        "client": ["203.0.113.5", 40000],
    }
    statuses: list[int] = []

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def receive() -> dict:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    await probe_stream(scope, receive, send)
    assert probes_per_client.count() == 0

    async def broken(stream, receive):
        stream.cancel()
        raise RuntimeError("the stream failed")

    monkeypatch.setattr(probes_module, "serve_until_disconnect", broken)
    with pytest.raises(RuntimeError):
        await probe_stream(scope, receive, send)
    assert probes_per_client.count() == 0
    assert statuses == [200]


@pytest.mark.asyncio
async def test_ws_probes_share_the_per_client_cap_closed_4029(settings):
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "PROBE_MAX_STREAMS_PER_CLIENT": 1}

    def from_address(address: str) -> WebsocketCommunicator:
        client = communicator()
        client.scope["client"] = [address, 40000]
        return client

    first, second, other = (
        from_address("203.0.113.7"),
        from_address("203.0.113.7"),
        from_address("203.0.113.8"),
    )
    try:
        assert (await first.connect(timeout=TIMEOUT))[0]
        assert (await first.receive_json_from(timeout=TIMEOUT))["type"] == "welcome"
        # The same client's second probe: accepted, then closed "too many".
        assert (await second.connect(timeout=TIMEOUT))[0]
        assert await close_code(second) == 4029
        # Another client still gets one.
        assert (await other.connect(timeout=TIMEOUT))[0]
        assert (await other.receive_json_from(timeout=TIMEOUT))["type"] == "welcome"
    finally:
        for client in (first, second, other):
            await client.disconnect(timeout=TIMEOUT)
    assert probes_per_client.count() == 0
