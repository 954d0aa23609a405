"""Settings the benchmarks turn: a feed with no ticks (the idle-connections scenario)."""

from __future__ import annotations

import asyncio
import gc

import pytest

from live_demo.feed import get_feed


@pytest.mark.asyncio
async def test_feed_rate_zero_publishes_no_ticks(fresh_feed, settings):
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "FEED_RATE": 0}
    feed = await get_feed()
    subscriber = feed.subscribe("sse")
    # Long enough for a ticking feed's first tick (it ticks as soon as it starts).
    await asyncio.sleep(0.2)
    await feed.publish("chat", {"text": "hello"})
    [only] = await subscriber.next_batch(timeout=5)
    assert (only.id, only.type) == (feed.first_id, "chat")


@pytest.mark.asyncio
async def test_feed_rate_zero_no_failing_ticker(fresh_feed, settings):
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "FEED_RATE": 0}
    errors = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: errors.append(context))
    await get_feed()
    await asyncio.sleep(0.2)
    gc.collect()  # a task that failed unobserved reports it when collected
    assert errors == []


@pytest.mark.asyncio
async def test_feed_rate_positive_ticks(fresh_feed, settings):
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "FEED_RATE": 20}
    feed = await get_feed()
    subscriber = feed.subscribe("sse")
    batch = await subscriber.next_batch(timeout=5)
    assert batch
    assert batch[0].type == "tick"
