"""The demo feed: one id sequence, a bounded history, a local fan-out per process.

Fan-out follows what was measured on this kind of machine: each event is
encoded once and appended to each subscriber's own bounded backlog (or
written straight to its socket once it has caught up); there is no
channel-layer `group_send` per event, which fell seconds behind at a thousand
subscribers and, with the in-memory layer, dropped messages silently.
Across processes (REDIS_URL set), each process holds one Redis pub/sub
subscription and fans out locally; a Lua script gives every event its id,
stores it in the history and publishes it in one atomic step, so ids are
unique, in order, and never published before they can be replayed.
"""

from __future__ import annotations

import asyncio

from django.conf import settings

from .local import Feed
from .redis_feed import RedisFeed
from .subscriber import Closed, Subscriber, public_id

__all__ = [
    "Closed",
    "Feed",
    "RedisFeed",
    "Subscriber",
    "current_feed",
    "get_feed",
    "public_id",
    "reset_feed",
]


class _Current:
    """The feed of this process, bound to the event loop it was started on."""

    feed: Feed | None = None
    loop: asyncio.AbstractEventLoop | None = None
    starting: asyncio.Future | None = None


async def get_feed() -> Feed:
    """The feed of this process and event loop, started on first use."""
    loop = asyncio.get_running_loop()
    if _Current.feed is not None and _Current.loop is loop:
        if _Current.starting is not None and not _Current.starting.done():
            await asyncio.shield(_Current.starting)
        return _Current.feed
    options = settings.LIVE_DEMO
    feed = RedisFeed(options) if options["REDIS_URL"] else Feed(options)
    starting = loop.create_future()
    _Current.feed, _Current.loop, _Current.starting = feed, loop, starting
    try:
        await feed.start()
    except BaseException as error:
        # Callers waiting for this start fail with the same error; the next
        # call starts a feed afresh. Nothing of this one may keep running.
        _Current.feed = _Current.loop = _Current.starting = None
        await asyncio.shield(feed.aclose())
        if isinstance(error, Exception):
            starting.set_exception(error)
            starting.exception()  # counted as seen: each waiter raises it
        else:
            starting.cancel()
        raise
    starting.set_result(None)
    return feed


def current_feed() -> Feed | None:
    """The running feed, if any, without starting one."""
    return _Current.feed


async def reset_feed() -> None:
    """Stop this process's feed (tests start each one afresh)."""
    feed, loop = _Current.feed, _Current.loop
    _Current.feed = _Current.loop = _Current.starting = None
    if feed is not None and loop is asyncio.get_running_loop():
        await feed.aclose()
