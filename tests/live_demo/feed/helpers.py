"""Publishing to a feed and reading ids, for the feed's tests."""

from __future__ import annotations

from typing import Any

from live_demo.events import Event
from live_demo.feed import Feed


async def publish(feed: Feed, count: int) -> list[Event]:
    return [await feed.publish("tick", {"n": number}) for number in range(count)]


def ids(items: list[Any]) -> list[int]:
    return [item.id for item in items]
