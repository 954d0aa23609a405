"""live_demo/feed/subscriber.py: one connection's backlog of events."""

from __future__ import annotations

import pytest

from live_demo.events import Event
from live_demo.feed import Closed, public_id
from tests.live_demo.feed.helpers import ids, nth, numbers, publish


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
    one, two, three, four = (event(nth(feed, number)) for number in (1, 2, 3, 4))
    assert ids(subscriber.take([one, two])) == ids([one, two])
    assert ids(subscriber.take([two, three, one, four])) == ids([three, four])
    assert subscriber.last_sent == four.id


@pytest.mark.asyncio
async def test_subscriber_receives_published_events(fresh_feed, feed):
    subscriber = feed.subscribe("websocket")
    await publish(feed, 3)
    assert numbers(feed, await subscriber.next_batch(timeout=1)) == [1, 2, 3]


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
    assert numbers(feed, received) == list(range(1, 11))
    assert list(feed.subscribers) == [fast.id]
