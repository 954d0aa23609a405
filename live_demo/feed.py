"""The demo feed: one id sequence, a bounded history, a local fan-out per process.

Fan-out follows what was measured here (shared/MEASURED.md): each event is
encoded once and appended to each subscriber's own bounded backlog; there is
no channel-layer `group_send` per event. Across processes (REDIS_URL set),
each process holds one Redis pub/sub subscription and fans out locally; a Lua
script gives every event its id, stores it in the history and publishes it in
one atomic step, so ids are unique, in order, and never published before they
can be replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import uuid
from collections import deque
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings

from .events import Event, gap_notice, now_ms, to_json
from .protocol import public_id

logger = logging.getLogger(__name__)


class Closed(Exception):
    """A subscriber's stream ends: `reason` is "dropped" (on request) or "slow"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Subscriber:
    """One connection's place in the feed: its backlog and what it has been sent."""

    def __init__(self, feed: Feed, transport: str, max_backlog: int) -> None:
        self.id = uuid.uuid4().hex
        self.public_id = public_id(self.id)
        self.transport = transport
        self.feed = feed
        self.max_backlog = max_backlog
        # The newest id handed to the connection: anything at or below it is
        # a duplicate (an event both replayed and delivered live).
        self.last_sent = feed.last_id
        self.closed_reason: str | None = None
        self._pending: deque[Event] = deque()
        self._ready = asyncio.Event()

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def push(self, event: Event) -> None:
        if self.closed_reason:
            return
        if len(self._pending) >= self.max_backlog:
            self.close("slow")
            return
        self._pending.append(event)
        self._ready.set()

    def close(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
            self._ready.set()
        self.feed.unsubscribe(self)

    def take(self, events: Iterable[Event]) -> list[Event]:
        """Keep the events not yet sent, in order, and count them as sent."""
        fresh = []
        for event in events:
            if event.id > self.last_sent:
                fresh.append(event)
                self.last_sent = event.id
        return fresh

    def wake(self) -> None:
        """Let the waiting `next_batch` return, with nothing if nothing is pending."""
        self._ready.set()

    async def next_batch(self, timeout: float | None = None) -> list[Event]:
        """Everything pending (maybe nothing: after `timeout` seconds, or a `wake`)."""
        if not self._pending and self.closed_reason is None:
            if timeout is None:
                # The hot path: no timer and no task per wake-up.
                await self._ready.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ready.wait(), timeout)
        if self.closed_reason is not None:
            raise Closed(self.closed_reason)
        self._ready.clear()
        pending, self._pending = self._pending, deque()
        return self.take(pending)


class Feed:
    """The process's view of the feed: local subscribers, history, publishing."""

    backend = "memory"

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.last_id = 0
        self.subscribers: dict[str, Subscriber] = {}
        # Tasks that serve connections; the count must return to zero.
        self.connection_tasks: set[asyncio.Task] = set()
        self._tasks: set[asyncio.Task] = set()
        self._history: deque[Event] = deque(maxlen=options["HISTORY"])
        self._prices = _Prices()

    # Life cycle -------------------------------------------------------------

    async def start(self) -> None:
        self._spawn(self._tick_forever())

    async def aclose(self) -> None:
        for subscriber in list(self.subscribers.values()):
            subscriber.close("shutdown")
        tasks = self._tasks | self.connection_tasks
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
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

    async def start_from(
        self, subscriber: Subscriber, last_id: int | None
    ) -> list[Event | dict[str, Any]]:
        """What to send before going live: nothing, or the events after `last_id`.

        A gap notice comes first when `last_id` is older than the history or
        newer than the feed (the feed restarted); then whatever history holds.
        """
        if last_id is None:
            return []
        events, oldest, newest = await self.history_after(last_id)
        items: list[Event | dict[str, Any]] = []
        if last_id > newest:
            items.append(gap_notice(last_id, oldest, newest, "restarted"))
            events, oldest, newest = await self.history_after(0)
            subscriber.last_sent = 0
        else:
            if oldest is not None and last_id < oldest - 1:
                items.append(gap_notice(last_id, oldest, newest, "expired"))
            subscriber.last_sent = last_id
        items.extend(subscriber.take(events))
        return items

    def deliver(self, event: Event) -> None:
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
        self.last_id += 1
        event = Event(id=self.last_id, type=kind, ts=now_ms(), payload=payload)
        self._history.append(event)
        self.deliver(event)
        return event

    async def history_after(self, last_id: int) -> tuple[list[Event], int | None, int]:
        """(events newer than `last_id`, oldest id kept, newest id)."""
        oldest = self._history[0].id if self._history else None
        if oldest is None:
            return [], None, self.last_id
        start = max(0, last_id - oldest + 1)
        return list(self._history)[start:], oldest, self.last_id

    async def history_bounds(self) -> tuple[int | None, int]:
        return (self._history[0].id if self._history else None), self.last_id

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


class RedisFeed(Feed):
    """One feed for every process sharing a Redis server."""

    backend = "redis"

    # KEYS: id counter, history, events channel, epoch. ARGV: event JSON
    # without its id (an object), history size, an epoch for a new sequence.
    # Atomic: ids are published in order. The epoch names the id sequence: a
    # Redis that lost its data (restarted without persistence, flushed)
    # starts again from id 1 under a new epoch, which every process notices.
    PUBLISH_SCRIPT = """
    local epoch = redis.call('GET', KEYS[4])
    if not epoch then
      epoch = ARGV[3]
      redis.call('SET', KEYS[4], epoch)
    end
    local id = redis.call('INCR', KEYS[1])
    local event = '{"id":' .. id .. ',' .. string.sub(ARGV[1], 2)
    redis.call('ZADD', KEYS[2], id, event)
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
    redis.call('PUBLISH', KEYS[3], epoch .. '\\n' .. event)
    return id
    """
    # KEYS: leader lock. ARGV: this process's token, lease in ms.
    LEAD_SCRIPT = """
    if redis.call('GET', KEYS[1]) == ARGV[1] then
      redis.call('PEXPIRE', KEYS[1], ARGV[2])
      return 1
    end
    if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
    return 0
    """
    # KEYS: leader lock. ARGV: this process's token. Gives up only its own lease.
    RESIGN_SCRIPT = """
    if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
    return 0
    """

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self._redis = aioredis.from_url(options["REDIS_URL"], decode_responses=True)
        prefix = options["REDIS_PREFIX"]
        self._keys = {
            "id": f"{prefix}:id",
            "history": f"{prefix}:history",
            "events": f"{prefix}:events",
            "control": f"{prefix}:control",
            "leader": f"{prefix}:leader",
            "epoch": f"{prefix}:epoch",
        }
        self._token = f"{os.getpid()}:{uuid.uuid4().hex}"
        self._publish = self._redis.register_script(self.PUBLISH_SCRIPT)
        self._lead = self._redis.register_script(self.LEAD_SCRIPT)
        self._resign = self._redis.register_script(self.RESIGN_SCRIPT)
        self._subscribed = asyncio.Event()
        self.epoch: str | None = None
        self.leading = False

    async def start(self) -> None:
        # Fail at once when Redis is not there (the caller answers 503),
        # rather than after the listener's retries.
        await asyncio.wait_for(self._redis.ping(), timeout=3)
        self._spawn(self._listen_forever())
        # Subscribed before anyone reads the history: an event is then either
        # in the history read or delivered live, never neither.
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)
        await super().start()

    async def aclose(self) -> None:
        await super().aclose()
        if self.leading:
            with contextlib.suppress(Exception):
                await self._resign(keys=[self._keys["leader"]], args=[self._token])
        await self._redis.aclose()

    async def publish(self, kind: str, payload: dict[str, Any]) -> Event:
        body = to_json({"type": kind, "ts": now_ms(), "payload": payload})
        event_id = await self._publish(
            keys=[self._keys[name] for name in ("id", "history", "events", "epoch")],
            args=[body, self.options["HISTORY"], uuid.uuid4().hex],
        )
        return Event.from_json(f'{{"id":{int(event_id)},{body[1:]}')

    async def history_after(self, last_id: int) -> tuple[list[Event], int | None, int]:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrangebyscore(self._keys["history"], f"({last_id}", "+inf")
            pipe.zrange(self._keys["history"], 0, 0, withscores=True)
            pipe.get(self._keys["id"])
            raw_events, first, newest = await pipe.execute()
        oldest = int(first[0][1]) if first else None
        return [Event.from_json(raw) for raw in raw_events], oldest, int(newest or 0)

    async def history_bounds(self) -> tuple[int | None, int]:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrange(self._keys["history"], 0, 0, withscores=True)
            pipe.get(self._keys["id"])
            first, newest = await pipe.execute()
        return (int(first[0][1]) if first else None), int(newest or 0)

    async def drop(self, connection: str) -> bool:
        if self.drop_local(connection):
            return True
        message = to_json({"op": "drop", "connection": connection})
        await self._redis.publish(self._keys["control"], message)
        # Whether another process knew it is not known here.
        return True

    async def _should_tick(self) -> bool:
        """Only the process holding the lease ticks: one feed, whatever the count."""
        lease_ms = max(2000, int(3000 / self.options["FEED_RATE"]))
        self.leading = bool(
            await self._lead(keys=[self._keys["leader"]], args=[self._token, lease_ms])
        )
        return self.leading

    async def _listen_forever(self) -> None:
        delay = 0.1
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._keys["events"], self._keys["control"])
                epoch = await self._redis.get(self._keys["epoch"])
                if self._subscribed.is_set():
                    # Back after an outage: replay what this process missed.
                    if epoch is not None and epoch != self.epoch:
                        self._restart(epoch)
                    await self._catch_up()
                else:
                    self.epoch = epoch
                    _, self.last_id = await self.history_bounds()
                    self._subscribed.set()
                delay = 0.1
                async for message in pubsub.listen():
                    await self._on_message(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("live demo feed: Redis subscription lost; retrying", exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return
        if message["channel"] == self._keys["control"]:
            control = json.loads(message["data"])
            if control.get("op") == "drop":
                self.drop_local(str(control.get("connection", "")))
            return
        epoch, _, data = message["data"].partition("\n")
        event = Event.from_json(data)
        if epoch != self.epoch:
            if self.epoch is not None:
                self._restart(epoch)
            self.epoch = epoch
        if event.id <= self.last_id:
            return
        if event.id > self.last_id + 1 and self.last_id:
            await self._catch_up(until=event.id)
        self.last_id = event.id
        self.deliver(event)

    def _restart(self, epoch: str) -> None:
        """The id sequence started again (Redis lost its data): everyone reconnects.

        Each client then resumes with an id the new sequence has not reached,
        and gets a "restarted" gap notice and the new history.
        """
        logger.warning("live demo feed: Redis lost the feed's ids; a new sequence begins")
        self.epoch = epoch
        self.last_id = 0
        for subscriber in list(self.subscribers.values()):
            subscriber.close("dropped")

    async def _catch_up(self, until: int | None = None) -> None:
        events, _, _ = await self.history_after(self.last_id)
        for event in events:
            if until is not None and event.id >= until:
                break
            self.last_id = event.id
            self.deliver(event)


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
