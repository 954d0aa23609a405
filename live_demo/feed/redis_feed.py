"""The feed shared by every process on one Redis server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid
from typing import Any

import redis.asyncio as aioredis

from advisor.wire import now_ms, to_json
from operations import metrics

from ..events import Event
from .local import Feed, History, sequence_base

logger = logging.getLogger(__name__)


class RedisFeed(Feed):
    """One feed for every process sharing a Redis server."""

    backend = "redis"

    # KEYS: id counter, history, events channel, epoch, first id. ARGV: event
    # JSON without its id (an object), history size, an epoch and a base for
    # a new sequence. Atomic: ids are published in order. The epoch names the
    # id sequence: a Redis that lost its data (restarted without persistence,
    # flushed) begins a new one under a new epoch, which every process
    # notices. Its base (its first id less one) is above any id the lost
    # sequence gave: sequence_base(), now in ms, or above the newest id this
    # process saw, or above where the counter is if only the epoch was lost,
    # whichever is highest. A client resuming from an old id is below the
    # base and is told (Feed.start_from). Ids
    # stay below 10^14 (13 digits until the year 2286): Lua 5.1 writes
    # numbers with 14 significant digits.
    PUBLISH_SCRIPT = """
    local epoch = redis.call('GET', KEYS[4])
    local new = not epoch
    if new then
      epoch = ARGV[3]
      redis.call('SET', KEYS[4], epoch)
      local counter = tonumber(redis.call('GET', KEYS[1]) or '0')
      redis.call('SET', KEYS[1], math.max(tonumber(ARGV[4]), counter + 1))
    end
    local id = redis.call('INCR', KEYS[1])
    if new then redis.call('SET', KEYS[5], id) end
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
        # A reconnect storm (a process died: hundreds of its clients resume
        # here at once) reads the history on as many connections: past the
        # pool's 100, a plain pool raised "Too many connections" and those
        # clients were refused (503, close 4011). This one makes them wait
        # for a free connection instead.
        pool = aioredis.BlockingConnectionPool.from_url(
            options["REDIS_URL"], decode_responses=True, max_connections=100, timeout=10
        )
        self._redis = aioredis.Redis.from_pool(pool)
        prefix = options["REDIS_PREFIX"]
        self._keys = {
            "id": f"{prefix}:id",
            "history": f"{prefix}:history",
            "events": f"{prefix}:events",
            "control": f"{prefix}:control",
            "leader": f"{prefix}:leader",
            "epoch": f"{prefix}:epoch",
            "first": f"{prefix}:first",
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
        """As the local feed's: an event that cannot be encoded never reaches Redis.

        The script gives the id, so the event is encoded with a stand-in id
        first (an id only adds digits); the script gets the UTF-8 bytes of
        that very JSON, without its id. Every process decodes what it gets
        back with strict UTF-8 and `json.loads`, which take whatever this
        encoding produced.
        """
        draft = Event(id=0, type=kind, ts=now_ms(), payload=payload).encoded()
        body = "{" + draft.json.removeprefix('{"id":0,')
        base = max(sequence_base(), self.last_id + 1)
        event_id = await self._publish(
            keys=[self._keys[name] for name in ("id", "history", "events", "epoch", "first")],
            args=[body.encode(), self.options["HISTORY"], uuid.uuid4().hex, base],
        )
        metrics.EVENTS_PUBLISHED.inc()
        return Event.from_json(f'{{"id":{int(event_id)},{body[1:]}')

    async def history_after(self, last_id: int) -> History:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrangebyscore(self._keys["history"], f"({last_id}", "+inf")
            pipe.zrange(self._keys["history"], 0, 0, withscores=True)
            pipe.get(self._keys["id"])
            pipe.get(self._keys["first"])
            raw_events, kept, newest, first = await pipe.execute()
        oldest = int(kept[0][1]) if kept else None
        events = [event for raw in raw_events if (event := _decode(raw)) is not None]
        # No first id: no sequence yet, or one begun before ids had a base (from 1).
        return History(events, oldest, int(newest or 0), int(first or 1))

    async def history_bounds(self) -> tuple[int | None, int, int]:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrange(self._keys["history"], 0, 0, withscores=True)
            pipe.get(self._keys["id"])
            pipe.get(self._keys["first"])
            kept, newest, first = await pipe.execute()
        return (int(kept[0][1]) if kept else None), int(newest or 0), int(first or 1)

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
                    _, self.last_id, _ = await self.history_bounds()
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
        event = _decode(data)
        if event is None:
            return
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
        for event in (await self.history_after(self.last_id)).events:
            if until is not None and event.id >= until:
                break
            self.last_id = event.id
            self.deliver(event)


def _decode(raw: str) -> Event | None:
    """An event as Redis holds it, or None (logged) for one that cannot be read.

    What `publish` stores always decodes. Anything else under the feed's keys
    (another program, a damaged entry) is skipped: raising here would end the
    subscription, and each retry would read the same entry again, stopping
    the feed in this process and failing every resume over it.
    """
    try:
        return Event.from_json(raw)
    except (ValueError, KeyError, TypeError):
        logger.error("live demo feed: an event in Redis cannot be read; skipped: %.200r", raw)
        return None
