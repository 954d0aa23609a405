"""Publishing to a feed and reading ids, for the feed's tests."""

from __future__ import annotations

from typing import Any

from live_demo.events import Event
from live_demo.feed import Feed


async def publish(feed: Feed, count: int) -> list[Event]:
    return [await feed.publish("tick", {"n": number}) for number in range(count)]


def ids(items: list[Any]) -> list[int]:
    return [item.id for item in items]


def nth(feed: Feed, number: int) -> int:
    """The id of the feed's `number`-th event (1: its first; 0: the id before)."""
    return feed.first_id - 1 + number


def numbers(feed: Feed, items: list[Any]) -> list[int]:
    """Which of the feed's events these are (1: its first): ids start at a base."""
    return [item.id - nth(feed, 0) for item in items]
