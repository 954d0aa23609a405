"""The Redis backend for real: one feed shared by several daphne processes.

The daphne tests fork two servers with the same settings (the same Redis key
prefix), so they serve one feed; clients on either process must not be able
to tell which one they are on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from live_demo.events import Event, UnencodableEvent
from live_demo.feed import RedisFeed, current_feed, get_feed, reset_feed
from live_demo.protocol import CLOSE_DROPPED

TIMEOUT = 5.0
# Nothing listens on port 1: a Redis server that is down.
REDIS_DOWN = "redis://127.0.0.1:1/0"


# Helpers ---------------------------------------------------------------------


@dataclass
class SseEvent:
    event: str = "message"
    id: int | None = None
    data: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.data)


class SseStream:
    """The events of one text/event-stream response, read with a deadline each."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, timeout: float = TIMEOUT) -> SseEvent | None:
        """The next event, or None once the server has ended the response."""
        async with asyncio.timeout(timeout):
            event = SseEvent()
            data: list[str] = []
            seen = False
            async for line in self._lines:
                if not line:
                    if seen:
                        event.data = "\n".join(data)
                        return event
                    continue
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                seen = True
                if name == "data":
                    data.append(value)
                elif name == "event":
                    event.event = value
                elif name == "id":
                    event.id = int(value)
                else:
                    event.fields[name] = value
            return None

    async def welcome(self) -> dict[str, Any]:
        first = await self.next()
        assert first is not None
        assert first.event == "welcome"
        return first.json

    async def feed_events(self, count: int, timeout: float = TIMEOUT) -> list[SseEvent]:
        """The next `count` feed events (anything with an id)."""
        events: list[SseEvent] = []
        async with asyncio.timeout(timeout):
            while len(events) < count:
                event = await self.next()
                assert event is not None, "the stream ended"
                assert event.event != "gap", event.data
                if event.id is not None:
                    events.append(event)
        return events

    async def rest(self, timeout: float = TIMEOUT) -> list[SseEvent]:
        """Feed events until the server ends the response (fails after `timeout` s)."""
        events: list[SseEvent] = []
        async with asyncio.timeout(timeout):
            while (event := await self.next()) is not None:
                if event.id is not None:
                    events.append(event)
        return events

    async def until(self, predicate, timeout: float = TIMEOUT) -> list[SseEvent]:
        """Feed events up to and including the first one `predicate` accepts."""
        events: list[SseEvent] = []
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next()
                assert event is not None, "the stream ended"
                if event.id is not None:
                    events.append(event)
                    if predicate(event):
                        return events


@contextlib.asynccontextmanager
async def open_client(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=base_url, timeout=httpx.Timeout(TIMEOUT), trust_env=False
    ) as client:
        yield client


@contextlib.asynccontextmanager
async def open_sse(
    base_url: str, headers: dict[str, str] | None = None
) -> AsyncIterator[SseStream]:
    async with (
        open_client(base_url) as client,
        client.stream("GET", "/demo/events/", headers=headers) as response,
    ):
        assert response.status_code == 200
        yield SseStream(response)


@contextlib.asynccontextmanager
async def open_ws(base_url: str) -> AsyncIterator[ClientConnection]:
    url = base_url.replace("http://", "ws://") + "/ws/demo/"
    async with connect(url, origin=base_url, proxy=None, open_timeout=TIMEOUT) as socket:
        yield socket


async def ws_message(socket: ClientConnection, timeout: float = TIMEOUT) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(socket.recv(), timeout))


async def ws_until(socket: ClientConnection, predicate, timeout: float = TIMEOUT) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            message = await ws_message(socket)
            if predicate(message):
                return message


async def ws_close_code(socket: ClientConnection, timeout: float = TIMEOUT) -> int | None:
    """Read on until the server closes the connection; its close code."""
    async with asyncio.timeout(timeout):
        with contextlib.suppress(ConnectionClosed):
            while True:
                await socket.recv()
    return socket.close_code


async def post_json(base_url: str, path: str, body: dict[str, Any]) -> httpx.Response:
    """A POST the way the page makes it: CSRF cookie from /demo/, token in a header."""
    async with open_client(base_url) as client:
        page = await client.get("/demo/")
        assert page.status_code == 200
        return await client.post(
            path, json=body, headers={"X-CSRFToken": client.cookies["csrftoken"]}
        )


async def stats(base_url: str) -> dict[str, Any]:
    async with open_client(base_url) as client:
        response = await client.get("/demo/stats/")
    assert response.status_code == 200
    return response.json()


def is_chat(nonce: str):
    return lambda event: event.event == "chat" and event.json["payload"]["nonce"] == nonce


def assert_consecutive(ids: list[int]) -> None:
    assert ids == list(range(ids[0], ids[0] + len(ids)))


def redis_client(options: dict[str, Any]) -> redis.Redis:
    return redis.Redis.from_url(options["REDIS_URL"], decode_responses=True)


def leader_token(options: dict[str, Any]) -> str | None:
    with redis_client(options) as client:
        return client.get(f"{options['REDIS_PREFIX']}:leader")


def leader_pid(options: dict[str, Any]) -> int | None:
    token = leader_token(options)
    return int(token.split(":")[0]) if token else None


def lose_feed_data(options: dict[str, Any]) -> set[str]:
    """What a Redis restarted without persistence (or flushed) does to the feed: its keys go.

    One DEL, so no event is published half-way through. Returns the keys deleted.
    """
    with redis_client(options) as client:
        keys = set(client.scan_iter(f"{options['REDIS_PREFIX']}:*"))
        client.delete(*keys)
    return keys


@pytest.fixture
def servers(redis_options, daphne_servers) -> tuple[str, str]:
    """Two daphne processes on one Redis feed (forked after redis_options applied)."""
    return daphne_servers(), daphne_servers()


# Two processes, one feed -----------------------------------------------------------


@pytest.mark.asyncio
async def test_redis_processes_serve_same_events_in_same_order(servers) -> None:
    a, b = servers
    async with open_sse(a) as on_a, open_sse(b) as on_b:
        await on_a.welcome()
        await on_b.welcome()
        first_a, first_b = (await on_a.feed_events(1))[0], (await on_b.feed_events(1))[0]
        start = max(first_a.id, first_b.id)

        async def run_from_start(stream: SseStream, first: SseEvent) -> list[tuple]:
            events = [first] if first.id >= start else []
            while len(events) < 20:
                events.extend(e for e in await stream.feed_events(1) if e.id >= start)
            return [(e.id, e.event, e.data) for e in events]

        run_a, run_b = await asyncio.gather(
            run_from_start(on_a, first_a), run_from_start(on_b, first_b)
        )
    assert run_a == run_b
    assert_consecutive([event_id for event_id, _, _ in run_a])


@pytest.mark.asyncio
async def test_redis_feed_is_ticked_by_one_process(servers, redis_options) -> None:
    a, b = servers
    async with open_sse(a) as on_a, open_sse(b) as on_b:
        pids = {(await on_a.welcome())["server"]["process"]}
        pids.add((await on_b.welcome())["server"]["process"])
        await on_a.feed_events(1)
        await on_b.feed_events(1)
        # Both feeds run now; read on, so both have tried to take the lease.
        ticks = [event.json for event in await on_b.feed_events(21)]
    assert leader_pid(redis_options) in pids
    assert_consecutive([tick["id"] for tick in ticks])
    # One ticker at FEED_RATE spaces 20 intervals over a second; two would
    # interleave their ticks in about half that.
    span = (ticks[-1]["ts"] - ticks[0]["ts"]) / 1000
    assert span >= 0.75 * 20 / redis_options["FEED_RATE"]


@pytest.mark.asyncio
async def test_redis_chat_posted_to_one_process_reaches_both_transports_on_other(
    servers,
) -> None:
    a, b = servers
    nonce = uuid.uuid4().hex
    async with open_sse(b) as sse_b, open_ws(b) as ws_b:
        await sse_b.welcome()
        assert (await ws_message(ws_b))["type"] == "welcome"
        await ws_b.send(json.dumps({"type": "ping", "nonce": "live"}))

        response = await post_json(
            a, "/demo/send/", {"type": "chat", "text": "hello from A", "nonce": nonce}
        )
        assert response.status_code == 201
        ack = response.json()

        via_sse = (await sse_b.until(is_chat(nonce)))[-1]
        via_ws = await ws_until(
            ws_b, lambda m: m["type"] == "chat" and m["payload"]["nonce"] == nonce
        )
    assert ack["type"] == "chat_ack"
    assert via_sse.id == via_ws["id"] == ack["id"]
    assert via_sse.json == via_ws
    assert via_ws["payload"]["text"] == "hello from A"


@pytest.mark.asyncio
async def test_redis_chat_sent_as_websocket_frame_reaches_sse_on_other(servers) -> None:
    a, b = servers
    nonce = uuid.uuid4().hex
    async with open_sse(b) as sse_b, open_ws(a) as ws_a:
        await sse_b.welcome()
        welcome = await ws_message(ws_a)
        await ws_a.send(json.dumps({"type": "chat", "text": "frame from A", "nonce": nonce}))
        chat = (await sse_b.until(is_chat(nonce)))[-1].json
    assert chat["payload"] == {
        "text": "frame from A",
        "via": "websocket",
        "sender": welcome["sender"],
        "nonce": nonce,
    }
    assert welcome["connection"] not in json.dumps(chat)


@pytest.mark.asyncio
async def test_redis_resume_on_other_process_replays_from_shared_history(servers) -> None:
    a, b = servers
    async with open_sse(a) as on_a:
        await on_a.welcome()
        last_id = (await on_a.feed_events(5))[-1].id
    # Let the feed move on while no stream is open to this client.
    async with open_sse(b) as watcher:
        await watcher.welcome()
        await watcher.until(lambda event: event.id >= last_id + 5)

    async with open_sse(b, headers={"Last-Event-ID": str(last_id)}) as on_b:
        await on_b.welcome()
        resumed = await on_b.feed_events(15)
    assert_consecutive([last_id, *(event.id for event in resumed)])


@pytest.mark.asyncio
async def test_redis_drop_posted_to_one_process_ends_stream_on_other(servers) -> None:
    a, b = servers
    async with open_sse(b) as dropped, open_sse(b) as bystander:
        connection = (await dropped.welcome())["connection"]
        await bystander.welcome()
        await dropped.feed_events(1)

        response = await post_json(a, "/demo/drop/", {"connection": connection})
        assert response.status_code == 202

        async with asyncio.timeout(TIMEOUT):
            while (event := await dropped.next()) is not None:
                assert event.event != "welcome"
        # The drop is for that connection only.
        assert len(await bystander.feed_events(3)) == 3


@pytest.mark.asyncio
async def test_redis_feed_survives_leader_crash(servers, redis_options) -> None:
    urls = dict(zip([(await stats(url))["process"] for url in servers], servers, strict=True))
    async with contextlib.AsyncExitStack() as stack:
        streams = {
            pid: await stack.enter_async_context(open_sse(url)) for pid, url in urls.items()
        }
        for stream in streams.values():
            await stream.welcome()
            await stream.feed_events(1)
        leader = leader_pid(redis_options)
        assert leader in urls
        (follower,) = set(urls) - {leader}
        before = await streams[follower].feed_events(3)

        # A crash, not a shutdown: the lease is left to expire (about 2 s).
        os.kill(leader, signal.SIGKILL)
        after = await streams[follower].feed_events(40, timeout=10)
    assert_consecutive([event.id for event in before + after])
    assert leader_pid(redis_options) == follower


@pytest.mark.asyncio
async def test_redis_stats_report_redis_backend(servers) -> None:
    a, _ = servers
    async with open_sse(a) as stream:
        welcome = await stream.welcome()
        body = await stats(a)
    assert welcome["server"]["backend"] == "redis"
    assert body["running"] is True
    assert body["backend"] == "redis"
    assert body["subscribers"]["sse"] == 1


# Redis loses the feed's data ---------------------------------------------------------


@pytest.mark.asyncio
async def test_redis_lost_data_ends_every_connection(servers, redis_options) -> None:
    a, b = servers
    async with open_sse(a) as sse_a, open_sse(b) as sse_b, open_ws(b) as ws_b:
        await sse_a.welcome()
        await sse_b.welcome()
        assert (await ws_message(ws_b))["type"] == "welcome"
        await ws_b.send(json.dumps({"type": "ping"}))
        last_a = (await sse_a.feed_events(1))[-1].id
        last_b = (await sse_b.feed_events(1))[-1].id
        await ws_until(ws_b, lambda message: message["type"] == "tick")

        lost = lose_feed_data(redis_options)
        rest_a, rest_b, code = await asyncio.gather(
            sse_a.rest(), sse_b.rest(), ws_close_code(ws_b)
        )
    assert f"{redis_options['REDIS_PREFIX']}:epoch" in lost
    assert code == CLOSE_DROPPED
    # Up to the end, each stream carried the old sequence only, in order.
    assert_consecutive([last_a, *(event.id for event in rest_a)])
    assert_consecutive([last_b, *(event.id for event in rest_b)])


async def old_sequence_ends(
    servers: tuple[str, str], options: dict[str, Any]
) -> tuple[int, list[int]]:
    """An SSE client on each server, Redis losing the feed's data: the sequence's
    first id, and each client's last.

    The old sequence has given only a few ids (the servers' ticks).
    """
    async with open_sse(servers[0]) as one, open_sse(servers[1]) as other:
        streams = (one, other)
        for stream in streams:
            await stream.welcome()
        seen = await asyncio.gather(*(stream.feed_events(2) for stream in streams))
        first = sequence_first(options)
        lose_feed_data(options)
        rest = await asyncio.gather(*(stream.rest() for stream in streams))
    return first, [
        max(event.id for event in [*before, *after])
        for before, after in zip(seen, rest, strict=True)
    ]


def sequence_first(options: dict[str, Any]) -> int:
    """The first id of the feed's current sequence."""
    with redis_client(options) as client:
        return int(client.get(f"{options['REDIS_PREFIX']}:first") or 1)


async def new_sequence_passes(options: dict[str, Any], old_first: int, old_ids: list[int]) -> int:
    """The new sequence taken past as many ids as the old one gave; its first id.

    Counted from 1 again, its ids would now include the clients' own, and a
    resume from one of them would carry on in the new sequence unnoticed.
    """
    async with redis_feed(options) as elsewhere:
        await publish_chats(elsewhere, 100)
        history = await elsewhere.history_after(0)
    assert history.newest - history.first >= max(old_ids) - old_first
    return history.first


async def sse_resume(base_url: str, last_id: int, count: int) -> tuple[SseEvent, list[SseEvent]]:
    """Reconnect with Last-Event-ID: what comes first, and the next `count` feed events."""
    async with open_sse(base_url, headers={"Last-Event-ID": str(last_id)}) as stream:
        await stream.welcome()
        first = await stream.next()
        assert first is not None
        return first, await stream.feed_events(count)


@pytest.mark.asyncio
async def test_redis_resume_after_lost_data_gets_restarted_gap(servers, redis_options) -> None:
    old_first, old_ids = await old_sequence_ends(servers, redis_options)
    first = await new_sequence_passes(redis_options, old_first, old_ids)

    resumed = await asyncio.gather(
        *(sse_resume(url, last_id, 10) for url, last_id in zip(servers, old_ids, strict=True))
    )
    for (gap, events), last_id in zip(resumed, old_ids, strict=True):
        assert gap.event == "gap"
        assert gap.id is None
        assert gap.json["reason"] == "restarted"
        assert gap.json["last_id"] == last_id
        # The new sequence, from its first event on.
        assert [event.id for event in events] == list(range(first, first + 10))


@pytest.mark.asyncio
async def test_redis_websocket_resume_after_lost_data_gets_restarted_gap(
    servers, redis_options
) -> None:
    a, _ = servers
    async with open_ws(a) as socket:
        assert (await ws_message(socket))["type"] == "welcome"
        await socket.send(json.dumps({"type": "ping"}))
        tick = await ws_until(socket, lambda message: message["type"] == "tick")
        old_first = sequence_first(redis_options)
        lose_feed_data(redis_options)
        code = await ws_close_code(socket)
    first = await new_sequence_passes(redis_options, old_first, [tick["id"]])
    async with open_ws(a) as socket:
        assert (await ws_message(socket))["type"] == "welcome"
        await socket.send(json.dumps({"type": "resume", "last_id": tick["id"]}))
        gap = await ws_message(socket)
        events = [await ws_message(socket) for _ in range(10)]
    assert code == CLOSE_DROPPED
    assert gap["type"] == "gap"
    assert gap["reason"] == "restarted"
    assert gap["last_id"] == tick["id"]
    assert [event["id"] for event in events] == list(range(first, first + 10))


# In this process ----------------------------------------------------------------


@contextlib.asynccontextmanager
async def redis_feed(options: dict[str, Any], **overrides: Any) -> AsyncIterator[RedisFeed]:
    """A RedisFeed that is never started: publish and history only, no ticker."""
    feed = RedisFeed({**options, **overrides})
    try:
        yield feed
    finally:
        await feed.aclose()


async def publish_chats(feed: RedisFeed, count: int) -> list[Event]:
    return [await feed.publish("chat", {"text": f"message {n}"}) for n in range(1, count + 1)]


@pytest.mark.asyncio
async def test_redis_publish_assigns_consecutive_ids_across_feeds(
    fresh_feed, redis_options
) -> None:
    async with redis_feed(redis_options) as one, redis_feed(redis_options) as other:
        events = await asyncio.gather(
            *(feed.publish("chat", {"text": str(n)}) for n in range(30) for feed in (one, other))
        )
        history, oldest, newest, first = await one.history_after(0)
    assert sorted(event.id for event in events) == list(range(first, first + 60))
    assert [event.id for event in history] == list(range(first, first + 60))
    assert (oldest, newest) == (first, first + 59)


@pytest.mark.asyncio
async def test_redis_history_after_returns_newer_events_in_order(
    fresh_feed, redis_options
) -> None:
    async with redis_feed(redis_options) as feed:
        published = await publish_chats(feed, 10)
        events, oldest, newest, _ = await feed.history_after(published[3].id)
    assert events == published[4:]
    assert (oldest, newest) == (published[0].id, published[-1].id)


@pytest.mark.asyncio
async def test_redis_history_is_bounded_by_history_option(fresh_feed, redis_options) -> None:
    async with redis_feed(redis_options, HISTORY=5) as feed:
        published = await publish_chats(feed, 12)
        events, oldest, newest, _ = await feed.history_after(0)
        bounds = await feed.history_bounds()
    assert events == published[-5:]
    assert (oldest, newest) == (published[7].id, published[11].id)
    assert bounds == (oldest, newest, published[0].id)


@pytest.mark.asyncio
async def test_redis_start_from_expired_id_sends_gap_notice_first(
    fresh_feed, redis_options
) -> None:
    async with redis_feed(redis_options, HISTORY=5) as feed:
        published = await publish_chats(feed, 12)
        subscriber = feed.subscribe("websocket")
        items = await feed.start_from(subscriber, published[1].id)
    gap, *events = items
    assert gap["type"] == "gap"
    assert gap["reason"] == "expired"
    bounds = (published[1].id, published[7].id, published[11].id, 5)
    assert (gap["last_id"], gap["oldest"], gap["newest"], gap["missed"]) == bounds
    assert events == published[-5:]


@pytest.mark.asyncio
async def test_redis_start_from_kept_id_replays_without_gap(fresh_feed, redis_options) -> None:
    async with redis_feed(redis_options, HISTORY=5) as feed:
        published = await publish_chats(feed, 12)
        subscriber = feed.subscribe("sse")
        items = await feed.start_from(subscriber, published[8].id)
    assert items == published[9:]


@pytest.mark.asyncio
async def test_redis_started_feed_delivers_published_events_to_subscribers(
    fresh_feed, redis_options
) -> None:
    feed = await get_feed()
    subscriber = feed.subscribe("websocket")
    async with redis_feed(redis_options) as elsewhere:
        sent = await elsewhere.publish("chat", {"text": "from another process"})
    received: list[Event] = []
    async with asyncio.timeout(TIMEOUT):
        while sent not in received:
            received.extend(await subscriber.next_batch())
    assert feed.backend == "redis"
    assert_consecutive([event.id for event in received])


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "payload", [{"text": "x \ud800"}, {"price": float("nan")}], ids=["lone-surrogate", "nan"]
)
async def test_redis_publish_unencodable_refused_before_redis(
    fresh_feed, redis_options, payload
) -> None:
    client = redis_client(redis_options)
    try:
        async with redis_feed(redis_options) as feed:
            published = await publish_chats(feed, 2)
            with pytest.raises(UnencodableEvent):
                await feed.publish("chat", payload)
            # The script never ran: no id taken, nothing stored.
            assert client.get(f"{redis_options['REDIS_PREFIX']}:id") == str(published[1].id)
            events, oldest, newest, _ = await feed.history_after(0)
            assert events == published
            assert (oldest, newest) == (published[0].id, published[1].id)
            # The next event takes the next id.
            assert (await feed.publish("chat", {"text": "after"})).id == published[1].id + 1
    finally:
        client.close()


# Text as browsers send it: escapes, pairs, controls, non-ASCII; each comes back as it went.
ODD_TEXTS = [
    "é ü 中文",
    "\U0001f600 \u2028 \u2029",
    'quote " back\\slash',
    "nul \0 tab \t",
    "a\nb",
]


@pytest.mark.asyncio
async def test_redis_published_text_decodes_unchanged_live_and_replayed(
    fresh_feed, redis_options
) -> None:
    feed = await get_feed()
    subscriber = feed.subscribe("websocket")
    async with redis_feed(redis_options) as elsewhere:
        sent = [await elsewhere.publish("chat", {"text": text}) for text in ODD_TEXTS]
    received: list[Event] = []
    async with asyncio.timeout(TIMEOUT):
        while sent[-1] not in received:
            received.extend(await subscriber.next_batch())
    replayed = (await feed.history_after(sent[0].id - 1)).events
    for events in (received, replayed):
        chats = [event for event in events if event.type == "chat"]
        assert [event.payload["text"] for event in chats] == ODD_TEXTS
        assert [event.encoded().json for event in chats] == [event.json for event in sent]


@pytest.mark.asyncio
async def test_redis_unreadable_entry_skipped_feed_goes_on(fresh_feed, redis_options) -> None:
    # Something other than publish() wrote under the feed's keys: the process
    # skips it (logged) instead of losing its subscription over it, again and again.
    feed = await get_feed()
    subscriber = feed.subscribe("websocket")
    prefix = redis_options["REDIS_PREFIX"]
    client = redis_client(redis_options)
    try:
        client.publish(f"{prefix}:events", f"{feed.epoch}\nnot json")
        junk_id = client.incr(f"{prefix}:id")
        client.zadd(f"{prefix}:history", {'{"id":' + str(junk_id) + "}": junk_id})
    finally:
        client.close()
    async with redis_feed(redis_options) as elsewhere:
        sent = await elsewhere.publish("chat", {"text": "after the junk"})
    received: list[Event] = []
    async with asyncio.timeout(TIMEOUT):
        while sent not in received:
            received.extend(await subscriber.next_batch())
    replayed = (await feed.history_after(junk_id - 1)).events
    assert junk_id not in [event.id for event in replayed]
    assert sent in replayed


async def leading_feed() -> RedisFeed:
    """This process's feed, once it has ticked: it holds the lease."""
    feed = await get_feed()
    subscriber = feed.subscribe("websocket")
    async with asyncio.timeout(TIMEOUT):
        while not await subscriber.next_batch():
            pass
    feed.unsubscribe(subscriber)
    assert feed.leading
    return feed


@pytest.mark.asyncio
async def test_redis_feed_closing_gives_up_its_lease(fresh_feed, redis_options) -> None:
    await leading_feed()
    assert leader_pid(redis_options) == os.getpid()

    await reset_feed()

    assert leader_token(redis_options) is None


@pytest.mark.asyncio
async def test_redis_feed_closing_keeps_a_lease_it_lost(fresh_feed, redis_options) -> None:
    feed = await leading_feed()
    # Another process took the lease (this one stalled past it): a blocking
    # call, so this feed cannot tick in between and still believes it leads.
    with redis_client(redis_options) as client:
        client.set(f"{redis_options['REDIS_PREFIX']}:leader", "other:token", px=60_000)
    assert feed.leading

    await reset_feed()

    assert leader_token(redis_options) == "other:token"


@pytest.mark.asyncio
async def test_redis_unreachable_get_feed_fails_every_caller(fresh_feed, settings) -> None:
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "REDIS_URL": REDIS_DOWN}
    baseline = asyncio.all_tasks()

    # The feed gives the Redis server 10 s to answer.
    async with asyncio.timeout(15):
        results = await asyncio.gather(get_feed(), get_feed(), return_exceptions=True)

    first, second = results
    assert isinstance(first, Exception)  # CancelledError is not one
    assert type(second) is type(first)
    assert current_feed() is None
    assert asyncio.all_tasks() == baseline
