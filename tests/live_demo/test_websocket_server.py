"""The WebSocket endpoint /ws/demo/ against a real daphne server, with a real client.

What the in-process tests cannot see: the limits daphne and autobahn enforce
on the wire (close code 1009), the handshake refusals as HTTP statuses, and a
client that stops reading at the TCP level.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .raw_client import unread_connection

DEMO = "/ws/demo/"
STATS = "/demo/stats/"
# The scheme and host of the servers' pages; origin_of() adds each server's port.
ORIGIN = "http://127.0.0.1"
TEXT_LIMIT = 64 * 1024
BINARY_LIMIT = 1024 * 1024
# The longest any one expected message may take to arrive.
WAIT = 5.0
POLL = 0.05
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_url(url: str, path: str = DEMO) -> str:
    return "ws" + url.removeprefix("http") + path


def origin_of(url: str) -> str:
    """The origin of the server at `url`'s own pages: scheme, host and port."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}:{parsed.port}"


def open_socket(url: str, path: str = DEMO, origin: str | None = ORIGIN) -> connect:
    """A client as a page of the server at `url` opens it (`origin` ORIGIN: that page's origin)."""
    if origin == ORIGIN:
        origin = origin_of(url)
    # No compression: the sizes on the wire are the sizes the tests name.
    return connect(
        ws_url(url, path),
        origin=origin,
        compression=None,
        open_timeout=WAIT,
        close_timeout=WAIT,
        ping_interval=None,
    )


@contextlib.asynccontextmanager
async def demo_socket(url: str) -> AsyncIterator[tuple[ClientConnection, dict[str, Any]]]:
    """A connected client and its welcome message; closed afterwards."""
    async with open_socket(url) as websocket:
        welcome = json.loads(await asyncio.wait_for(websocket.recv(), WAIT))
        assert welcome["type"] == "welcome"
        yield websocket, welcome


async def receive_until(
    websocket: ClientConnection, predicate: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Every message up to and including the first that matches `predicate`."""
    messages = []
    async with asyncio.timeout(WAIT):
        while True:
            message = json.loads(await websocket.recv())
            messages.append(message)
            if predicate(message):
                return messages


async def server_close(websocket: ClientConnection) -> int | None:
    """Read until the connection ends: the code of the server's close frame (None: none)."""
    async with asyncio.timeout(WAIT):
        try:
            while True:
                await websocket.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None


async def ping(websocket: ClientConnection, nonce: str) -> dict[str, Any]:
    await websocket.send(json.dumps({"type": "ping", "nonce": nonce}))
    return (await receive_until(websocket, lambda m: m.get("nonce") == nonce))[-1]


def is_type(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: message.get("type") == kind


def event_ids(messages: list[dict[str, Any]]) -> list[int]:
    return [message["id"] for message in messages if message.get("type") in {"tick", "chat"}]


def client_for(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10.0))


async def wait_for_stats(
    client: httpx.AsyncClient, condition: Callable[[dict], bool], timeout: float = WAIT
) -> dict[str, Any]:
    """Poll the server's stats until `condition` holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await client.get(STATS)
        assert response.status_code == 200
        body = response.json()
        if condition(body):
            return body
        assert loop.time() < deadline, f"stats never matched within {timeout} s: {body}"
        await asyncio.sleep(POLL)


# Size limits on the wire -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_text_over_64_kib_closed_1009(serve):
    async with demo_socket(serve()) as (websocket, _):
        await websocket.send("x" * (TEXT_LIMIT + 1))
        assert await server_close(websocket) == 1009


@pytest.mark.asyncio
async def test_binary_over_1_mib_closed_1009(serve):
    async with demo_socket(serve()) as (websocket, _):
        await websocket.send(b"\x01" * (BINARY_LIMIT + 1))
        assert await server_close(websocket) == 1009


@pytest.mark.asyncio
async def test_text_of_64_kib_answered_connection_open(serve):
    padding = "x" * (TEXT_LIMIT - len('{"type":"ping","nonce":"big","pad":""}'))
    text = json.dumps({"type": "ping", "nonce": "big", "pad": padding}, separators=(",", ":"))
    assert len(text.encode()) == TEXT_LIMIT
    async with demo_socket(serve()) as (websocket, _):
        await websocket.send(text)
        pong = (await receive_until(websocket, is_type("pong")))[-1]
        assert pong["nonce"] == "big"
        assert (await ping(websocket, "after"))["type"] == "pong"


@pytest.mark.asyncio
async def test_binary_of_1_mib_acknowledged(serve):
    data = os.urandom(BINARY_LIMIT)
    async with demo_socket(serve()) as (websocket, _):
        await websocket.send(data)
        ack = (await receive_until(websocket, is_type("binary_ack")))[-1]
        assert ack["size"] == BINARY_LIMIT
        assert ack["sha256"] == hashlib.sha256(data).hexdigest()
        assert ack["wire_bytes"] == BINARY_LIMIT + 14
        assert (await ping(websocket, "after"))["type"] == "pong"


@pytest.mark.asyncio
async def test_after_text_message_events_over_64_kib_received(serve):
    # The text limit once narrowed autobahn's limit for the whole connection,
    # which autobahn also applies to what it sends: after any text message
    # from the client, an event over 64 KiB closed the socket instead.
    url = serve(MAX_CHAT_CHARS=100_000)
    text = "long chat " * 7_000
    async with client_for(url) as client, demo_socket(url) as (websocket, _):
        assert (await ping(websocket, "first"))["type"] == "pong"
        await client.get("/demo/")
        response = await client.post(
            "/demo/send/",
            json={"type": "chat", "text": text},
            headers={"X-CSRFToken": client.cookies["csrftoken"]},
        )
        assert response.status_code == 201
        chat = (await receive_until(websocket, is_type("chat")))[-1]
        assert chat["id"] == response.json()["id"]
        assert chat["payload"]["text"] == text.strip()
        assert len(json.dumps(chat).encode()) > TEXT_LIMIT
        assert (await ping(websocket, "after"))["type"] == "pong"


# Ping, resume and forms on the wire ------------------------------------------------------


@pytest.mark.asyncio
async def test_ping_fields_echoed(serve):
    async with demo_socket(serve()) as (websocket, _):
        await websocket.send(json.dumps({"type": "ping", "sent": 123.5, "id": 7, "deep": [1]}))
        pong = (await receive_until(websocket, is_type("pong")))[-1]
        assert set(pong) == {"type", "sent", "id", "ts", "server_ts"}
        assert (pong["sent"], pong["id"]) == (123.5, 7)


@pytest.mark.asyncio
async def test_resume_after_window_rewinds_then_live_without_gap_or_dup(serve):
    async with demo_socket(serve()) as (websocket, _):
        seen = event_ids(await receive_until(websocket, is_type("tick")))
        seen += event_ids(await receive_until(websocket, lambda m: m.get("id", 0) >= seen[0] + 5))
        received, last_id = seen[-1], seen[-1] - 3
        await websocket.send(json.dumps({"type": "resume", "last_id": last_id}))
        after = await receive_until(websocket, lambda m: m.get("id", 0) >= received + 30)
        assert [m["type"] for m in after if m["type"] not in {"tick", "chat"}] == []
        ids = event_ids(after)
        start = ids.index(last_id + 1)
        # Events already on their way when the resume came may arrive before the replay.
        assert ids[:start] == list(range(received + 1, received + 1 + start))
        assert ids[start:] == list(range(last_id + 1, received + 31))


@pytest.mark.asyncio
async def test_multipart_form_chat_with_csrf_field_reaches_websocket(serve):
    url = serve()
    async with client_for(url) as client, demo_socket(url) as (websocket, welcome):
        await client.get("/demo/")
        fields = {
            "text": "from a form",
            "connection": welcome["connection"],
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        }
        # Parts without a file name: a multipart form of plain fields.
        response = await client.post(
            "/demo/send/", files={name: (None, value) for name, value in fields.items()}
        )
        assert response.status_code == 201
        chat = (await receive_until(websocket, is_type("chat")))[-1]
        assert chat["id"] == response.json()["id"]
        assert chat["payload"]["text"] == "from a form"
        assert chat["payload"]["sender"] == welcome["sender"]


@pytest.mark.asyncio
async def test_form_without_csrf_token_forbidden(serve):
    async with client_for(serve()) as client:
        response = await client.post("/demo/send/", data={"text": "no token"})
    assert response.status_code == 403
    assert response.json()["errors"]["csrf"]


# Handshake -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_welcome_sender_not_connection(serve):
    async with demo_socket(serve()) as (_, welcome):
        assert len(welcome["sender"]) == 12
        assert welcome["sender"] not in welcome["connection"]


@pytest.mark.asyncio
async def test_foreign_origin_refused_403(serve):
    url = serve()
    with pytest.raises(InvalidStatus) as refused:
        async with open_socket(url, origin="http://evil.example"):
            pass
    assert refused.value.response.status_code == 403


@pytest.mark.asyncio
async def test_missing_origin_refused_403(serve):
    url = serve()
    with pytest.raises(InvalidStatus) as refused:
        async with open_socket(url, origin=None):
            pass
    assert refused.value.response.status_code == 403


@pytest.mark.asyncio
async def test_unknown_path_refused_403(serve):
    url = serve()
    with pytest.raises(InvalidStatus) as refused:
        async with open_socket(url, path="/ws/nope/"):
            pass
    assert refused.value.response.status_code == 403


# Text no UTF-8 wire can carry ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_chat_lone_surrogate_refused_resume_over_it_works(serve):
    # A chat of "x \ud800" was once kept in the history: every later resume
    # over it was closed 4011, and live sockets failed with it.
    url = serve()
    async with demo_socket(url) as (websocket, _):
        first = event_ids(await receive_until(websocket, is_type("tick")))[-1]
        await websocket.send(json.dumps({"type": "chat", "text": "x \ud800"}))
        error = (await receive_until(websocket, is_type("error")))[-1]
        assert error["code"] == "invalid_chat"
        assert (await ping(websocket, "still-open"))["type"] == "pong"
        live = event_ids(await receive_until(websocket, lambda m: m.get("id", 0) >= first + 5))
    async with demo_socket(url) as (again, _):
        await again.send(json.dumps({"type": "resume", "last_id": first - 1}))
        replayed = await receive_until(again, lambda m: m.get("id", 0) >= first + 10)
    assert [m for m in replayed if m["type"] not in {"tick", "chat"}] == []
    assert event_ids(replayed) == list(range(first, first + 11))
    assert live[-1] >= first + 5


# Messages Python cannot hold ---------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "text",
    ['{"type": "ping", "nonce": ' + "9" * 5000 + "}", "[" * 30000],
    ids=["5000-digit-number", "30000-nested-brackets"],
)
async def test_json_python_cannot_hold_error_connection_open(serve, text):
    async with demo_socket(serve()) as (websocket, _):
        await websocket.send(text)
        error = (await receive_until(websocket, is_type("error")))[-1]
        assert error["code"] == "invalid_json"
        assert (await ping(websocket, "after"))["type"] == "pong"


# A client that stops reading ----------------------------------------------------------------


@contextlib.contextmanager
def unread_websocket(url: str) -> Iterator[socket.socket]:
    """A client that opens the WebSocket, then never reads a byte of it."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {DEMO} HTTP/1.1\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        f"Origin: {origin_of(url)}\r\n\r\n"
    )
    with unread_connection(url, request, timeout=WAIT) as sock:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            byte = sock.recv(1)  # one at a time: not a byte of the feed is read
            assert byte, f"the server closed during the handshake: {head!r}"
            head += byte
        status, *lines = head.decode("latin-1").strip().split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest())
        assert status.startswith("HTTP/1.1 101 ")
        assert headers["sec-websocket-accept"] == accept.decode()
        yield sock


def read_until_closed(sock: socket.socket, timeout: float) -> bool:
    """Read everything the server still sends; True once it has closed the connection."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


@pytest.mark.asyncio
async def test_slow_client_cut_off_others_keep_every_event(serve):
    rate = 200.0
    url = serve(FEED_RATE=rate, MAX_BACKLOG_BYTES=64 * 1024, MAX_CHAT_CHARS=100_000)
    loop = asyncio.get_running_loop()
    async with client_for(url) as client, demo_socket(url) as (websocket, _):
        received = await receive_until(websocket, is_type("tick"))

        async def keep_reading() -> None:
            while True:
                received.append(json.loads(await websocket.recv()))

        async def keep_chatting() -> None:
            # Bigger events fill the unread socket sooner; each is far below
            # the backlog bound, and ten a second stay under the rate limit.
            while True:
                await websocket.send(json.dumps({"type": "chat", "text": "x" * 8000}))
                await asyncio.sleep(0.1)

        reader = asyncio.create_task(keep_reading())
        chatter = asyncio.create_task(keep_chatting())
        try:
            with unread_websocket(url) as sock:
                before = await wait_for_stats(
                    client, lambda body: body["subscribers"]["websocket"] == 2
                )
                started = loop.time()
                after = await wait_for_stats(
                    client,
                    lambda body: body["subscribers"]["websocket"] == 1 and body["tasks"] == 1,
                    timeout=15.0,
                )
                elapsed = loop.time() - started
                assert not chatter.done(), chatter.exception()
                chatter.cancel()
                closed = await asyncio.to_thread(read_until_closed, sock, WAIT)
            assert not reader.done(), reader.exception()
            reader.cancel()  # safe: recv() loses nothing when cancelled
            await asyncio.gather(reader, return_exceptions=True)
            # Still fed after the slow client is gone.
            target = after["last_id"] + 5
            received += await receive_until(
                websocket, lambda m: m.get("type") in {"tick", "chat"} and m["id"] >= target
            )
        finally:
            reader.cancel()
            chatter.cancel()
            await asyncio.gather(reader, chatter, return_exceptions=True)

    assert closed
    assert [message for message in received if message["type"] == "error"] == []
    assert any(message["type"] == "chat" for message in received)
    ids = event_ids(received)
    assert ids == list(range(ids[0], ids[-1] + 1))
    assert ids[0] <= before["last_id"]
    # The feed kept its pace for everyone else while the slow client was cut off.
    assert after["last_id"] - before["last_id"] >= rate * elapsed / 4


# A client that floods -------------------------------------------------------------------

PING = json.dumps({"type": "ping"})
# The longest a flood runs, whatever the server does: the machine is shared.
FLOOD_LIMIT = 8.0


async def flood(url: str, seconds: float = FLOOD_LIMIT) -> tuple[int | None, float]:
    """Pings as fast as the connection takes them, until the server closes it.

    Returns the server's close code (None: it never closed; 1006: it closed
    the connection before this client read its close frame, as happens on a
    loaded machine when the close handshake times out) and how long the flood
    ran. What the server sends back is read and thrown away: a client
    that stopped reading would never see the close frame.
    """
    loop = asyncio.get_running_loop()
    async with open_socket(url) as websocket:
        await asyncio.wait_for(websocket.recv(), WAIT)  # the welcome

        async def drain() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for _ in websocket:
                    pass

        reader = asyncio.create_task(drain())
        started = loop.time()
        try:
            while loop.time() - started < seconds:
                for _ in range(100):
                    await websocket.send(PING)
                # Sending does not yield while the kernel takes the bytes: let
                # the reader and the rest of the test run.
                await asyncio.sleep(0)
        except ConnectionClosed as closed:
            return (closed.rcvd.code if closed.rcvd else 1006), loop.time() - started
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        return None, loop.time() - started


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


async def timed_stats(client: httpx.AsyncClient) -> float:
    """Seconds one GET /demo/stats/ takes."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await client.get(STATS)
    assert response.status_code == 200
    return loop.time() - started


@pytest.mark.asyncio
async def test_flooding_socket_closed_4008_others_served(serve):
    url = serve()
    async with client_for(url) as client, demo_socket(url) as (websocket, _):
        received = await receive_until(websocket, is_type("tick"))

        async def keep_reading() -> None:
            while True:
                received.append(json.loads(await websocket.recv()))

        reader = asyncio.create_task(keep_reading())
        flooder = asyncio.create_task(flood(url))
        answers = []
        try:
            # HTTP requests while the flood runs, one after the other.
            while not flooder.done():
                answers.append(await timed_stats(client))
            code, elapsed = await flooder
            assert not reader.done(), reader.exception()
            before = event_ids(received)[-1]
            reader.cancel()  # safe: recv() loses nothing when cancelled
            await asyncio.gather(reader, return_exceptions=True)
            # Still fed, and still answered, once the flooder is gone.
            received += await receive_until(websocket, lambda m: m.get("id", 0) >= before + 10)
            assert (await ping(websocket, "after"))["type"] == "pong"
        finally:
            reader.cancel()
            flooder.cancel()
            await asyncio.gather(reader, flooder, return_exceptions=True)

    print(f"flood closed {code} after {elapsed:.2f} s; stats took up to {max(answers):.3f} s")
    # 4008 as sent; 1006 when the client, on a loaded machine, had not read the
    # close frame before autobahn dropped the connection (its close handshake
    # waits a second). Either way the server cut it off before the time limit.
    assert code in {4008, 1006}
    # 2 s of flood by the settings, as the server reads them (it reads behind
    # the client), plus the close handshake: 2.8-4.2 s measured here.
    assert elapsed < 6.0
    assert len(answers) >= 3
    # Before the fix: 2-6 s, and the flood was never closed. autobahn still
    # parses every frame until the close (measured: up to about 1.8 s).
    assert max(answers) < 3.0
    assert [m["code"] for m in received if m["type"] == "error"] == []
    ids = event_ids(received)
    assert ids == list(range(ids[0], ids[-1] + 1))


@pytest.mark.asyncio
async def test_flood_of_several_sockets_memory_back_to_baseline(serve):
    url = serve()
    async with client_for(url) as client, demo_socket(url) as (websocket, _):
        pid = (await client.get(STATS)).json()["process"]
        # Warm: the feed runs, a socket was served, the first pings answered.
        for number in range(5):
            await ping(websocket, f"warm-{number}")
        baseline = rss_kib(pid)

        floods = asyncio.gather(*(flood(url) for _ in range(4)))
        during = baseline
        while not floods.done():
            during = max(during, rss_kib(pid))
            await asyncio.wait({floods}, timeout=0.1)
        results = await floods

        # About 2 s on, the server still answering (polled, bounded).
        loop = asyncio.get_running_loop()
        ended = loop.time()
        while loop.time() - ended < 2:
            assert (await ping(websocket, "settle"))["type"] == "pong"
            await asyncio.sleep(0.2)
        after = rss_kib(pid)

    print(
        f"RSS KiB: baseline {baseline}, during {during}, after {after}; "
        f"floods (code, s): {[(code, round(s, 2)) for code, s in results]}"
    )
    # Every flood was cut off by the server (4008, or 1006 if the client was
    # too busy to read the close frame in time): none ran to the time limit.
    assert {code for code, _ in results} <= {4008, 1006}
    assert after - baseline < 10 * 1024
