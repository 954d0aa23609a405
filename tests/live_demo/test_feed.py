"""The feed, its events, the limits and the protocol helpers, in process."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from autobahn.websocket.protocol import WebSocketProtocol as AutobahnProtocol
from daphne.ws_protocol import WebSocketProtocol

from live_demo import protocol
from live_demo.events import Event, format_comment, format_event, gap_notice
from live_demo.feed import Closed, Feed, get_feed
from live_demo.limits import RateLimiter
from live_demo.protocol import (
    MessageError,
    binary_receipt,
    chat_payload,
    decode_base64,
    pong,
    public_id,
    resume_id,
    websocket_frame_bytes,
    welcome,
)
from serving.daphne_limits import limit_daphne_text_messages
from serving.direct_write import Connection

# format_event -------------------------------------------------------------------------


def test_format_event_data_only():
    assert format_event("hello") == b"data: hello\n\n"


def test_format_event_fields_in_order():
    assert format_event("x", event="tick", id=7, retry=2000) == (
        b"id: 7\nevent: tick\nretry: 2000\ndata: x\n\n"
    )


@pytest.mark.parametrize("bad", ["\r", "\n", "\0", "\r\n"])
def test_format_event_id_stripped(bad):
    assert format_event("x", id=f"1{bad}2{bad}") == b"id: 12\ndata: x\n\n"


@pytest.mark.parametrize("bad", ["\r", "\n", "\0", "\r\n"])
def test_format_event_event_stripped(bad):
    injected = f"tick{bad}data: forged{bad}"
    assert format_event("x", event=injected) == b"event: tickdata: forged\ndata: x\n\n"


def test_format_event_multiline_data_split():
    assert format_event("a\nb\r\nc\rd") == b"data: a\ndata: b\ndata: c\ndata: d\n\n"


def test_format_event_empty_data_one_line():
    assert format_event("") == b"data: \n\n"


def test_format_event_retry_line():
    assert format_event("x", retry=1500) == b"retry: 1500\ndata: x\n\n"


def test_format_comment_one_line():
    assert format_comment("ping\nevent: x") == b": pingevent: x\n\n"


# Event ----------------------------------------------------------------------------------


def test_event_json_shape():
    event = Event(id=3, type="tick", ts=1.5, payload={"symbol": "ACME", "name": "é"})
    assert event.json == '{"id":3,"type":"tick","ts":1.5,"payload":{"symbol":"ACME","name":"é"}}'


def test_event_json_is_valid_json():
    event = Event(id=1, type="chat", ts=0.5, payload={"text": 'quote " and \n newline'})
    assert json.loads(event.json)["payload"]["text"] == 'quote " and \n newline'


def test_event_sse_shape():
    event = Event(id=3, type="chat", ts=1.5, payload={"text": "a\nb"})
    assert event.sse == format_event(event.json, event="chat", id=3)
    assert event.sse.startswith(b"id: 3\nevent: chat\ndata: {")
    assert event.sse.count(b"\ndata: ") == 1


def test_event_from_json_round_trip():
    event = Event(id=9, type="tick", ts=2.25, payload={"price": 1.0})
    assert Event.from_json(event.json) == event


def test_gap_notice_expired_missed():
    gap = gap_notice(2, 6, 10, "expired")
    assert gap["missed"] == 3
    assert (gap["type"], gap["last_id"], gap["oldest"], gap["newest"]) == ("gap", 2, 6, 10)


def test_gap_notice_restarted_missed_unknown():
    assert gap_notice(50, 1, 10, "restarted")["missed"] is None


# Memory feed ----------------------------------------------------------------------------


@pytest.fixture
def feed(settings) -> Feed:
    """A feed that does not tick: only the test publishes."""
    return Feed({**settings.LIVE_DEMO, "HISTORY": 5, "MAX_BACKLOG_EVENTS": 3})


async def publish(feed: Feed, count: int) -> list[Event]:
    return [await feed.publish("tick", {"n": number}) for number in range(count)]


def ids(items: list[Any]) -> list[int]:
    return [item.id for item in items]


@pytest.mark.asyncio
async def test_feed_ids_increase_by_one(fresh_feed, feed):
    assert ids(await publish(feed, 4)) == [1, 2, 3, 4]
    assert feed.last_id == 4


@pytest.mark.asyncio
async def test_feed_event_has_server_ts(fresh_feed, feed):
    before = time.time() * 1000
    [event] = await publish(feed, 1)
    assert before - 1 <= event.ts <= time.time() * 1000 + 1


@pytest.mark.asyncio
async def test_feed_history_bounded(fresh_feed, feed):
    await publish(feed, 8)
    events, oldest, newest = await feed.history_after(0)
    assert ids(events) == [4, 5, 6, 7, 8]
    assert (oldest, newest) == (4, 8)


@pytest.mark.asyncio
async def test_feed_history_bounded_by_setting(fresh_feed, settings):
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "HISTORY": 3}
    feed = await get_feed()
    await publish(feed, 5)
    events, oldest, newest = await feed.history_after(0)
    assert ids(events) == [newest - 2, newest - 1, newest]
    assert oldest == newest - 2


@pytest.mark.asyncio
async def test_feed_history_after(fresh_feed, feed):
    await publish(feed, 4)
    events, oldest, newest = await feed.history_after(2)
    assert ids(events) == [3, 4]
    assert (oldest, newest) == (1, 4)


@pytest.mark.asyncio
async def test_feed_history_after_newest_empty(fresh_feed, feed):
    await publish(feed, 4)
    assert (await feed.history_after(4))[0] == []


@pytest.mark.asyncio
async def test_feed_history_after_empty_feed(fresh_feed, feed):
    assert await feed.history_after(0) == ([], None, 0)


@pytest.mark.asyncio
async def test_feed_counts_by_transport(fresh_feed, feed):
    feed.subscribe("websocket")
    feed.subscribe("sse")
    feed.subscribe("sse")
    assert feed.counts() == {"websocket": 1, "sse": 2}


# Subscriber -----------------------------------------------------------------------------


def event(event_id: int) -> Event:
    return Event(id=event_id, type="tick", ts=0.0)


@pytest.mark.asyncio
async def test_subscriber_public_id_from_its_id(fresh_feed, feed):
    subscriber = feed.subscribe("websocket")
    assert subscriber.public_id == public_id(subscriber.id)
    assert len(subscriber.public_id) == 12


@pytest.mark.asyncio
async def test_subscriber_public_ids_differ(fresh_feed, feed):
    first, second = feed.subscribe("websocket"), feed.subscribe("sse")
    assert first.public_id != second.public_id


@pytest.mark.asyncio
async def test_subscriber_take_dedups(fresh_feed, feed):
    subscriber = feed.subscribe("websocket")
    assert ids(subscriber.take([event(1), event(2)])) == [1, 2]
    assert ids(subscriber.take([event(2), event(3), event(1), event(4)])) == [3, 4]
    assert subscriber.last_sent == 4


@pytest.mark.asyncio
async def test_subscriber_receives_published_events(fresh_feed, feed):
    subscriber = feed.subscribe("websocket")
    await publish(feed, 3)
    assert ids(await subscriber.next_batch(timeout=1)) == [1, 2, 3]


@pytest.mark.asyncio
async def test_subscriber_next_batch_timeout_empty(fresh_feed, feed):
    subscriber = feed.subscribe("websocket")
    assert await subscriber.next_batch(timeout=0.01) == []


@pytest.mark.asyncio
async def test_subscriber_backlog_at_bound_kept(fresh_feed, feed):
    subscriber = feed.subscribe("websocket")
    await publish(feed, 3)
    assert subscriber.closed_reason is None
    assert subscriber.backlog == 3


@pytest.mark.asyncio
async def test_subscriber_backlog_over_bound_closed_slow(fresh_feed, feed):
    subscriber = feed.subscribe("websocket")
    await publish(feed, 4)
    assert subscriber.closed_reason == "slow"
    assert subscriber.id not in feed.subscribers
    with pytest.raises(Closed) as closed:
        await subscriber.next_batch(timeout=1)
    assert closed.value.reason == "slow"


@pytest.mark.asyncio
async def test_subscriber_slow_others_keep_receiving(fresh_feed, feed):
    slow = feed.subscribe("websocket")
    fast = feed.subscribe("sse")
    received = []
    for _ in range(10):
        await publish(feed, 1)
        received += await fast.next_batch(timeout=1)
    assert slow.closed_reason == "slow"
    assert ids(received) == list(range(1, 11))
    assert list(feed.subscribers) == [fast.id]


# start_from -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_start_from_none_live_from_now(fresh_feed, feed):
    await publish(feed, 3)
    subscriber = feed.subscribe("websocket")
    assert await feed.start_from(subscriber, None) == []
    await publish(feed, 2)
    assert ids(await subscriber.next_batch(timeout=1)) == [4, 5]


@pytest.mark.asyncio
async def test_start_from_within_history_exact_replay(fresh_feed, feed):
    await publish(feed, 4)
    subscriber = feed.subscribe("websocket")
    assert ids(await feed.start_from(subscriber, 1)) == [2, 3, 4]
    await publish(feed, 1)
    assert ids(await subscriber.next_batch(timeout=1)) == [5]


@pytest.mark.asyncio
async def test_start_from_oldest_minus_one_no_gap(fresh_feed, feed):
    await publish(feed, 8)
    subscriber = feed.subscribe("websocket")
    assert ids(await feed.start_from(subscriber, 3)) == [4, 5, 6, 7, 8]


@pytest.mark.asyncio
async def test_start_from_newest_nothing(fresh_feed, feed):
    await publish(feed, 4)
    subscriber = feed.subscribe("websocket")
    assert await feed.start_from(subscriber, 4) == []


@pytest.mark.asyncio
async def test_start_from_no_dup_with_events_pushed_during_read(fresh_feed, feed, monkeypatch):
    await publish(feed, 3)
    subscriber = feed.subscribe("websocket")
    read = feed.history_after

    async def racing_read(last_id: int):
        # One event lands before the read (in history and pending), one after
        # (pending only).
        await publish(feed, 1)
        result = await read(last_id)
        await publish(feed, 1)
        return result

    monkeypatch.setattr(feed, "history_after", racing_read)
    replayed = await feed.start_from(subscriber, 1)
    live = await subscriber.next_batch(timeout=1)
    assert ids(replayed) + ids(live) == [2, 3, 4, 5]


@pytest.mark.asyncio
async def test_start_from_no_dup_with_events_pending_before_read(fresh_feed, feed):
    await publish(feed, 2)
    subscriber = feed.subscribe("websocket")
    await publish(feed, 2)  # pending, and in the history
    replayed = await feed.start_from(subscriber, 0)
    live = await subscriber.next_batch(timeout=1)
    assert ids(replayed) + ids(live) == [1, 2, 3, 4]


@pytest.mark.asyncio
async def test_start_from_older_than_history_gap_first(fresh_feed, feed):
    await publish(feed, 10)
    subscriber = feed.subscribe("websocket")
    gap, *events = await feed.start_from(subscriber, 2)
    assert gap["type"] == "gap"
    assert gap["reason"] == "expired"
    assert (gap["last_id"], gap["oldest"], gap["newest"]) == (2, 6, 10)
    assert gap["missed"] == 3
    assert ids(events) == [6, 7, 8, 9, 10]


@pytest.mark.asyncio
async def test_start_from_newer_than_feed_restarted_whole_history(fresh_feed, feed):
    await publish(feed, 7)
    subscriber = feed.subscribe("websocket")
    gap, *events = await feed.start_from(subscriber, 50)
    assert gap["type"] == "gap"
    assert gap["reason"] == "restarted"
    assert gap["missed"] is None
    assert (gap["last_id"], gap["newest"]) == (50, 7)
    assert ids(events) == [3, 4, 5, 6, 7]
    await publish(feed, 1)
    assert ids(await subscriber.next_batch(timeout=1)) == [8]


@pytest.mark.asyncio
async def test_start_from_newer_than_empty_feed_restarted(fresh_feed, feed):
    subscriber = feed.subscribe("websocket")
    [gap] = await feed.start_from(subscriber, 5)
    assert gap["reason"] == "restarted"
    assert (gap["oldest"], gap["newest"]) == (None, 0)


# welcome ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_welcome_sender_is_public_id(fresh_feed, feed):
    subscriber = feed.subscribe("websocket")
    hello = welcome(feed, subscriber)
    assert hello["connection"] == subscriber.id
    assert hello["sender"] == subscriber.public_id
    assert hello["sender"] != hello["connection"]


@pytest.mark.asyncio
async def test_welcome_limits_include_resume_window(fresh_feed, feed):
    hello = welcome(feed, feed.subscribe("sse"))
    assert hello["limits"]["resume_window"] == feed.options["RESUME_WINDOW"]


# drop_local ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_drop_local_closes_and_removes(fresh_feed, feed):
    subscriber = feed.subscribe("websocket")
    assert feed.drop_local(subscriber.id) is True
    assert subscriber.id not in feed.subscribers
    with pytest.raises(Closed) as closed:
        await subscriber.next_batch(timeout=1)
    assert closed.value.reason == "dropped"


@pytest.mark.asyncio
async def test_drop_local_unknown_false(fresh_feed, feed):
    feed.subscribe("websocket")
    assert feed.drop_local("no-such-connection") is False
    assert len(feed.subscribers) == 1


@pytest.mark.asyncio
async def test_dropped_subscriber_gets_no_more_events(fresh_feed, feed):
    subscriber = feed.subscribe("websocket")
    feed.drop_local(subscriber.id)
    await publish(feed, 2)
    assert subscriber.backlog == 0


# RateLimiter ----------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_20_refuses_21st():
    limiter = RateLimiter(20, clock=FakeClock())
    assert [limiter.allow() for _ in range(21)] == [True] * 20 + [False]
    assert limiter.dropped == 1


def test_rate_limiter_refills_over_time():
    clock = FakeClock()
    limiter = RateLimiter(20, clock=clock)
    for _ in range(20):
        limiter.allow()
    clock.now += 0.25  # five tokens at 20 a second (0.25 is exact in binary)
    assert [limiter.allow() for _ in range(6)] == [True] * 5 + [False]


def test_rate_limiter_burst_capped():
    clock = FakeClock()
    limiter = RateLimiter(20, clock=clock)
    clock.now += 60
    assert sum(limiter.allow() for _ in range(50)) == 20


def test_rate_limiter_should_warn_once_a_second():
    clock = FakeClock()
    limiter = RateLimiter(20, clock=clock)
    warnings = [limiter.should_warn()]
    clock.now += 0.5
    warnings.append(limiter.should_warn())
    clock.now += 0.49
    warnings.append(limiter.should_warn())
    clock.now += 0.01
    warnings.append(limiter.should_warn())
    assert warnings == [True, False, False, True]


def test_rate_limiter_default_clock_monotonic():
    assert RateLimiter(20).clock is time.monotonic


# Protocol helpers ---------------------------------------------------------------------------


def chat(message: dict[str, Any], max_chars: int = 500) -> dict[str, Any]:
    return chat_payload(message, sender="abc", via="sse", max_chars=max_chars)


def test_chat_payload_valid():
    assert chat({"type": "chat", "text": "  hi  ", "nonce": 7}) == {
        "text": "hi",
        "via": "sse",
        "sender": "abc",
        "nonce": "7",
    }


def test_chat_payload_without_nonce():
    assert chat({"text": "hi"})["nonce"] is None


def test_chat_payload_max_chars_accepted():
    assert chat({"text": "x" * 500})["text"] == "x" * 500


def test_chat_payload_too_long():
    with pytest.raises(MessageError) as error:
        chat({"text": "x" * 501})
    assert error.value.code == "chat_too_long"


@pytest.mark.parametrize("message", [{}, {"text": ""}, {"text": " \n "}, {"text": 5}])
def test_chat_payload_invalid(message):
    with pytest.raises(MessageError) as error:
        chat(message)
    assert error.value.code == "invalid_chat"


@pytest.mark.parametrize("nonce", ["n" * 65, 1.5, ["a"], {"a": 1}])
def test_chat_payload_invalid_nonce(nonce):
    with pytest.raises(MessageError) as error:
        chat({"text": "hi", "nonce": nonce})
    assert error.value.code == "invalid_nonce"


def test_message_error_as_dict():
    error = MessageError("invalid_json", "That message is not JSON.").as_dict()
    assert error["type"] == "error"
    assert (error["code"], error["message"]) == ("invalid_json", "That message is not JSON.")
    assert isinstance(error["ts"], float)


@pytest.mark.parametrize("last_id", [0, 1, 10**12])
def test_resume_id_valid(last_id):
    assert resume_id({"type": "resume", "last_id": last_id}) == last_id


@pytest.mark.parametrize("last_id", ["x", "5", -1, True, False, 1.5, None])
def test_resume_id_invalid(last_id):
    with pytest.raises(MessageError) as error:
        resume_id({"type": "resume", "last_id": last_id})
    assert error.value.code == "invalid_resume"


def test_resume_id_missing():
    with pytest.raises(MessageError):
        resume_id({"type": "resume"})


def test_decode_base64_valid():
    assert (
        decode_base64(base64.b64encode(b"\x00\xffdata").decode(), max_bytes=10) == b"\x00\xffdata"
    )


def test_decode_base64_exactly_max_bytes():
    data = b"\x01" * 10
    assert decode_base64(base64.b64encode(data).decode(), max_bytes=10) == data


def test_decode_base64_over_max_bytes():
    with pytest.raises(MessageError) as error:
        decode_base64(base64.b64encode(b"\x01" * 11).decode(), max_bytes=10)
    assert error.value.code == "binary_too_big"


def test_decode_base64_huge_refused_before_decoding():
    with pytest.raises(MessageError) as error:
        decode_base64("!" * 10_000, max_bytes=10)
    assert error.value.code == "binary_too_big"


@pytest.mark.parametrize("value", [None, 5, b"AAAA", ["AAAA"]])
def test_decode_base64_not_a_string(value):
    with pytest.raises(MessageError) as error:
        decode_base64(value, max_bytes=10)
    assert error.value.code == "invalid_binary"


@pytest.mark.parametrize("value", ["AAA", "A===", "AA!A", "AA AA"])
def test_decode_base64_invalid(value):
    with pytest.raises(MessageError) as error:
        decode_base64(value, max_bytes=10)
    assert error.value.code == "invalid_binary"


def test_binary_receipt():
    receipt = binary_receipt(b"abc", wire_bytes=9)
    assert receipt["type"] == "binary_ack"
    assert receipt["size"] == 3
    assert receipt["sha256"] == hashlib.sha256(b"abc").hexdigest()
    assert receipt["wire_bytes"] == 9


@pytest.mark.parametrize(
    ("payload", "unmasked"),
    [(0, 2), (125, 127), (126, 130), (65535, 65539), (65536, 65546)],
)
def test_websocket_frame_bytes_boundaries(payload, unmasked):
    assert websocket_frame_bytes(payload, masked=False) == unmasked
    assert websocket_frame_bytes(payload, masked=True) == unmasked + 4


# pong -----------------------------------------------------------------------------------------

SERVER_MS = 1_700_000_000_123.5


@pytest.fixture
def server_time(monkeypatch) -> float:
    """The server's clock, as pongs read it, stopped at SERVER_MS."""
    monkeypatch.setattr(protocol, "now_ms", lambda: SERVER_MS)
    return SERVER_MS


def test_pong_bare_ping_type_and_server_time(server_time):
    assert pong({"type": "ping"}) == {"type": "pong", "ts": server_time, "server_ts": server_time}


def test_pong_reads_the_real_clock():
    before = time.time() * 1000
    answer = pong({"type": "ping"})
    assert before - 1 <= answer["server_ts"] <= time.time() * 1000 + 1
    assert answer["ts"] == answer["server_ts"]


def test_pong_echoes_fields(server_time):
    answer = pong({"type": "ping", "nonce": "n-1", "sent": 123.5, "id": 7})
    assert answer == {
        "type": "pong",
        "nonce": "n-1",
        "sent": 123.5,
        "id": 7,
        "ts": server_time,
        "server_ts": server_time,
    }


@pytest.mark.parametrize(
    "value",
    [0, -1, 2**63 - 1, -(2**63 - 1), 1.5, -0.25, 1e300, True, False, None, "", "x" * 64, "é" * 64],
    ids=[
        "zero",
        "negative",
        "largest-int",
        "smallest-int",
        "float",
        "negative-float",
        "huge-float",
        "true",
        "false",
        "null",
        "empty-string",
        "64-chars",
        "64-non-ascii-chars",
    ],
)
def test_pong_small_scalar_echoed(server_time, value):
    answer = pong({"type": "ping", "value": value})
    assert answer["value"] == value
    assert type(answer["value"]) is type(value)


@pytest.mark.parametrize(
    "value",
    [
        2**63,
        -(2**63),
        10**30,
        float("nan"),
        float("inf"),
        float("-inf"),
        "x" * 65,
        "é" * 65,
        [],
        [1],
        {},
        {"a": 1},
    ],
    ids=[
        "int-2**63",
        "int-minus-2**63",
        "int-10**30",
        "nan",
        "infinity",
        "minus-infinity",
        "65-chars",
        "65-non-ascii-chars",
        "empty-list",
        "list",
        "empty-object",
        "object",
    ],
)
def test_pong_other_value_left_out(server_time, value):
    answer = pong({"type": "ping", "nonce": "n", "value": value})
    assert answer == {"type": "pong", "nonce": "n", "ts": server_time, "server_ts": server_time}


def test_pong_nan_left_out_strict_json(server_time):
    answer = pong({"type": "ping", "a": float("nan"), "b": float("inf"), "c": 1})
    assert json.loads(json.dumps(answer, allow_nan=False)) == answer
    assert "a" not in answer
    assert "b" not in answer


def test_pong_at_most_8_fields_the_first_ones(server_time):
    message = {"type": "ping", **{f"f{number}": number for number in range(12)}}
    answer = pong(message)
    assert [key for key in answer if key.startswith("f")] == [f"f{n}" for n in range(8)]
    assert set(answer) == {"type", "ts", "server_ts", *(f"f{n}" for n in range(8))}


def test_pong_fields_left_out_not_counted(server_time):
    nested = {f"nested{number}": [number] for number in range(5)}
    scalars = {f"f{number}": number for number in range(8)}
    answer = pong({"type": "ping", **nested, **scalars})
    assert {key: answer[key] for key in scalars} == scalars
    assert not any(key.startswith("nested") for key in answer)


def test_pong_type_not_counted(server_time):
    scalars = {f"f{number}": number for number in range(8)}
    answer = pong({**scalars, "type": "ping"})
    assert {key: answer[key] for key in scalars} == scalars
    assert answer["type"] == "pong"


@pytest.mark.parametrize("kind", ["ping", "pong", "chat", None, 5])
def test_pong_type_never_echoed(server_time, kind):
    assert pong({"type": kind})["type"] == "pong"


def test_pong_key_of_64_chars_echoed(server_time):
    assert pong({"type": "ping", "k" * 64: 1})["k" * 64] == 1


def test_pong_key_over_64_chars_left_out(server_time):
    answer = pong({"type": "ping", "k" * 65: 1})
    assert answer == {"type": "pong", "ts": server_time, "server_ts": server_time}


@pytest.mark.parametrize("ts", [1, 1234.5, "client-clock", None, 0])
def test_pong_ts_of_ping_echoed(server_time, ts):
    answer = pong({"type": "ping", "ts": ts})
    assert answer["ts"] == ts
    assert answer["server_ts"] == server_time


@pytest.mark.parametrize("ts", [[1], {"ms": 1}, float("nan"), "t" * 65])
def test_pong_ts_not_echoable_server_time(server_time, ts):
    assert pong({"type": "ping", "ts": ts})["ts"] == server_time


@pytest.mark.parametrize("server_ts", [1, "mine", None, [1]])
def test_pong_server_ts_always_server_time(server_time, server_ts):
    assert pong({"type": "ping", "server_ts": server_ts})["server_ts"] == server_time


@pytest.mark.parametrize("nonce", [7, "n" * 64])
def test_pong_nonce_echoed(server_time, nonce):
    assert pong({"type": "ping", "nonce": nonce})["nonce"] == nonce


@pytest.mark.parametrize("nonce", ["n" * 65, 1.5, ["a"], {"a": 1}])
def test_pong_invalid_nonce_refused(nonce):
    with pytest.raises(MessageError) as error:
        pong({"type": "ping", "nonce": nonce})
    assert error.value.code == "invalid_nonce"


def test_pong_message_unchanged(server_time):
    message = {"type": "ping", "nonce": "n", "pad": "x" * 100}
    pong(message)
    assert message == {"type": "ping", "nonce": "n", "pad": "x" * 100}


# public_id ----------------------------------------------------------------------------------

CONNECTION = "0123456789abcdef0123456789abcdef"


def test_public_id_twelve_hex_chars():
    assert re.fullmatch(r"[0-9a-f]{12}", public_id(CONNECTION))


def test_public_id_digest_of_connection():
    expected = hashlib.sha256(f"sender:{CONNECTION}".encode()).hexdigest()[:12]
    assert public_id(CONNECTION) == expected


def test_public_id_stable():
    assert public_id(CONNECTION) == public_id("0123456789abcdef" * 2)


def test_public_id_not_part_of_connection():
    assert public_id(CONNECTION) not in CONNECTION


def test_public_id_differs_per_connection():
    assert public_id(CONNECTION) != public_id("f" + CONNECTION[1:])


@pytest.mark.parametrize(
    "connection",
    [
        "",
        "abc",
        CONNECTION[:-1],
        CONNECTION + "0",
        CONNECTION.upper(),
        "g" + CONNECTION[1:],
        f" {CONNECTION}",
        f"{CONNECTION}\n",
    ],
    ids=["empty", "short", "31-chars", "33-chars", "upper-case", "not-hex", "space", "newline"],
)
def test_public_id_other_strings_empty(connection):
    assert public_id(connection) == ""


@pytest.mark.parametrize("connection", [None, 5, CONNECTION.encode(), [CONNECTION]])
def test_public_id_not_a_string_empty(connection):
    assert public_id(connection) == ""


# Connection -----------------------------------------------------------------------------------


class Transport:
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


def daphne_send(protocol: Any, message: dict[str, Any]) -> None:
    """How daphne hands a send to the application: partial(handle_reply, protocol)."""


def test_connection_pending_plain_coroutine_function_none():
    async def send(message: dict[str, Any]) -> None:
        pass

    assert Connection(send).pending is None


def test_connection_pending_reads_twisted_buffer():
    send = functools.partial(daphne_send, Protocol(Transport(100, offset=30, temp=5)))
    assert Connection(send).pending == 75


def test_connection_pending_follows_real_send():
    class Wrapper:
        real_send = functools.partial(daphne_send, Protocol(Transport(10)))

        async def send(self, message: dict[str, Any]) -> None:
            pass

    assert Connection(Wrapper().send).pending == 10


def test_connection_pending_http_request_reads_its_channel():
    class Request:
        channel = Protocol(Transport(40, offset=10))

    assert Connection(functools.partial(daphne_send, Request())).pending == 30


def test_connection_pending_follows_buffer_growth():
    transport = Transport(10)
    connection = Connection(functools.partial(daphne_send, Protocol(transport)))
    transport.dataBuffer += b"y" * 20
    assert connection.pending == 30


def test_connection_pending_no_transport_none():
    assert Connection(functools.partial(daphne_send, object())).pending is None


def test_connection_pending_transport_without_buffer_none():
    assert Connection(functools.partial(daphne_send, Protocol(object()))).pending is None


def test_connection_abort_aborts_transport():
    transport = Transport()
    Connection(functools.partial(daphne_send, Protocol(transport))).abort()
    assert transport.aborted == 1


def test_connection_abort_follows_real_send():
    transport = Transport()

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


# limit_daphne_text_messages -------------------------------------------------------------------

PATCHED = (
    "onMessageFrameBegin",
    "_max_message_size_exceeded",
    "_advisor_original_frame_begin",
    "_advisor_limits",
)
ABSENT = object()


def patched_attributes() -> dict[str, Any]:
    return {name: vars(WebSocketProtocol).get(name, ABSENT) for name in PATCHED}


@pytest.fixture
def frame_begins() -> Iterator[list[int]]:
    """daphne's WebSocketProtocol as before the patch, with a stand-in for autobahn's
    onMessageFrameBegin that counts the message's bytes but checks no limit, so that
    only the patch can refuse a message. The class is put back exactly as it was.
    """
    saved = patched_attributes()
    calls: list[int] = []

    def original_frame_begin(self, length: int) -> None:
        calls.append(length)
        self.message_data_total_length += length

    try:
        for name in PATCHED:
            if name in vars(WebSocketProtocol):
                delattr(WebSocketProtocol, name)
        WebSocketProtocol.onMessageFrameBegin = original_frame_begin
        yield calls
    finally:
        for name, value in saved.items():
            if value is ABSENT:
                if name in vars(WebSocketProtocol):
                    delattr(WebSocketProtocol, name)
            else:
                setattr(WebSocketProtocol, name, value)
    assert patched_attributes() == saved


class Message:
    """A WebSocketProtocol in the middle of receiving one message, recording its failures."""

    def __init__(self, *, binary: bool, max_payload: int = 2000) -> None:
        self.protocol = protocol = object.__new__(WebSocketProtocol)
        protocol.message_is_binary = binary
        protocol.message_data_total_length = 0
        protocol.failedByMe = False
        protocol.wasMaxMessagePayloadSizeExceeded = False
        protocol.maxMessagePayloadSize = max_payload
        protocol.failByDrop = True  # autobahn's default, and daphne's
        self.exceeded: list[tuple[int, int]] = []
        self.failures: list[int] = []

        def exceeded(size: int, limit: int, reason: str) -> None:
            self.exceeded.append((size, limit))
            WebSocketProtocol._max_message_size_exceeded(protocol, size, limit, reason)

        def fail(code: int, reason: str) -> None:
            self.failures.append(code)
            protocol.failedByMe = True

        protocol._max_message_size_exceeded = exceeded
        protocol._fail_connection = fail

    def frames(self, *lengths: int) -> Message:
        for length in lengths:
            self.protocol.onMessageFrameBegin(length)
        return self


def test_limit_daphne_installed_at_startup(settings):
    options = settings.LIVE_DEMO
    assert WebSocketProtocol._advisor_limits == (
        options["MAX_TEXT_BYTES"],
        options["MAX_BINARY_BYTES"],
    )
    assert WebSocketProtocol._advisor_original_frame_begin is AutobahnProtocol.onMessageFrameBegin


def test_limit_daphne_installed_wraps_frame_begin():
    assert WebSocketProtocol.onMessageFrameBegin is not AutobahnProtocol.onMessageFrameBegin
    assert "onMessageFrameBegin" in vars(WebSocketProtocol)


def test_limit_daphne_installed_closes_rather_than_drops():
    assert "_max_message_size_exceeded" in vars(WebSocketProtocol)


def test_limit_daphne_text_over_limit_fails_1009(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=False).frames(101)
    assert message.exceeded == [(101, 100)]
    assert message.failures == [AutobahnProtocol.CLOSE_STATUS_CODE_MESSAGE_TOO_BIG] == [1009]
    assert message.protocol.wasMaxMessagePayloadSizeExceeded is True


def test_limit_daphne_over_limit_close_frame_not_dropped(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=False)
    assert message.protocol.failByDrop is True
    message.frames(101)
    # A close frame (1009), not a dropped TCP connection (1006 for the client).
    assert message.protocol.failByDrop is False


def test_limit_daphne_under_limit_fail_by_drop_kept(frame_begins):
    limit_daphne_text_messages(100, 2000)
    assert Message(binary=False).frames(100).protocol.failByDrop is True


def test_limit_daphne_autobahn_size_check_closes_1009(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=True)
    # What autobahn's own check (maxMessagePayloadSize, maxFramePayloadSize) calls.
    message.protocol._max_message_size_exceeded(3000, 2000, "too big")
    assert message.failures == [1009]
    assert message.protocol.failByDrop is False


def test_limit_daphne_text_at_limit_passes(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=False).frames(100)
    assert (message.exceeded, message.failures) == ([], [])
    assert message.protocol.wasMaxMessagePayloadSizeExceeded is False


def test_limit_daphne_binary_of_same_size_passes(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=True).frames(101)
    assert (message.exceeded, message.failures) == ([], [])


def test_limit_daphne_binary_over_its_limit_fails_1009(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=True, max_payload=0).frames(2001)
    assert message.exceeded == [(2001, 2000)]
    assert message.failures == [1009]


def test_limit_daphne_text_frames_add_up(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=False).frames(60, 40)
    assert message.failures == []
    message.frames(1)
    assert message.exceeded == [(101, 100)]
    assert message.failures == [1009]


def test_limit_daphne_calls_original_first(frame_begins):
    limit_daphne_text_messages(100, 2000)
    Message(binary=False).frames(30, 101)
    assert frame_begins == [30, 101]


def test_limit_daphne_failed_connection_not_failed_again(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=False).frames(101, 50)
    assert message.failures == [1009]


def test_limit_daphne_max_message_payload_size_unchanged(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=False, max_payload=2000).frames(50)
    assert message.protocol.maxMessagePayloadSize == 2000
    message.frames(60)
    assert message.failures == [1009]
    assert message.protocol.maxMessagePayloadSize == 2000
    assert Message(binary=True).frames(10).protocol.maxMessagePayloadSize == 2000


def test_limit_daphne_class_payload_size_untouched(frame_begins):
    before = vars(WebSocketProtocol).get("maxMessagePayloadSize", ABSENT)
    limit_daphne_text_messages(100, 2000)
    Message(binary=False).frames(101)
    assert vars(WebSocketProtocol).get("maxMessagePayloadSize", ABSENT) is before


def test_limit_daphne_stores_original(frame_begins):
    original = WebSocketProtocol.onMessageFrameBegin
    limit_daphne_text_messages(100, 2000)
    assert WebSocketProtocol._advisor_original_frame_begin is original
    assert WebSocketProtocol.onMessageFrameBegin is not original
    assert WebSocketProtocol._advisor_limits == (100, 2000)


def test_limit_daphne_new_limits_wrap_original_once(frame_begins):
    original = WebSocketProtocol.onMessageFrameBegin
    limit_daphne_text_messages(100, 2000)
    limit_daphne_text_messages(300, 4000)
    assert WebSocketProtocol._advisor_original_frame_begin is original
    message = Message(binary=False).frames(200)
    assert message.failures == []
    assert frame_begins == [200]
    assert Message(binary=False).frames(301).failures == [1009]
