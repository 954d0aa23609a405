"""The feed kept in this process: ids, history and ticks of its own."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import time
from collections import deque
from typing import Any, NamedTuple

from advisor.wire import now_ms
from operations import metrics

from ..events import Event, gap_notice
from .subscriber import Subscriber

logger = logging.getLogger(__name__)


def sequence_base() -> int:
    """Where a new id sequence starts counting: now, in whole milliseconds.

    A client keeps the last id it got across a restart of the feed (a server
    process restarted, a Redis that lost its data), and the ids it holds say
    nothing of which sequence gave them. A new sequence therefore starts above
    any id the one before can have given: the one before started at its own
    start time in milliseconds and gave fewer ids than milliseconds have
    passed since, as long as it gave fewer than 1,000 a second on average (the
    demo's ticks come at DEMO_FEED_RATE, 4 a second, and chats at 20 a second
    per connection at most; docs/live-demo.md). Every old id is then below
    the base, the new first id less one, and a client resuming from one is
    told the feed restarted; resuming from the base itself asks for the
    sequence from its first id on.
    """
    return int(time.time() * 1000)


class History(NamedTuple):
    """What the feed holds, read at once."""

    # Events newer than the id asked for, oldest first.
    events: list[Event]
    # The oldest id kept (None: nothing kept yet) and the newest id given.
    oldest: int | None
    newest: int
    # The current sequence's first id: an id below it less one is from a
    # sequence before (Feed.start_from).
    first: int


class Feed:
    """The process's view of the feed: local subscribers, history, publishing."""

    backend = "memory"

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        # This process's own sequence: a server restarted (`make run`) gives
        # ids above the ones its clients hold from the process before.
        self.first_id = sequence_base() + 1
        self.last_id = self.first_id - 1
        self.subscribers: dict[str, Subscriber] = {}
        # Tasks that serve connections; the count must return to zero.
        self.connection_tasks: set[asyncio.Task] = set()
        self._tasks: set[asyncio.Task] = set()
        self._history: deque[Event] = deque(maxlen=options["HISTORY"])
        self._prices = _Prices()

    # Life cycle -------------------------------------------------------------

    async def start(self) -> None:
        # A rate of 0 means no ticks at all: only chat (the idle benchmark).
        if self.options["FEED_RATE"] > 0:
            self._spawn(self._tick_forever())

    async def aclose(self) -> None:
        for subscriber in list(self.subscribers.values()):
            subscriber.close("shutdown")
        tasks = self._tasks | self.connection_tasks
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coroutine) -> asyncio.Task:
        # A context of its own: the feed starts within the first request that
        # needs it, and its ticks must not be logged under that request's id.
        task = asyncio.get_running_loop().create_task(coroutine, context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def track(self, task: asyncio.Task) -> asyncio.Task:
        """Count a connection's task until it ends (the leak tests read the count)."""
        self.connection_tasks.add(task)
        task.add_done_callback(self.connection_tasks.discard)
        return task

    # Subscribers --------------------------------------------------------------

    def subscribe(self, transport: str) -> Subscriber:
        """Register at once, so nothing published from now on is missed."""
        subscriber = Subscriber(self, transport, self.options["MAX_BACKLOG_EVENTS"])
        self.subscribers[subscriber.id] = subscriber
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.pop(subscriber.id, None)

    def counts(self) -> dict[str, int]:
        counts = {"websocket": 0, "sse": 0}
        for subscriber in self.subscribers.values():
            counts[subscriber.transport] = counts.get(subscriber.transport, 0) + 1
        return counts

    def paths(self) -> dict[str, dict[str, int]]:
        """Subscribers per transport whose events are written straight to the socket
        (`direct`: caught up, on a server and connection that allow it) or go
        through ASGI (`asgi`: replaying, behind, or the direct path unavailable)."""
        paths = {"direct": {"websocket": 0, "sse": 0}, "asgi": {"websocket": 0, "sse": 0}}
        for subscriber in self.subscribers.values():
            path = paths["direct" if subscriber.sink is not None else "asgi"]
            path[subscriber.transport] = path.get(subscriber.transport, 0) + 1
        return paths

    async def start_from(
        self, subscriber: Subscriber, last_id: int | None
    ) -> list[Event | dict[str, Any]]:
        """What to send before going live: nothing, or the events after `last_id`.

        A gap notice comes first when `last_id` is older than the history
        (expired) or is not of the feed's current sequence: below its base (its
        first id less one) or above its newest (the feed restarted); then
        whatever history holds. 0, or the base, asks for the whole sequence.
        """
        if last_id is None:
            return []
        metrics.RESUMES.labels(subscriber.transport).inc()
        events, oldest, newest, first = await self.history_after(last_id)
        items: list[Event | dict[str, Any]] = []
        if last_id > newest or 0 < last_id < first - 1:
            metrics.GAPS.labels("restarted").inc()
            items.append(gap_notice(last_id, oldest, newest, "restarted"))
            events = (await self.history_after(0)).events
            subscriber.last_sent = 0
        else:
            # Everything before the sequence's first id counts as had.
            had = max(last_id, first - 1)
            if oldest is not None and had < oldest - 1:
                metrics.GAPS.labels("expired").inc()
                items.append(
                    gap_notice(last_id, oldest, newest, "expired", missed=oldest - had - 1)
                )
            subscriber.last_sent = last_id
        items.extend(subscriber.take(events))
        return items

    def deliver(self, event: Event) -> None:
        # Two additions per event, none per subscriber: the fan-out stays as fast.
        metrics.EVENTS_FANNED_OUT.inc()
        metrics.DELIVERIES.inc(len(self.subscribers))
        for subscriber in list(self.subscribers.values()):
            subscriber.push(event)

    def drop_local(self, connection: str) -> bool:
        subscriber = self.subscribers.get(connection)
        if subscriber is None:
            return False
        subscriber.close("dropped")
        return True

    # Backend: in this process ---------------------------------------------------

    async def publish(self, kind: str, payload: dict[str, Any]) -> Event:
        """Give the event the next id, keep it, deliver it; or UnencodableEvent.

        Encoded first: an event that cannot be sent is refused before it takes
        an id or reaches the history or anyone, instead of failing every send
        and every resume that would include it. (No await in between: nothing
        else can take the same id.)
        """
        event = Event(id=self.last_id + 1, type=kind, ts=now_ms(), payload=payload).encoded()
        self.last_id = event.id
        self._history.append(event)
        metrics.EVENTS_PUBLISHED.inc()
        self.deliver(event)
        return event

    async def history_after(self, last_id: int) -> History:
        """The events newer than `last_id`, and the bounds of the sequence."""
        oldest = self._history[0].id if self._history else None
        if oldest is None:
            return History([], None, self.last_id, self.first_id)
        start = max(0, last_id - oldest + 1)
        return History(list(self._history)[start:], oldest, self.last_id, self.first_id)

    async def history_bounds(self) -> tuple[int | None, int, int]:
        """(oldest id kept, newest id, the sequence's first id)."""
        return (self._history[0].id if self._history else None), self.last_id, self.first_id

    async def drop(self, connection: str) -> bool:
        """Close a connection's stream, wherever it is served; False if unknown."""
        return self.drop_local(connection)

    async def _should_tick(self) -> bool:
        return True

    async def _tick_forever(self) -> None:
        interval = 1 / self.options["FEED_RATE"]
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            try:
                if await self._should_tick():
                    await self.publish("tick", self._prices.tick())
            except Exception:
                # A feed that dies silently is worse than one that skips a tick.
                logger.exception("live demo feed: tick failed")
            next_at = max(next_at + interval, loop.time())
            await asyncio.sleep(next_at - loop.time())


class _Prices:
    """A simulated market: a random walk over a few symbols."""

    SYMBOLS = {"ACME": 182.40, "GLOBEX": 47.15, "INITECH": 12.82, "UMBRELLA": 311.07}

    def __init__(self) -> None:
        self.prices = dict(self.SYMBOLS)

    def tick(self) -> dict[str, Any]:
        symbol = random.choice(list(self.prices))
        old = self.prices[symbol]
        new = round(max(0.01, old * (1 + random.gauss(0, 0.002))), 2)
        self.prices[symbol] = new
        return {"symbol": symbol, "price": new, "change": round(new - old, 2)}
