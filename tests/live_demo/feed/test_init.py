"""live_demo/feed/__init__.py: the process's feed, made from the settings."""

from __future__ import annotations

import pytest

from live_demo.feed import get_feed
from tests.live_demo.feed.helpers import ids, publish


@pytest.mark.asyncio
async def test_feed_history_bounded_by_setting(fresh_feed, settings):
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "HISTORY": 3}
    feed = await get_feed()
    await publish(feed, 5)
    events, oldest, newest, _ = await feed.history_after(0)
    assert ids(events) == [newest - 2, newest - 1, newest]
    assert oldest == newest - 2
