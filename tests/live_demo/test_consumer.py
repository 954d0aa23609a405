"""The WebSocket endpoint /ws/demo/, in process, through the real ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator

from advisor.asgi import application
from advisor.limits import RateLimiter
from live_demo import consumers
from live_demo.consumers import DemoConsumer
from live_demo.feed import Subscriber, get_feed, public_id
from live_demo.protocol import CLOSE_TOO_FAST, welcome

ALLOWED_ORIGIN = b"http://127.0.0.1"
# A browser's handshake names the host it connects to; the origin is the same site's.
HOST = (b"host", b"127.0.0.1")
TIMEOUT = 5


def communicator(path: str = "/ws/demo/", origin: bytes = ALLOWED_ORIGIN) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=[HOST, (b"origin", origin)])


@asynccontextmanager
async def demo_client(
    client: WebsocketCommunicator | None = None,
) -> AsyncIterator[tuple[WebsocketCommunicator, dict[str, Any]]]:
    """A connected client and its welcome message; disconnected afterwards."""
    client = client or communicator()
    try:
        connected, _ = await client.connect(timeout=TIMEOUT)
        assert connected
        welcome = await client.receive_json_from(timeout=TIMEOUT)
        yield client, welcome
    finally:
        await client.disconnect(timeout=TIMEOUT)


async def receive_until(
    client: WebsocketCommunicator, predicate: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Every message up to and including the first that matches `predicate`."""
    messages = []
    async with asyncio.timeout(TIMEOUT):
        while True:
            message = await client.receive_json_from(timeout=TIMEOUT)
            messages.append(message)
            if predicate(message):
                return messages


async def receive_close(client: WebsocketCommunicator) -> dict[str, Any]:
    """The close the server sends, skipping whatever was queued before it."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            output = await client.receive_output(timeout=TIMEOUT)
            if output["type"] == "websocket.close":
                return output


async def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def feed_events(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [message for message in messages if message.get("type") in {"tick", "chat"}]


def event_ids(messages: list[dict[str, Any]]) -> list[int]:
    return [message["id"] for message in feed_events(messages)]


def is_type(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: message.get("type") == kind


def id_at_least(last_id: int) -> Callable[[dict[str, Any]], bool]:
    return lambda message: message.get("type") in {"tick", "chat"} and message["id"] >= last_id


async def publish_ticks(count: int) -> None:
    feed = await get_feed()
    for number in range(count):
        await feed.publish("tick", {"symbol": "TEST", "price": float(number), "change": 0.0})


@pytest.fixture
def options(settings) -> Callable[..., dict]:
    """Change LIVE_DEMO options before the feed starts (it starts on first connect)."""

    def change(**values: Any) -> dict:
        settings.LIVE_DEMO = {**settings.LIVE_DEMO, **values}
        return settings.LIVE_DEMO

    return change


# Welcome and feed -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_welcome_first_message(fresh_feed, settings):
    async with demo_client() as (_, welcome):
        limits = settings.LIVE_DEMO
        assert welcome["type"] == "welcome"
        assert len(welcome["connection"]) == 32
        assert welcome["transport"] == "websocket"
        assert isinstance(welcome["last_id"], int)
        assert welcome["limits"] == {
            "max_text_bytes": limits["MAX_TEXT_BYTES"],
            "max_binary_bytes": limits["MAX_BINARY_BYTES"],
            "max_messages_per_second": limits["MAX_MESSAGES_PER_SECOND"],
            "max_chat_chars": limits["MAX_CHAT_CHARS"],
            "history": limits["HISTORY"],
            "resume_window": limits["RESUME_WINDOW"],
        }


@pytest.mark.asyncio
async def test_welcome_last_id_where_stream_starts_though_feed_moved_on(fresh_feed):
    # SSE builds its welcome in a task of its own, so the feed can move on
    # between subscribing and the welcome: events after last_id are live ones.
    feed = await get_feed()
    await publish_ticks(2)
    subscriber = feed.subscribe("sse")
    start = feed.last_id
    await publish_ticks(3)
    assert welcome(feed, subscriber)["last_id"] == start
    assert [event.id for event in await subscriber.next_batch()] == [
        start + 1,
        start + 2,
        start + 3,
    ]
    feed.unsubscribe(subscriber)


@pytest.mark.asyncio
async def test_messages_handled_without_database_round_trips(fresh_feed, monkeypatch):
    # Channels would close stale database connections in a worker thread
    # before every message; the demo holds none, so it skips that trip.
    trips = []

    async def close_old_connections() -> None:
        trips.append(1)

    monkeypatch.setattr("channels.consumer.aclose_old_connections", close_old_connections)
    async with demo_client() as (client, _):
        await client.send_json_to({"type": "ping", "nonce": "n"})
        await receive_until(client, is_type("pong"))
    assert trips == []


@pytest.mark.asyncio
async def test_welcome_sender_public_id(fresh_feed):
    async with demo_client() as (_, welcome):
        assert welcome["sender"] == public_id(welcome["connection"])
        assert len(welcome["sender"]) == 12
        assert welcome["sender"] not in welcome["connection"]


@pytest.mark.asyncio
async def test_welcome_connection_ids_differ(fresh_feed):
    async with demo_client() as (_, first), demo_client() as (_, second):
        assert first["connection"] != second["connection"]


@pytest.mark.asyncio
async def test_feed_events_consecutive_ids(fresh_feed):
    async with demo_client() as (client, welcome):
        messages = await receive_until(client, id_at_least(welcome["last_id"] + 5))
        ids = event_ids(messages)
        assert ids == list(range(ids[0], ids[-1] + 1))
        assert ids[0] == welcome["last_id"] + 1


@pytest.mark.asyncio
async def test_feed_events_carry_ts_and_payload(fresh_feed):
    async with demo_client() as (client, welcome):
        [tick] = await receive_until(client, is_type("tick"))
        assert set(tick) == {"id", "type", "ts", "payload"}
        assert tick["ts"] >= welcome["ts"]
        assert set(tick["payload"]) == {"symbol", "price", "change"}


@pytest.mark.asyncio
async def test_feed_same_ids_same_order_for_two_clients(fresh_feed):
    async with demo_client() as (first, welcome), demo_client() as (second, _):
        await publish_ticks(3)
        target = welcome["last_id"] + 10
        seen_first = feed_events(await receive_until(first, id_at_least(target)))
        seen_second = feed_events(await receive_until(second, id_at_least(target)))
        common = max(seen_first[0]["id"], seen_second[0]["id"])
        assert [e for e in seen_first if e["id"] >= common] == [
            e for e in seen_second if e["id"] >= common
        ]


# Chat --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_chat_reaches_other_client(fresh_feed):
    async with demo_client() as (sender, hello), demo_client() as (other, _):
        await sender.send_json_to({"type": "chat", "text": "  hello all ", "nonce": "n-1"})
        messages = await receive_until(other, is_type("chat"))
        chat = messages[-1]
        assert chat["payload"] == {
            "text": "hello all",
            "via": "websocket",
            "sender": hello["sender"],
            "nonce": "n-1",
        }
        assert isinstance(chat["id"], int)


@pytest.mark.asyncio
async def test_chat_sender_never_connection_id(fresh_feed):
    async with demo_client() as (sender, hello), demo_client() as (other, _):
        await sender.send_json_to({"type": "chat", "text": "who am I"})
        messages = await receive_until(other, is_type("chat"))
        assert messages[-1]["payload"]["sender"] == hello["sender"]
        assert hello["connection"] not in json.dumps(messages)


@pytest.mark.asyncio
async def test_chat_reaches_sender_with_same_id(fresh_feed):
    async with demo_client() as (sender, _), demo_client() as (other, _):
        await sender.send_json_to({"type": "chat", "text": "hi"})
        mine = (await receive_until(sender, is_type("chat")))[-1]
        theirs = (await receive_until(other, is_type("chat")))[-1]
        assert mine == theirs


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"type": "chat", "text": "x" * 501}, "chat_too_long"),
        ({"type": "chat", "text": "   "}, "invalid_chat"),
        ({"type": "chat"}, "invalid_chat"),
        ({"type": "chat", "text": 42}, "invalid_chat"),
    ],
    ids=["too-long", "empty", "missing", "not-a-string"],
)
async def test_chat_invalid_error_to_sender_only(fresh_feed, message, code):
    async with demo_client() as (sender, _), demo_client() as (other, _):
        await sender.send_json_to(message)
        error = (await receive_until(sender, is_type("error")))[-1]
        assert error["code"] == code
        await sender.send_json_to({"type": "ping", "nonce": "still-up"})
        assert (await receive_until(sender, is_type("pong")))[-1]["nonce"] == "still-up"
        # Anything sent to everyone would reach the other client before this chat.
        await sender.send_json_to({"type": "chat", "text": "marker"})
        seen = await receive_until(other, is_type("chat"))
        assert not [m for m in seen if m["type"] == "error"]
        assert seen[-1]["payload"]["text"] == "marker"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "message",
    [{"type": "chat", "text": "x \ud800"}, {"type": "chat", "text": "hi", "nonce": "\udfff"}],
    ids=["text", "nonce"],
)
async def test_chat_lone_surrogate_error_socket_open_history_intact(fresh_feed, options, message):
    options(FEED_RATE=0)  # only chats take ids
    async with demo_client() as (client, _):
        await client.send_json_to({"type": "chat", "text": "before"})
        before = (await receive_until(client, is_type("chat")))[-1]
        # As a browser sends it: the surrogate as a JSON escape.
        await client.send_to(text_data=json.dumps(message))
        error = (await receive_until(client, is_type("error")))[-1]
        assert error["code"] in {"invalid_chat", "invalid_nonce"}
        await client.send_json_to({"type": "chat", "text": "after"})
        after = (await receive_until(client, is_type("chat")))[-1]
        assert after["id"] == before["id"] + 1
    feed = await get_feed()
    history = (await feed.history_after(0))[0]
    assert [event.payload["text"] for event in history] == ["before", "after"]


@pytest.mark.asyncio
async def test_chat_500_chars_accepted(fresh_feed):
    async with demo_client() as (client, _):
        await client.send_json_to({"type": "chat", "text": "y" * 500})
        chat = (await receive_until(client, lambda m: m["type"] in {"chat", "error"}))[-1]
        assert chat["type"] == "chat"
        assert chat["payload"]["text"] == "y" * 500


# Ping ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_ping_answered_at_once_type_nonce_ts(fresh_feed, options):
    # A long resume window: the pong must not wait for it.
    options(RESUME_WINDOW=30)
    async with demo_client() as (client, _):
        await client.send_json_to({"type": "ping", "nonce": "abc"})
        pong = await client.receive_json_from(timeout=TIMEOUT)
        assert pong["type"] == "pong"
        assert pong["nonce"] == "abc"
        assert isinstance(pong["ts"], float)


@pytest.mark.asyncio
async def test_ping_fields_echoed_at_once(fresh_feed, options):
    # A long resume window: the pong must not wait for it.
    options(RESUME_WINDOW=30)
    async with demo_client() as (client, _):
        await client.send_json_to({"type": "ping", "sent": 123.5, "id": 7})
        pong = await client.receive_json_from(timeout=TIMEOUT)
        assert set(pong) == {"type", "sent", "id", "ts", "server_ts"}
        assert (pong["type"], pong["sent"], pong["id"]) == ("pong", 123.5, 7)
        assert isinstance(pong["server_ts"], float)
        assert pong["ts"] == pong["server_ts"]


@pytest.mark.asyncio
async def test_ping_nan_field_not_echoed(fresh_feed):
    async with demo_client() as (client, _):
        await client.send_to(text_data='{"type": "ping", "nonce": "n", "x": NaN}')
        async with asyncio.timeout(TIMEOUT):
            output = await client.receive_output(timeout=TIMEOUT)
            while '"pong"' not in output.get("text", ""):
                output = await client.receive_output(timeout=TIMEOUT)
        assert "NaN" not in output["text"]
        assert set(json.loads(output["text"])) == {"type", "nonce", "ts", "server_ts"}


@pytest.mark.asyncio
async def test_ping_nonce_too_long_error(fresh_feed):
    async with demo_client() as (client, _):
        await client.send_json_to({"type": "ping", "nonce": "n" * 65})
        error = (await receive_until(client, lambda m: m["type"] in {"error", "pong"}))[-1]
        assert error["type"] == "error"
        assert error["code"] == "invalid_nonce"


# Resume -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_resume_first_message_replays_then_live_without_gap_or_dup(fresh_feed):
    async with demo_client() as (first, _):
        await first.send_json_to({"type": "ping"})
        last_seen = event_ids(await receive_until(first, is_type("tick")))[-1]
    feed = await get_feed()
    await wait_until(lambda: feed.last_id >= last_seen + 5)
    async with demo_client() as (second, welcome):
        await second.send_json_to({"type": "resume", "last_id": last_seen})
        # Past the replay (up to the welcome's id and beyond) into live events.
        target = feed.last_id + 10
        messages = await receive_until(second, id_at_least(target))
        assert welcome["last_id"] > last_seen
        assert [m["type"] for m in messages if m["type"] not in {"tick", "chat"}] == []
        assert event_ids(messages) == list(range(last_seen + 1, target + 1))


@pytest.mark.asyncio
async def test_resume_at_newest_replays_nothing(fresh_feed, options):
    options(FEED_RATE=0.001)
    await publish_ticks(3)
    async with demo_client() as (client, welcome):
        await client.send_json_to({"type": "resume", "last_id": welcome["last_id"]})
        await publish_ticks(1)
        assert event_ids(await receive_until(client, is_type("tick"))) == [welcome["last_id"] + 1]


@pytest.mark.asyncio
async def test_resume_older_than_history_gap_first(fresh_feed, options):
    options(HISTORY=5)
    await publish_ticks(20)
    first = (await get_feed()).first_id
    async with demo_client() as (client, welcome):
        await client.send_json_to({"type": "resume", "last_id": first})
        gap = await client.receive_json_from(timeout=TIMEOUT)
        assert gap["type"] == "gap"
        assert gap["reason"] == "expired"
        assert gap["last_id"] == first
        assert gap["oldest"] >= welcome["last_id"] - 4
        assert gap["missed"] == gap["oldest"] - first - 1
        messages = await receive_until(client, id_at_least(gap["newest"] + 2))
        assert event_ids(messages) == list(range(gap["oldest"], gap["newest"] + 3))


def replay_then_live(
    ids: list[int], *, last_id: int, received: int, until: int
) -> tuple[list[int], list[int]]:
    """Split what came after a late resume: events already on their way, then the replay.

    The replay starts again after `last_id`: each id once, in order, up to
    `until` (past it, live), with no gap and no duplicate.
    """
    assert last_id + 1 in ids
    start = ids.index(last_id + 1)
    in_flight, replayed = ids[:start], ids[start:]
    assert in_flight == list(range(received + 1, received + 1 + len(in_flight)))
    assert replayed == list(range(last_id + 1, until + 1))
    return in_flight, replayed


@pytest.mark.asyncio
async def test_resume_after_window_rewinds_then_live_without_gap_or_dup(fresh_feed):
    async with demo_client() as (client, welcome):
        # Events flow only once the resume window has ended: it is live.
        seen = await receive_until(client, is_type("tick"))
        seen += await receive_until(client, id_at_least(event_ids(seen)[0] + 5))
        received = event_ids(seen)[-1]
        assert event_ids(seen) == list(range(welcome["last_id"] + 1, received + 1))
        last_id = received - 3
        await client.send_json_to({"type": "resume", "last_id": last_id})
        # The feed keeps ticking: about 30 events, replayed and live.
        after = await receive_until(client, id_at_least(received + 30))
        assert [m["type"] for m in after if m["type"] not in {"tick", "chat"}] == []
        _, replayed = replay_then_live(
            event_ids(after), last_id=last_id, received=received, until=received + 30
        )
        # Sent twice, as asked: the resume said only these were had.
        assert replayed[:3] == event_ids(seen)[-3:]


@pytest.mark.asyncio
async def test_resume_after_ping_replays_events_from_before_connecting(fresh_feed, options):
    options(FEED_RATE=0.001)
    await publish_ticks(10)
    async with demo_client() as (client, welcome):
        await client.send_json_to({"type": "ping", "nonce": "first"})
        await receive_until(client, is_type("pong"))
        # Never sent on this connection: they came before it.
        last_id = welcome["last_id"] - 4
        await client.send_json_to({"type": "resume", "last_id": last_id})
        replay = await receive_until(client, id_at_least(welcome["last_id"]))
        assert [m["type"] for m in replay] == ["tick"] * 4
        assert event_ids(replay) == list(range(last_id + 1, welcome["last_id"] + 1))
        await publish_ticks(30)
        live = await receive_until(client, id_at_least(welcome["last_id"] + 30))
        assert event_ids(live) == list(range(welcome["last_id"] + 1, welcome["last_id"] + 31))
        assert [m["type"] for m in live] == ["tick"] * 30


@pytest.mark.asyncio
async def test_resume_after_live_rewinds_events_sent_and_unsent(fresh_feed, options):
    options(FEED_RATE=0.001)
    await publish_ticks(5)
    async with demo_client() as (client, welcome):
        await client.send_json_to({"type": "ping", "nonce": "first"})
        await receive_until(client, is_type("pong"))
        await publish_ticks(3)
        sent = event_ids(await receive_until(client, id_at_least(welcome["last_id"] + 3)))
        assert sent == list(range(welcome["last_id"] + 1, welcome["last_id"] + 4))
        await client.send_json_to({"type": "resume", "last_id": welcome["last_id"] - 2})
        replay = await receive_until(client, id_at_least(sent[-1]))
        assert event_ids(replay) == list(range(welcome["last_id"] - 1, sent[-1] + 1))
        await publish_ticks(2)
        live = await receive_until(client, id_at_least(sent[-1] + 2))
        assert event_ids(live) == [sent[-1] + 1, sent[-1] + 2]


@pytest.mark.asyncio
async def test_resume_after_live_at_newest_nothing_repeated(fresh_feed, options):
    options(FEED_RATE=0.001)
    await publish_ticks(3)
    async with demo_client() as (client, welcome):
        await client.send_json_to({"type": "ping", "nonce": "first"})
        await receive_until(client, is_type("pong"))
        await client.send_json_to({"type": "resume", "last_id": welcome["last_id"]})
        await publish_ticks(2)
        messages = await receive_until(client, id_at_least(welcome["last_id"] + 2))
        assert event_ids(messages) == [welcome["last_id"] + 1, welcome["last_id"] + 2]
        assert [m["type"] for m in messages] == ["tick", "tick"]


@pytest.mark.asyncio
async def test_resume_after_live_older_than_history_gap_first(fresh_feed, options):
    options(HISTORY=5, FEED_RATE=0.001)
    await publish_ticks(20)
    first = (await get_feed()).first_id
    async with demo_client() as (client, welcome):
        await client.send_json_to({"type": "ping", "nonce": "first"})
        await receive_until(client, is_type("pong"))
        await client.send_json_to({"type": "resume", "last_id": first})
        gap = await client.receive_json_from(timeout=TIMEOUT)
        assert gap["type"] == "gap"
        assert gap["reason"] == "expired"
        assert (gap["last_id"], gap["newest"]) == (first, welcome["last_id"])
        assert gap["oldest"] == welcome["last_id"] - 4
        assert gap["missed"] == gap["oldest"] - first - 1
        replay = await receive_until(client, id_at_least(gap["newest"]))
        assert event_ids(replay) == list(range(gap["oldest"], gap["newest"] + 1))
        assert [m["type"] for m in replay] == ["tick"] * 5
        await publish_ticks(3)
        live = await receive_until(client, id_at_least(gap["newest"] + 3))
        assert event_ids(live) == list(range(gap["newest"] + 1, gap["newest"] + 4))


@pytest.mark.asyncio
async def test_resume_after_live_newer_than_feed_restarted_gap(fresh_feed, options):
    options(FEED_RATE=0.001)
    await publish_ticks(3)
    first = (await get_feed()).first_id
    async with demo_client() as (client, welcome):
        await client.send_json_to({"type": "ping", "nonce": "first"})
        await receive_until(client, is_type("pong"))
        await client.send_json_to({"type": "resume", "last_id": welcome["last_id"] + 1000})
        gap = await client.receive_json_from(timeout=TIMEOUT)
        assert gap["type"] == "gap"
        assert gap["reason"] == "restarted"
        assert gap["last_id"] == welcome["last_id"] + 1000
        assert (gap["oldest"], gap["newest"], gap["missed"]) == (first, welcome["last_id"], None)
        # The whole history again, from the start.
        replay = await receive_until(client, id_at_least(welcome["last_id"]))
        assert event_ids(replay) == list(range(first, welcome["last_id"] + 1))
        assert [m["type"] for m in replay] == ["tick"] * (welcome["last_id"] - first + 1)
        await publish_ticks(2)
        live = await receive_until(client, id_at_least(welcome["last_id"] + 2))
        assert event_ids(live) == [welcome["last_id"] + 1, welcome["last_id"] + 2]


@pytest.mark.asyncio
@pytest.mark.parametrize("last_id", ["x", -1, True, 1.5, None])
async def test_resume_invalid_last_id_error(fresh_feed, last_id):
    async with demo_client() as (client, _):
        await client.send_json_to({"type": "resume", "last_id": last_id})
        error = (await receive_until(client, is_type("error")))[-1]
        assert error["code"] == "invalid_resume"
        await client.send_json_to({"type": "ping", "nonce": "up"})
        assert (await receive_until(client, is_type("pong")))[-1]["nonce"] == "up"


# Malformed messages ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_non_json_error_invalid_json(fresh_feed):
    async with demo_client() as (client, _):
        await client.send_to(text_data="not json {")
        error = (await receive_until(client, is_type("error")))[-1]
        assert error["code"] == "invalid_json"
        await client.send_json_to({"type": "ping", "nonce": "up"})
        assert (await receive_until(client, is_type("pong")))[-1]["nonce"] == "up"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "text",
    [
        '{"type": "ping", "nonce": ' + "9" * 5000 + "}",
        "[" * 30000,
        "[" * 30000 + "]" * 30000,
    ],
    ids=["5000-digit-number", "30000-open-brackets", "30000-nested-arrays"],
)
async def test_json_python_cannot_hold_error_invalid_json(fresh_feed, text):
    assert len(text) <= 64 * 1024
    async with demo_client() as (client, _):
        await client.send_to(text_data=text)
        error = (await receive_until(client, is_type("error")))[-1]
        assert error["code"] == "invalid_json"
        await client.send_json_to({"type": "ping", "nonce": "up"})
        assert (await receive_until(client, is_type("pong")))[-1]["nonce"] == "up"


@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["[1, 2]", '"chat"', "42", "null"])
async def test_json_not_object_error(fresh_feed, text):
    async with demo_client() as (client, _):
        await client.send_to(text_data=text)
        error = (await receive_until(client, is_type("error")))[-1]
        assert error["code"] == "invalid_message"


@pytest.mark.asyncio
async def test_unknown_type_error(fresh_feed):
    async with demo_client() as (client, _), demo_client() as (other, _):
        await client.send_json_to({"type": "subscribe"})
        error = (await receive_until(client, is_type("error")))[-1]
        assert error["code"] == "unknown_type"
        await client.send_json_to({"type": "chat", "text": "marker"})
        seen = await receive_until(other, is_type("chat"))
        assert not [m for m in seen if m["type"] == "error"]


# Binary -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_binary_frame_acknowledged_with_sha256(fresh_feed):
    data = bytes(range(256)) * 4
    async with demo_client() as (client, _):
        await client.send_to(bytes_data=data)
        ack = (await receive_until(client, is_type("binary_ack")))[-1]
        assert ack["size"] == len(data)
        assert ack["sha256"] == hashlib.sha256(data).hexdigest()
        assert ack["wire_bytes"] == len(data) + 8


# Size limits --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_text_over_64_kib_closed_4009(fresh_feed):
    async with demo_client() as (client, _):
        await client.send_to(text_data="x" * (64 * 1024 + 1))
        assert (await receive_close(client))["code"] == 4009


@pytest.mark.asyncio
async def test_text_of_64_kib_not_closed(fresh_feed):
    async with demo_client() as (client, _):
        padding = "x" * (64 * 1024 - len('{"type":"ping","nonce":"big","pad":""}'))
        text = json.dumps({"type": "ping", "nonce": "big", "pad": padding}, separators=(",", ":"))
        assert len(text.encode()) == 64 * 1024
        await client.send_to(text_data=text)
        assert (await receive_until(client, is_type("pong")))[-1]["nonce"] == "big"


@pytest.mark.asyncio
async def test_binary_over_1_mib_closed_4009(fresh_feed):
    async with demo_client() as (client, _):
        await client.send_to(bytes_data=b"\x01" * (1024 * 1024 + 1))
        assert (await receive_close(client))["code"] == 4009


@pytest.mark.asyncio
async def test_binary_of_1_mib_acknowledged(fresh_feed):
    async with demo_client() as (client, _):
        await client.send_to(bytes_data=b"\x01" * (1024 * 1024))
        assert (await receive_until(client, is_type("binary_ack")))[-1]["size"] == 1024 * 1024


# Rate limit ---------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limiters(monkeypatch) -> tuple[FakeClock, list[RateLimiter]]:
    """Consumers' rate limiters on a clock that moves only when the test says."""
    clock = FakeClock()
    made: list[RateLimiter] = []

    def make(rate: float, **flood: float) -> RateLimiter:
        limiter = RateLimiter(rate, clock=clock, **flood)
        made.append(limiter)
        return limiter

    monkeypatch.setattr(consumers, "RateLimiter", make)
    return clock, made


@pytest.mark.asyncio
async def test_rate_limit_burst_one_error_excess_dropped(fresh_feed, limiters):
    clock, made = limiters
    async with demo_client() as (client, _):
        for number in range(100):
            await client.send_json_to({"type": "ping", "nonce": str(number)})
        await wait_until(lambda: made[0].dropped == 80)
        clock.now += 1
        await client.send_json_to({"type": "ping", "nonce": "later"})
        messages = await receive_until(client, lambda m: m.get("nonce") == "later")
        pongs = [m["nonce"] for m in messages if m["type"] == "pong"]
        errors = [m for m in messages if m["type"] == "error"]
        assert pongs == [str(number) for number in range(20)] + ["later"]
        assert [error["code"] for error in errors] == ["rate_limited"]


async def send_paced(
    client: WebsocketCommunicator,
    clock: FakeClock,
    limiter: RateLimiter,
    per_second: float,
    count: int,
    until: Callable[[], bool] = lambda: False,
) -> int:
    """Pings `per_second` apart on the fake clock, each read before the clock moves on.

    Stops early once `until()` holds; returns how many were sent.
    """
    allow, seen = limiter.allow, 0

    def counted() -> bool:
        nonlocal seen
        seen += 1
        return allow()

    limiter.allow = counted
    for number in range(count):
        if until():
            return number
        await client.send_json_to({"type": "ping", "nonce": str(number)})
        await wait_until(lambda sent=number + 1: seen == sent)
        clock.now += 1 / per_second
    return count


@pytest.mark.asyncio
async def test_flood_closed_4008_after_2_s_over_twice_the_rate(fresh_feed, limiters):
    clock, made = limiters
    async with demo_client() as (client, _):
        # 100 a second, five times the rate, until the limiter calls it a flood.
        sent = await send_paced(client, clock, made[0], 100, 1000, lambda: made[0].flooding)
        close = await receive_close(client)
        assert close["code"] == CLOSE_TOO_FAST == 4008
        assert close["reason"] == "too many messages"
    assert 195 <= sent <= 205


@pytest.mark.asyncio
async def test_under_flood_rate_dropped_not_closed(fresh_feed, limiters):
    clock, made = limiters
    async with demo_client() as (client, _):
        # 35 a second for 5 s: over the rate (the excess dropped), under twice it.
        await send_paced(client, clock, made[0], 35, 175)
        clock.now += 1
        await client.send_json_to({"type": "ping", "nonce": "still-open"})
        messages = await receive_until(client, lambda m: m.get("nonce") == "still-open")
        assert not made[0].flooding
        assert made[0].dropped > 0
        assert messages[-1]["type"] == "pong"


# Handshake ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_foreign_origin_refused(fresh_feed):
    client = communicator(origin=b"http://evil.example")
    connected, _ = await client.connect(timeout=TIMEOUT)
    await client.disconnect(timeout=TIMEOUT)
    assert connected is False


@pytest.mark.asyncio
async def test_missing_origin_refused(fresh_feed):
    client = WebsocketCommunicator(application, "/ws/demo/", headers=[HOST])
    connected, _ = await client.connect(timeout=TIMEOUT)
    await client.disconnect(timeout=TIMEOUT)
    assert connected is False


@pytest.mark.asyncio
async def test_unknown_path_refused(fresh_feed):
    client = communicator(path="/ws/nowhere/")
    connected, _ = await client.connect(timeout=TIMEOUT)
    await client.disconnect(timeout=TIMEOUT)
    assert connected is False


# Server-side close, leaks, slow clients ------------------------------------------------


@pytest.mark.asyncio
async def test_drop_closes_4000(fresh_feed):
    async with demo_client() as (client, welcome):
        feed = await get_feed()
        assert await feed.drop(welcome["connection"]) is True
        assert (await receive_close(client))["code"] == 4000


@pytest.mark.asyncio
async def test_drop_live_client_closes_4000(fresh_feed):
    async with demo_client() as (client, welcome):
        await client.send_json_to({"type": "ping"})
        await receive_until(client, is_type("tick"))
        feed = await get_feed()
        await feed.drop(welcome["connection"])
        assert (await receive_close(client))["code"] == 4000


@pytest.mark.asyncio
async def test_disconnect_leaks_nothing(fresh_feed):
    feed = await get_feed()
    clients = [communicator() for _ in range(6)]
    for client in clients:
        connected, _ = await client.connect(timeout=TIMEOUT)
        assert connected
        await client.receive_json_from(timeout=TIMEOUT)
    # Some live, some resumed, some still in their resume window.
    await clients[0].send_json_to({"type": "ping"})
    await clients[1].send_json_to({"type": "resume", "last_id": 0})
    await clients[2].send_json_to({"type": "chat", "text": "bye"})
    await receive_until(clients[0], is_type("tick"))
    assert len(feed.subscribers) == 6
    assert len(feed.connection_tasks) == 6
    for client in clients:
        await client.disconnect(timeout=TIMEOUT)
    await wait_until(lambda: not feed.subscribers and not feed.connection_tasks)


@pytest.mark.asyncio
async def test_server_close_leaks_nothing(fresh_feed):
    feed = await get_feed()
    async with demo_client() as (client, _):
        await client.send_to(text_data="x" * (64 * 1024 + 1))
        await receive_close(client)
    await wait_until(lambda: not feed.subscribers and not feed.connection_tasks)


@pytest.mark.asyncio
async def test_slow_client_closed_4008_others_keep_every_event(fresh_feed, options):
    options(MAX_BACKLOG_EVENTS=5)
    slow = communicator()
    # A client that stops reading: once two messages wait unread, the
    # consumer's send blocks, as it does under a server with flow control.
    slow._output_queue = asyncio.Queue(maxsize=2)
    async with demo_client(slow) as (_, slow_welcome), demo_client() as (fast, _):
        feed = await get_feed()
        await slow.send_json_to({"type": "ping"})
        await fast.send_json_to({"type": "ping"})
        received: list[dict[str, Any]] = []
        # Publish one event at a time and let the fast client read each one.
        async with asyncio.timeout(TIMEOUT):
            after_close = 0
            while after_close < 20:
                await publish_ticks(1)
                received += await receive_until(fast, id_at_least(feed.last_id))
                if slow_welcome["connection"] not in feed.subscribers:
                    after_close += 1
        assert (await receive_close(slow))["code"] == 4008
        ids = event_ids(received)
        assert ids == list(range(ids[0], feed.last_id + 1))
        assert len(feed.subscribers) == 1


# Server failures ----------------------------------------------------------------------


async def fail(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("injected failure")


@pytest.mark.asyncio
async def test_writer_failure_before_live_closed_4011_leaks_nothing(fresh_feed, monkeypatch):
    feed = await get_feed()
    monkeypatch.setattr(feed, "start_from", fail)
    async with demo_client() as (client, _):
        await client.send_json_to({"type": "ping"})
        assert (await receive_close(client))["code"] == 4011
    await wait_until(lambda: not feed.subscribers and not feed.connection_tasks)


@pytest.mark.asyncio
async def test_writer_failure_when_live_closed_4011_leaks_nothing(fresh_feed, monkeypatch):
    feed = await get_feed()
    monkeypatch.setattr(Subscriber, "next_batch", fail)
    async with demo_client() as (client, _):
        await client.send_json_to({"type": "ping"})
        assert (await receive_close(client))["code"] == 4011
    await wait_until(lambda: not feed.subscribers and not feed.connection_tasks)


@pytest.mark.asyncio
async def test_writer_client_gone_ends_quietly(fresh_feed, monkeypatch, caplog):
    # uvicorn raises ClientDisconnected (an OSError) on a send to a client
    # that has gone: the end of that client, not a server error.
    feed = await get_feed()

    async def gone(*args: Any, **kwargs: Any) -> None:
        raise ConnectionResetError("client gone")

    monkeypatch.setattr(Subscriber, "next_batch", gone)
    async with demo_client() as (client, _):
        await client.send_json_to({"type": "ping"})
        await receive_until(client, is_type("pong"))
        await wait_until(lambda: not feed.connection_tasks)
    assert "writer failed" not in caplog.text
    await wait_until(lambda: not feed.subscribers)


@pytest.mark.asyncio
async def test_handler_crash_leaks_nothing(fresh_feed, monkeypatch):
    feed = await get_feed()
    monkeypatch.setattr(feed, "publish", fail)
    client = communicator()
    try:
        connected, _ = await client.connect(timeout=TIMEOUT)
        assert connected
        await client.receive_json_from(timeout=TIMEOUT)
        assert len(feed.subscribers) == 1
        assert len(feed.connection_tasks) == 1
        await client.send_json_to({"type": "chat", "text": "boom"})
        with pytest.raises(RuntimeError, match="injected failure"):
            await client.wait(timeout=TIMEOUT)
        await wait_until(lambda: not feed.subscribers and not feed.connection_tasks)
    finally:
        with contextlib.suppress(RuntimeError):
            await client.disconnect(timeout=TIMEOUT)


# Channel layer ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_consumer_has_no_channel_layer(fresh_feed, settings, monkeypatch):
    consumers_seen: list[DemoConsumer] = []
    connect = DemoConsumer.connect

    async def recording_connect(self: DemoConsumer) -> None:
        consumers_seen.append(self)
        await connect(self)

    monkeypatch.setattr(DemoConsumer, "connect", recording_connect)
    async with demo_client():
        assert DemoConsumer.channel_layer_alias not in settings.CHANNEL_LAYERS
        assert consumers_seen[0].channel_layer is None


@pytest.mark.asyncio
async def test_broken_channel_layer_connection_still_works(fresh_feed, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "live_demo.no_such_module.ChannelLayer"}}
    async with demo_client() as (client, welcome):
        assert welcome["type"] == "welcome"
        await client.send_json_to({"type": "ping", "nonce": "up"})
        assert (await receive_until(client, is_type("pong")))[-1]["nonce"] == "up"
