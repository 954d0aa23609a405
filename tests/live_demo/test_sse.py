"""The SSE stream, /demo/events/, against a real daphne server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from live_demo.feed import get_feed, public_id
from live_demo.sse import event_stream

from .raw_client import unread_connection

EVENTS = "/demo/events/"
STATS = "/demo/stats/"
# The longest any one expected event may take to arrive.
WAIT = 5.0
POLL = 0.05


@dataclass
class Message:
    """One event as EventSource would dispatch it, or one comment line (`comment` set)."""

    event: str | None = None
    id: str | None = None
    retry: int | None = None
    data_lines: list[str] = field(default_factory=list)
    comment: str | None = None

    @property
    def data(self) -> str:
        return "\n".join(self.data_lines)

    @property
    def json(self) -> Any:
        return json.loads(self.data)


async def parse(lines: AsyncIterator[str]) -> AsyncIterator[Message]:
    message, seen = Message(), False
    async for line in lines:
        if not line:
            if seen:
                yield message
            message, seen = Message(), False
        elif line.startswith(":"):
            yield Message(comment=line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            seen = True
            if name == "data":
                message.data_lines.append(value)
            elif name == "event":
                message.event = value
            elif name == "id":
                message.id = value
            elif name == "retry":
                message.retry = int(value)


class Stream:
    """An open SSE response, read event by event, every wait bounded."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._messages = parse(response.aiter_lines())

    async def next(self, timeout: float = WAIT) -> Message:
        """The next event or comment (StopAsyncIteration once the response ends)."""
        async with asyncio.timeout(timeout):
            return await anext(self._messages)

    async def next_event(self, timeout: float = WAIT) -> Message:
        async with asyncio.timeout(timeout):
            while (message := await anext(self._messages)).comment is not None:
                pass
            return message

    async def welcome(self) -> dict[str, Any]:
        message = await self.next_event()
        assert message.event == "welcome"
        return message.json

    async def feed_events(self, count: int, per_event: float = WAIT) -> list[Message]:
        """The next `count` feed events (those with an id), after a welcome if it is next."""
        events: list[Message] = []
        while len(events) < count:
            message = await self.next_event(per_event)
            if message.id is not None:
                events.append(message)
            else:
                assert message.event == "welcome", f"unexpected {message}"
        return events

    async def rest(self, timeout: float = WAIT) -> list[Message]:
        """Everything until the server ends the response."""
        messages = []
        async with asyncio.timeout(timeout):
            async for message in self._messages:
                messages.append(message)
        return messages


@contextlib.asynccontextmanager
async def open_stream(client: httpx.AsyncClient, **options: Any) -> AsyncIterator[Stream]:
    async with client.stream("GET", EVENTS, **options) as response:
        yield Stream(response)


def ids(events: list[Message]) -> list[int]:
    return [int(event.id) for event in events]


def client_for(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10.0))


async def stats(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get(STATS)
    assert response.status_code == 200
    return response.json()


async def wait_for_stats(
    client: httpx.AsyncClient, condition: Callable[[dict], bool], timeout: float = WAIT
) -> dict[str, Any]:
    """Poll the server's stats until `condition` holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        body = await stats(client)
        if condition(body):
            return body
        assert loop.time() < deadline, f"stats never matched within {timeout} s: {body}"
        await asyncio.sleep(POLL)


async def wait_for_last_id(client: httpx.AsyncClient, last_id: int) -> dict[str, Any]:
    return await wait_for_stats(client, lambda body: body.get("last_id", 0) >= last_id)


async def csrf_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """The page sets the CSRF cookie; POSTs send it back as X-CSRFToken."""
    response = await client.get("/demo/")
    assert response.status_code == 200
    return {"X-CSRFToken": client.cookies["csrftoken"]}


async def started_feed(client: httpx.AsyncClient, count: int) -> dict[str, Any]:
    """Start the server's feed (a first stream does) and wait until it has given `count`
    events; its `history` then (ids start at the sequence's `first`, not at 1)."""
    async with open_stream(client) as stream:
        await stream.welcome()

    def given(body: dict[str, Any]) -> bool:
        history = body.get("history") or {}
        return "first" in history and history["newest"] - history["first"] + 1 >= count

    return (await wait_for_stats(client, given))["history"]


@pytest.mark.asyncio
async def test_events_response_headers(serve):
    async with client_for(serve()) as client, open_stream(client) as stream:
        response = stream.response

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"


@pytest.mark.asyncio
async def test_events_first_event_is_welcome(serve, settings):
    async with client_for(serve()) as client, open_stream(client) as stream:
        first = await stream.next()

    assert first.event == "welcome"
    assert first.retry == settings.LIVE_DEMO["RETRY_MS"]
    assert first.id is None
    welcome = first.json
    assert welcome["type"] == "welcome"
    assert welcome["transport"] == "sse"
    assert isinstance(welcome["connection"], str)
    assert welcome["connection"]


@pytest.mark.asyncio
async def test_events_welcome_sender_is_not_the_connection_id(serve):
    async with client_for(serve()) as client, open_stream(client) as stream:
        welcome = await stream.welcome()

    assert re.fullmatch(r"[0-9a-f]{12}", welcome["sender"])
    assert welcome["sender"] not in welcome["connection"]
    assert welcome["sender"] == public_id(welcome["connection"])


@pytest.mark.asyncio
async def test_events_feed_events_carry_their_id(serve):
    async with client_for(serve()) as client, open_stream(client) as stream:
        events = await stream.feed_events(10)

    for event in events:
        assert event.event == "tick"
        data = event.json
        assert data["id"] == int(event.id)
        assert data["type"] == "tick"
        assert isinstance(data["ts"], float | int)
        assert set(data["payload"]) == {"symbol", "price", "change"}


@pytest.mark.asyncio
async def test_events_feed_ids_are_consecutive(serve):
    async with client_for(serve()) as client, open_stream(client) as stream:
        events = await stream.feed_events(20)

    assert ids(events) == list(range(ids(events)[0], ids(events)[0] + 20))


@pytest.mark.asyncio
async def test_events_heartbeat_comment_arrives(serve):
    heartbeat = 0.5
    async with client_for(serve(HEARTBEAT=heartbeat)) as client, open_stream(client) as stream:
        await stream.welcome()
        loop = asyncio.get_running_loop()
        beats = []
        since = loop.time()
        async with asyncio.timeout(2 * heartbeat * 2):
            while len(beats) < 2:
                message = await stream.next()
                if message.comment is not None:
                    beats.append(loop.time() - since)
                    since = loop.time()
                    assert message.comment == "heartbeat"

    assert all(interval < 2 * heartbeat for interval in beats), beats


@pytest.mark.asyncio
async def test_events_last_event_id_resumes_without_gap(serve):
    async with client_for(serve()) as client:
        async with open_stream(client) as stream:
            last_id = ids(await stream.feed_events(5))[-1]
        await wait_for_last_id(client, last_id + 10)

        async with open_stream(client, headers={"Last-Event-ID": str(last_id)}) as stream:
            await stream.welcome()
            events = await stream.feed_events(40)

    assert ids(events) == list(range(last_id + 1, last_id + 41))


@pytest.mark.asyncio
async def test_events_query_last_event_id_resumes_without_gap(serve):
    async with client_for(serve()) as client:
        async with open_stream(client) as stream:
            last_id = ids(await stream.feed_events(5))[-1]
        await wait_for_last_id(client, last_id + 10)

        async with open_stream(client, params={"last_event_id": str(last_id)}) as stream:
            await stream.welcome()
            events = await stream.feed_events(40)

    assert ids(events) == list(range(last_id + 1, last_id + 41))


@pytest.mark.asyncio
async def test_events_last_event_id_header_wins_over_query(serve):
    async with client_for(serve()) as client:
        async with open_stream(client) as stream:
            last_id = ids(await stream.feed_events(10))[-1]
        await wait_for_last_id(client, last_id + 5)

        async with open_stream(
            client, headers={"Last-Event-ID": str(last_id)}, params={"last_event_id": "2"}
        ) as stream:
            await stream.welcome()
            events = await stream.feed_events(10)

    assert ids(events) == list(range(last_id + 1, last_id + 11))


@pytest.mark.asyncio
async def test_events_expired_last_event_id_gets_gap_first(serve):
    history = 20
    async with client_for(serve(HISTORY=history, FEED_RATE=50.0)) as client:
        fifth = (await started_feed(client, 2 * history + 1))["first"] + 4

        async with open_stream(client, headers={"Last-Event-ID": str(fifth)}) as stream:
            await stream.welcome()
            gap = await stream.next_event()
            events = await stream.feed_events(history + 10)

    assert gap.event == "gap"
    assert gap.id is None
    notice = gap.json
    assert notice["reason"] == "expired"
    assert notice["last_id"] == fifth
    assert notice["newest"] - notice["oldest"] + 1 == history
    assert notice["missed"] == notice["oldest"] - fifth - 1
    # Then what the history still holds, from its oldest, and on into live events.
    assert ids(events) == list(range(notice["oldest"], notice["oldest"] + history + 10))


UNUSABLE_IDS = [
    "abc",
    "-5",
    "1.5",
    "1e5",
    "+5",
    pytest.param("1" * 19, id="19-digits"),
    pytest.param("9" * 5000, id="5000-digits"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("last_event_id", [*UNUSABLE_IDS, ""])
async def test_events_unusable_last_event_id_starts_live(serve, last_event_id):
    await assert_starts_live(serve, headers={"Last-Event-ID": last_event_id})


@pytest.mark.asyncio
@pytest.mark.parametrize("last_event_id", UNUSABLE_IDS)
async def test_events_unusable_query_last_event_id_starts_live(serve, last_event_id):
    await assert_starts_live(serve, params={"last_event_id": last_event_id})


async def assert_starts_live(serve, **request: Any) -> None:
    async with client_for(serve()) as client:
        last_id = (await started_feed(client, 20))["newest"]

        async with open_stream(client, **request) as stream:
            assert stream.response.status_code == 200
            await stream.welcome()
            first = await stream.next_event()

    assert first.event != "gap"
    assert first.id is not None
    assert int(first.id) > last_id


@pytest.mark.asyncio
async def test_events_last_event_id_surrounding_spaces_ignored(serve):
    async with client_for(serve()) as client:
        seventh = (await started_feed(client, 20))["first"] + 6

        # A header cannot carry them (HTTP strips them); the query parameter can.
        async with open_stream(client, params={"last_event_id": f" {seventh} "}) as stream:
            await stream.welcome()
            events = await stream.feed_events(10)

    assert ids(events) == list(range(seventh + 1, seventh + 11))


@pytest.mark.asyncio
async def test_events_eighteen_digit_last_event_id_gets_restarted_gap(serve):
    async with client_for(serve()) as client:
        history = await started_feed(client, 5)
        first, newest = history["first"], history["newest"]

        async with open_stream(client, headers={"Last-Event-ID": "9" * 18}) as stream:
            await stream.welcome()
            gap = await stream.next_event()
            events = await stream.feed_events(newest - first + 6)

    assert gap.event == "gap"
    assert gap.json["reason"] == "restarted"
    assert gap.json["last_id"] == int("9" * 18)
    assert ids(events) == list(range(first, newest + 6))


@pytest.mark.asyncio
async def test_events_post_not_allowed(serve):
    async with client_for(serve()) as client:
        response = await client.post(EVENTS)

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.asyncio
async def test_events_two_clients_see_the_same_sequence(serve):
    async with client_for(serve()) as client:
        headers = await csrf_headers(client)
        async with open_stream(client) as one, open_stream(client) as two:
            await one.welcome()
            await two.welcome()
            start = int((await two.next_event()).id)
            chat = {"type": "chat", "text": "same for everyone"}
            response = await client.post("/demo/send/", json=chat, headers=headers)
            assert response.status_code == 201
            seen_by_two = await two.feed_events(20)
            seen_by_one = [
                event for event in await one.feed_events(40) if start < int(event.id) <= start + 20
            ]

    def sequence(events: list[Message]) -> list[tuple]:
        return [(event.id, event.event, event.data) for event in events]

    assert sequence(seen_by_one) == sequence(seen_by_two)
    assert "chat" in {event.event for event in seen_by_two}


@pytest.mark.asyncio
async def test_events_closed_streams_leave_nothing(serve):
    async with client_for(serve()) as client:
        async with contextlib.AsyncExitStack() as stack:
            # Held until closed: a stream's reader left to the garbage collector closes it.
            streams = [await stack.enter_async_context(open_stream(client)) for _ in range(5)]
            for stream in streams:
                await stream.welcome()
            await wait_for_stats(client, lambda body: body["subscribers"]["sse"] == 5)

        body = await wait_for_stats(
            client, lambda body: body["subscribers"]["sse"] == 0 and body["tasks"] == 0
        )

    assert body["subscribers"] == {"websocket": 0, "sse": 0}


@pytest.mark.asyncio
async def test_events_drop_ends_the_stream(serve):
    async with client_for(serve()) as client:
        headers = await csrf_headers(client)
        async with open_stream(client) as stream:
            connection = (await stream.welcome())["connection"]
            await stream.feed_events(3)
            response = await client.post(
                "/demo/drop/", json={"connection": connection}, headers=headers
            )
            assert response.status_code == 202
            await stream.rest()

        body = await wait_for_stats(client, lambda body: body["tasks"] == 0)

    assert body["subscribers"]["sse"] == 0


@pytest.mark.asyncio
async def test_events_resume_after_drop_has_no_gap(serve):
    async with client_for(serve()) as client:
        headers = await csrf_headers(client)
        async with open_stream(client) as stream:
            connection = (await stream.welcome())["connection"]
            before = await stream.feed_events(3)
            await client.post("/demo/drop/", json={"connection": connection}, headers=headers)
            before += [message for message in await stream.rest() if message.id is not None]
        last_id = ids(before)[-1]
        await wait_for_last_id(client, last_id + 5)

        async with open_stream(client, headers={"Last-Event-ID": str(last_id)}) as stream:
            await stream.welcome()
            after = await stream.feed_events(20)

    assert ids(before) == list(range(ids(before)[0], last_id + 1))
    assert ids(after) == list(range(last_id + 1, last_id + 21))


@pytest.mark.asyncio
async def test_events_chat_post_appears_on_the_stream(serve):
    async with client_for(serve()) as client:
        headers = await csrf_headers(client)
        async with open_stream(client) as stream:
            connection = (await stream.welcome())["connection"]
            message = {"type": "chat", "text": "hello over SSE", "connection": connection}
            response = await client.post("/demo/send/", json=message, headers=headers)
            assert response.status_code == 201
            chat_id = response.json()["id"]
            events = await stream.feed_events(1)
            while int(events[-1].id) < chat_id:
                events += await stream.feed_events(1)

    chat = events[-1]
    assert chat.event == "chat"
    assert int(chat.id) == chat_id
    assert chat.json["payload"]["text"] == "hello over SSE"
    assert chat.json["payload"]["sender"] == public_id(connection)
    assert ids(events) == list(range(ids(events)[0], chat_id + 1))


@pytest.mark.asyncio
async def test_events_resume_after_refused_surrogate_chat_works(serve):
    # A chat of "x \ud800" was once kept in the history: every Last-Event-ID
    # resume over it answered 503 until it aged out.
    async with client_for(serve()) as client:
        headers = await csrf_headers(client)
        last_id = (await started_feed(client, 1))["newest"]
        response = await client.post(
            "/demo/send/",
            content='{"text": "x \\ud800"}',
            headers={**headers, "content-type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_chat"
        await wait_for_last_id(client, last_id + 3)
        async with open_stream(client, headers={"Last-Event-ID": str(last_id)}) as stream:
            assert stream.response.status_code == 200
            await stream.welcome()
            after = await stream.feed_events(5)
    assert ids(after) == list(range(last_id + 1, last_id + 6))


def unread_stream(url: str) -> contextlib.AbstractContextManager[socket.socket]:
    """A client that asks for the stream, then never reads a byte of it."""
    return unread_connection(url, f"GET {EVENTS} HTTP/1.1\r\n\r\n", timeout=None)


@pytest.mark.asyncio
async def test_events_slow_client_disconnected_others_unaffected(serve):
    rate = 200.0
    url = serve(FEED_RATE=rate, MAX_BACKLOG_BYTES=64 * 1024)
    loop = asyncio.get_running_loop()
    async with client_for(url) as client, open_stream(client) as stream:
        received = await stream.feed_events(1)

        async def keep_reading() -> None:
            while True:
                received.extend(await stream.feed_events(1))

        reader = asyncio.create_task(keep_reading())
        try:
            with unread_stream(url):
                before = await wait_for_stats(client, lambda body: body["subscribers"]["sse"] == 2)
                started = loop.time()
                after = await wait_for_stats(
                    client,
                    lambda body: body["subscribers"]["sse"] == 1 and body["tasks"] == 1,
                    timeout=12.0,
                )
                elapsed = loop.time() - started
            assert not reader.done(), reader.exception()
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    assert ids(received) == list(range(ids(received)[0], ids(received)[0] + len(received)))
    # The feed kept its pace for everyone else while the slow client was cut off.
    assert after["last_id"] - before["last_id"] >= rate * elapsed / 4
    assert ids(received)[-1] >= before["last_id"]


def read_until_closed(sock: socket.socket, timeout: float) -> int:
    """Read everything the socket still gives; the byte count once the server has closed it.

    Fails if the connection is still open after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    received = 0
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"still open after {timeout} s ({received} bytes read)"
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        except TimeoutError:
            raise AssertionError(f"still open after {timeout} s ({received} bytes read)") from None
        if not chunk:
            return received
        received += len(chunk)


@pytest.mark.asyncio
async def test_events_slow_client_connection_cut_without_its_backlog(serve):
    max_backlog = 64 * 1024
    url = serve(FEED_RATE=200.0, MAX_BACKLOG_BYTES=max_backlog)
    async with client_for(url) as client:
        with unread_stream(url) as sock:
            await wait_for_stats(client, lambda body: body["subscribers"]["sse"] == 1)
            await wait_for_stats(
                client,
                lambda body: body["subscribers"]["sse"] == 0 and body["tasks"] == 0,
                timeout=12.0,
            )
            # Only what the kernels still held: the server dropped the rest at once.
            unread = await asyncio.to_thread(read_until_closed, sock, WAIT)

    assert unread < max_backlog


# In process: what a finished stream leaves on the event loop ---------------------------


def heartbeat_timers() -> list[asyncio.TimerHandle]:
    loop = asyncio.get_running_loop()
    return [
        handle
        for handle in loop._scheduled
        if not handle.cancelled() and "_chunks" in getattr(handle._callback, "__qualname__", "")
    ]


@pytest.mark.asyncio
async def test_events_disconnect_leaves_no_heartbeat_timer(fresh_feed, settings):
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "HEARTBEAT": 0.2}
    inbox: asyncio.Queue[dict] = asyncio.Queue()
    sent: list[dict] = []
    first_body = asyncio.Event()
    blocked = asyncio.Event()

    async def send(message: dict) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            if first_body.is_set():
                # A client slow to take the next chunk: the stream is cancelled
                # here, outside its generator, which must still be closed.
                blocked.set()
                await asyncio.Event().wait()
            first_body.set()

    await inbox.put({"type": "http.request", "body": b"", "more_body": False})
    scope = {"type": "http", "method": "GET", "path": EVENTS, "headers": [], "query_string": b""}
    stream = asyncio.create_task(event_stream(scope, inbox.get, send))
    await asyncio.wait_for(first_body.wait(), 5)
    assert heartbeat_timers()
    await (await get_feed()).publish("tick", {})
    await asyncio.wait_for(blocked.wait(), 5)

    await inbox.put({"type": "http.disconnect"})
    await asyncio.wait_for(stream, 5)

    feed = await get_feed()
    assert heartbeat_timers() == []
    assert feed.subscribers == {}
    assert feed.connection_tasks == set()
    assert sent[0]["status"] == 200
