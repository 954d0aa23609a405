"""live_demo/feed/local.py: the in-process feed, its history, replay and drops."""

from __future__ import annotations

import time

import pytest

from live_demo.events import UnencodableEvent
from live_demo.feed import Closed, Feed
from tests.live_demo.feed.helpers import nth, numbers, publish

# History --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_feed_ids_increase_by_one(fresh_feed, feed):
    assert numbers(feed, await publish(feed, 4)) == [1, 2, 3, 4]
    assert feed.last_id == nth(feed, 4)


@pytest.mark.asyncio
async def test_feed_event_has_server_ts(fresh_feed, feed):
    before = time.time() * 1000
    [event] = await publish(feed, 1)
    assert before - 1 <= event.ts <= time.time() * 1000 + 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "payload", [{"text": "x \ud800"}, {"price": float("nan")}], ids=["lone-surrogate", "nan"]
)
async def test_feed_publish_unencodable_refused_nothing_touched(fresh_feed, feed, payload):
    await publish(feed, 2)
    subscriber = feed.subscribe("websocket")
    delivered = []
    subscriber.sink = lambda event: delivered.append(event) or True
    with pytest.raises(UnencodableEvent):
        await feed.publish("chat", payload)
    assert feed.last_id == nth(feed, 2)
    assert numbers(feed, (await feed.history_after(0))[0]) == [1, 2]
    assert delivered == []
    assert subscriber.backlog == 0
    # No id was consumed: the next event takes the next one, and replays encode.
    [event] = await publish(feed, 1)
    assert event.id == nth(feed, 3)
    assert [item.sse for item in (await feed.history_after(0))[0]]
    assert delivered == [event]


@pytest.mark.asyncio
async def test_feed_history_bounded(fresh_feed, feed):
    await publish(feed, 8)
    events, oldest, newest, _ = await feed.history_after(0)
    assert numbers(feed, events) == [4, 5, 6, 7, 8]
    assert (oldest, newest) == (nth(feed, 4), nth(feed, 8))


@pytest.mark.asyncio
async def test_feed_history_after(fresh_feed, feed):
    await publish(feed, 4)
    events, oldest, newest, first = await feed.history_after(nth(feed, 2))
    assert numbers(feed, events) == [3, 4]
    assert (oldest, newest, first) == (nth(feed, 1), nth(feed, 4), nth(feed, 1))


@pytest.mark.asyncio
async def test_feed_history_after_newest_empty(fresh_feed, feed):
    await publish(feed, 4)
    assert (await feed.history_after(nth(feed, 4))).events == []


@pytest.mark.asyncio
async def test_feed_history_after_empty_feed(fresh_feed, feed):
    assert await feed.history_after(0) == ([], None, nth(feed, 0), nth(feed, 1))


@pytest.mark.asyncio
async def test_feed_counts_by_transport(fresh_feed, feed):
    feed.subscribe("websocket")
    feed.subscribe("sse")
    feed.subscribe("sse")
    assert feed.counts() == {"websocket": 1, "sse": 2}


# start_from -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_start_from_none_live_from_now(fresh_feed, feed):
    await publish(feed, 3)
    subscriber = feed.subscribe("websocket")
    assert await feed.start_from(subscriber, None) == []
    await publish(feed, 2)
    assert numbers(feed, await subscriber.next_batch(timeout=1)) == [4, 5]


@pytest.mark.asyncio
async def test_start_from_within_history_exact_replay(fresh_feed, feed):
    await publish(feed, 4)
    subscriber = feed.subscribe("websocket")
    assert numbers(feed, await feed.start_from(subscriber, nth(feed, 1))) == [2, 3, 4]
    await publish(feed, 1)
    assert numbers(feed, await subscriber.next_batch(timeout=1)) == [5]


@pytest.mark.asyncio
async def test_start_from_oldest_minus_one_no_gap(fresh_feed, feed):
    await publish(feed, 8)
    subscriber = feed.subscribe("websocket")
    assert numbers(feed, await feed.start_from(subscriber, nth(feed, 3))) == [4, 5, 6, 7, 8]


@pytest.mark.asyncio
async def test_start_from_newest_nothing(fresh_feed, feed):
    await publish(feed, 4)
    subscriber = feed.subscribe("websocket")
    assert await feed.start_from(subscriber, nth(feed, 4)) == []


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
    replayed = await feed.start_from(subscriber, nth(feed, 1))
    live = await subscriber.next_batch(timeout=1)
    assert numbers(feed, replayed) + numbers(feed, live) == [2, 3, 4, 5]


@pytest.mark.asyncio
async def test_start_from_no_dup_with_events_pending_before_read(fresh_feed, feed):
    await publish(feed, 2)
    subscriber = feed.subscribe("websocket")
    await publish(feed, 2)  # pending, and in the history
    replayed = await feed.start_from(subscriber, 0)
    live = await subscriber.next_batch(timeout=1)
    assert numbers(feed, replayed) + numbers(feed, live) == [1, 2, 3, 4]


@pytest.mark.asyncio
async def test_start_from_older_than_history_gap_first(fresh_feed, feed):
    await publish(feed, 10)
    subscriber = feed.subscribe("websocket")
    gap, *events = await feed.start_from(subscriber, nth(feed, 2))
    assert gap["type"] == "gap"
    assert gap["reason"] == "expired"
    assert (gap["last_id"], gap["oldest"], gap["newest"]) == (
        nth(feed, 2),
        nth(feed, 6),
        nth(feed, 10),
    )
    assert gap["missed"] == 3
    assert numbers(feed, events) == [6, 7, 8, 9, 10]


@pytest.mark.asyncio
async def test_start_from_newer_than_feed_restarted_whole_history(fresh_feed, feed):
    await publish(feed, 7)
    subscriber = feed.subscribe("websocket")
    gap, *events = await feed.start_from(subscriber, nth(feed, 50))
    assert gap["type"] == "gap"
    assert gap["reason"] == "restarted"
    assert gap["missed"] is None
    assert (gap["last_id"], gap["newest"]) == (nth(feed, 50), nth(feed, 7))
    assert numbers(feed, events) == [3, 4, 5, 6, 7]
    await publish(feed, 1)
    assert numbers(feed, await subscriber.next_batch(timeout=1)) == [8]


@pytest.mark.asyncio
async def test_start_from_newer_than_empty_feed_restarted(fresh_feed, feed):
    subscriber = feed.subscribe("websocket")
    [gap] = await feed.start_from(subscriber, nth(feed, 5))
    assert gap["reason"] == "restarted"
    assert (gap["oldest"], gap["newest"]) == (None, nth(feed, 0))


@pytest.mark.asyncio
async def test_start_from_zero_older_than_history_counts_only_this_sequence(fresh_feed, feed):
    await publish(feed, 8)
    subscriber = feed.subscribe("websocket")
    gap, *events = await feed.start_from(subscriber, 0)
    assert (gap["reason"], gap["missed"]) == ("expired", 3)
    assert numbers(feed, events) == [4, 5, 6, 7, 8]


@pytest.mark.asyncio
async def test_start_from_the_id_before_the_first_whole_sequence_no_gap(fresh_feed, feed):
    await publish(feed, 4)
    subscriber = feed.subscribe("websocket")
    assert numbers(feed, await feed.start_from(subscriber, nth(feed, 0))) == [1, 2, 3, 4]


@pytest.mark.asyncio
async def test_start_from_below_the_sequence_restarted_whole_history(fresh_feed, feed):
    await publish(feed, 7)
    subscriber = feed.subscribe("websocket")
    gap, *events = await feed.start_from(subscriber, nth(feed, -1))
    assert (gap["reason"], gap["missed"]) == ("restarted", None)
    assert numbers(feed, events) == [3, 4, 5, 6, 7]


@pytest.mark.asyncio
async def test_feed_ids_start_above_the_time_in_ms(fresh_feed, feed):
    before = time.time() * 1000
    later = Feed({**feed.options})
    [event] = await publish(later, 1)
    assert before - 1 <= event.id - 1 <= time.time() * 1000


@pytest.mark.asyncio
async def test_process_restarted_past_the_clients_id_still_tells_it(fresh_feed, feed):
    """`make run` restarted: the browser resumes with an id of the process before.

    The new process has since given more events than the client's id counted
    from 1; with ids from 1 it would have replayed the new events after that
    id as if they followed on.
    """
    [*_, held] = await publish(feed, 3)
    time.sleep(0.01)  # a restart takes longer than the 3 ids took
    restarted = Feed({**feed.options})
    await publish(restarted, 10)
    subscriber = restarted.subscribe("sse")
    gap, *events = await restarted.start_from(subscriber, held.id)
    assert (gap["reason"], gap["last_id"], gap["missed"]) == ("restarted", held.id, None)
    assert numbers(restarted, events) == [6, 7, 8, 9, 10]


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
