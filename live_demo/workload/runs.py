"""Workload runs: what each one sends, when, and who may start one.

A run is a schedule, not a stream of stored events: event n of a run is due
at ``start + (n - 1) / rate`` and its bytes follow from n and the run's
parameters. That schedule is the run's replay buffer: a connection that
comes back after the forced drop asks for what follows its last id and gets
every event it missed, stamped with the time it was due, so the outage shows
in its latency. Each transport of a run gets the same events (ids 1 to
``total``), from its own connection.

Any server process serves any run, without sticky sessions: the run's
definition (id, parameters, start time, owner) is kept in Django's cache,
which is Redis when ``REDIS_URL`` is set and so the same for every process,
and the schedule follows from it. Whichever process a start, a connection, a
resume or an up message reaches reads the definition and generates, replays
or answers the same as any other would. Beside it the processes share, as
cache keys that expire with the run and are taken with ``cache.add`` (which
one process wins): the owner's running run, the ``MAX_RUNS`` places, and
whether each transport had its forced drop (a resume on another process is
not dropped again).

Bounded: the parameters' limits (questionnaire/workload.py), one run at a
time per browser session (or per client address without one), at most
``MAX_RUNS_PER_CLIENT`` per client address and ``MAX_RUNS`` in all at
once, across all processes; one connection per transport per
run, and the demo's per-client cap on open connections (live_demo/caps.py),
in each process (a connection is held where it is served: a process that
dies holds nothing). A run is forgotten ``GRACE_S`` seconds after it ends.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import re
import secrets
import struct
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import caches
from redis.exceptions import RedisError

TRANSPORTS = ("websocket", "sse")
MAX_RUNS = 100
# Of those, what one client address may hold at once: real sessions are
# cheap to gather (an account signed in again and again; in anonymous mode,
# one assessment each), so the one-per-session bound alone lets one client
# take every place. Colleagues behind one office address still run a few.
MAX_RUNS_PER_CLIENT = MAX_RUNS // 10
# The streams open within this after a run starts: its first event is due then.
LEAD_S = 1.0
GRACE_S = 10.0
# Binary events: id (uint64) and due time (float64, ms since the epoch), big-endian.
BINARY_HEADER = struct.Struct(">Qd")
# In a mixed workload, every MIXED_EVERY-th event is binary ("mostly text, some binary").
MIXED_EVERY = 4
UP_DATA_CHARS = 4096
DROPPED, END = "dropped", "end"
# What secrets.token_urlsafe makes: anything else names no run (and no cache key).
RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Event:
    id: int
    ts: float
    binary: bool
    # Text for a JSON event, bytes for a binary one.
    payload: str | bytes

    def sse_data(self) -> str:
        """What the event stream carries: JSON as it is, binary as base64."""
        if self.binary:
            return base64.b64encode(self.payload).decode()
        return self.payload


@dataclass(frozen=True)
class Run:
    id: str
    # A digest of whose run it is: the session key stays out of the cache.
    owner: str
    workload: dict[str, Any]
    start: float
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    @property
    def rate(self) -> float:
        return self.workload["events_per_second_down"]

    @property
    def total(self) -> int:
        return max(1, math.floor(self.workload["duration_s"] * self.rate))

    @property
    def end(self) -> float:
        return self.start + self.workload["duration_s"]

    @property
    def drop_at(self) -> float:
        return self.start + self.workload["duration_s"] / 2

    @property
    def forgotten_at(self) -> float:
        return self.end + GRACE_S

    def definition(self) -> dict[str, Any]:
        """What the cache keeps: everything but the id (its key) and the clock."""
        return {"owner": self.owner, "workload": self.workload, "start": self.start}

    def due(self, event_id: int) -> float:
        return self.start + (event_id - 1) / self.rate

    def event(self, event_id: int) -> Event:
        ts = round(self.due(event_id) * 1000, 3)
        size = self.workload["payload_bytes"]
        kind = self.workload["payload_format"]
        binary = kind == "binary" or (kind == "mixed" and event_id % MIXED_EVERY == 0)
        if binary:
            header = BINARY_HEADER.pack(event_id, ts)
            filler = bytes((event_id + index) % 256 for index in range(size - len(header)))
            return Event(event_id, ts, True, header + filler)
        head = json.dumps({"id": event_id, "ts": ts, "data": ""}, separators=(",", ":"))
        pad = "x" * max(0, size - len(head))
        return Event(event_id, ts, False, head[:-2] + pad + head[-2:])

    def welcome(self, transport: str, last_id: int) -> dict[str, Any]:
        return {
            "type": "welcome",
            "run": self.id,
            "transport": transport,
            "last_id": last_id,
            "total": self.total,
            "start_ms": round(self.start * 1000, 3),
            "drop_at_ms": round(self.drop_at * 1000, 3),
            "end_ms": round(self.end * 1000, 3),
            "workload": self.workload,
            "ts": round(self.clock() * 1000, 3),
        }

    async def events(self, after: int, *, drop: bool) -> AsyncIterator[list[Event] | str]:
        """Batches of due events after id ``after``, then "end".

        With ``drop``, "dropped" instead at the drop time, and nothing after it.
        """
        next_id = after + 1
        while next_id <= self.total:
            now = self.clock()
            if drop and now >= self.drop_at:
                yield DROPPED
                return
            last = min(self.total, math.floor((now - self.start) * self.rate) + 1)
            if last >= next_id:
                yield [self.event(n) for n in range(next_id, last + 1)]
                next_id = last + 1
                continue
            wake = self.due(next_id)
            if drop:
                wake = min(wake, self.drop_at)
            await asyncio.sleep(max(0.0, wake - self.clock()))
        yield END


class RunRefused(Exception):
    def __init__(self, status: int, field: str, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.status, self.field, self.message, self.retry_after = (
            status,
            field,
            message,
            retry_after,
        )


def unavailable() -> RunRefused:
    return RunRefused(
        503, "run", "The demo cannot reach its store of runs at the moment; try again.", 5
    )


class Runs:
    """Every process's runs, in the cache; and this process's connections to them."""

    def __init__(
        self, clock: Callable[[], float] = time.time, cache_alias: str = "default"
    ) -> None:
        self.clock = clock
        self.cache_alias = cache_alias
        # (run id, transport): the connection this process serves it on.
        self._open: dict[tuple[str, str], object] = {}

    async def start(self, owner: str, workload: dict[str, Any], client: str | None = None) -> Run:
        """A new run of ``workload`` for ``owner``, from ``client`` (an address, None if
        unknown); RunRefused (409, 429, 503) over the bounds."""
        return await self._in_store(self._start, owner, workload, client)

    async def get(self, run_id: object) -> Run | None:
        """The run ``run_id`` names, whichever process started it; None if none runs."""
        if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
            return None
        definition = await self._in_store(self._cache().get, _key("run", run_id))
        return None if definition is None else Run(run_id, clock=self.clock, **definition)

    def claim(self, run: Run, transport: str, connection: object) -> bool:
        """Make ``connection`` this process's one on ``transport``; False if another holds it."""
        return self._open.setdefault((run.id, transport), connection) is connection

    def let_go(self, run: Run, transport: str, connection: object) -> None:
        """``connection`` is done with the run: a connection that came back may claim it."""
        if self._open.get((run.id, transport)) is connection:
            del self._open[(run.id, transport)]

    async def events(
        self, run: Run, transport: str, after: int
    ) -> AsyncIterator[list[Event] | str]:
        """The run's events on ``transport`` after ``after``, with its one forced drop.

        One a run, whichever process serves the connection: one that comes back
        after the drop, to this process or another, is not dropped again.
        """
        dropped = _key("dropped", run.id, transport)
        drop = not await self._in_store(self._cache().get, dropped)
        async for batch in run.events(after, drop=drop):
            if batch == DROPPED:
                # Said before the connection closes, so its resume finds it.
                await self._in_store(self._cache().set, dropped, True, self._ttl(run.forgotten_at))
            yield batch

    def _start(self, owner: str, workload: dict[str, Any], client: str | None = None) -> Run:
        cache = self._cache()
        now = self.clock()
        digest = hashlib.sha256(owner.encode()).hexdigest()[:32]
        run = Run(secrets.token_urlsafe(16), digest, workload, now + LEAD_S, self.clock)
        owner_key = _key("owner", digest)
        if not cache.add(owner_key, run.end, self._ttl(run.end)):
            # Its run's end; a key that expired meanwhile was at its last second.
            wait = max(1, math.ceil(cache.get(owner_key, now) - now))
            raise RunRefused(
                409,
                "run",
                f"Your browser is running a workload already; it ends in {wait} s.",
                wait,
            )
        held = [owner_key]
        if client is not None:
            client_place = self._take_client_place(run, client)
            if client_place is None:
                cache.delete(owner_key)
                raise RunRefused(
                    429,
                    "run",
                    f"At most {MAX_RUNS_PER_CLIENT} workloads run at once from one address; "
                    "try again when one of them ends.",
                    self._client_wait(client),
                )
            held.append(client_place)
        if not self._take_place(run):
            cache.delete_many(held)
            raise RunRefused(503, "run", "The demo is running as many workloads as it can.", 10)
        cache.set(_key("run", run.id), run.definition(), self._ttl(run.forgotten_at))
        return run

    def _client_places(self, client: str) -> list[str]:
        digest = hashlib.sha256(client.encode()).hexdigest()[:32]
        return [_key("client", digest, str(number)) for number in range(MAX_RUNS_PER_CLIENT)]

    def _take_client_place(self, run: Run, client: str) -> str | None:
        """One of ``client``'s places (its key), held until the run ends; None if all are taken."""
        return self._take_first(self._client_places(client), run.end, until=run.end)

    def _take_first(self, places: list[str], value: object, *, until: float) -> str | None:
        """The first of ``places`` still free, now holding ``value`` until ``until``; else None."""
        cache = self._cache()
        taken = cache.get_many(places)
        for place in places:
            # Another process may take a free place first: then try the next.
            if place not in taken and cache.add(place, value, self._ttl(until)):
                return place
        return None

    def _client_wait(self, client: str) -> int:
        """Seconds until the first of ``client``'s runs ends."""
        ends = self._cache().get_many(self._client_places(client)).values()
        return max(1, math.ceil(min(ends, default=self.clock()) - self.clock()))

    def _take_place(self, run: Run) -> bool:
        """One of the MAX_RUNS places, held until the run is forgotten; False if all are taken."""
        places = [_key("place", str(number)) for number in range(MAX_RUNS)]
        return self._take_first(places, run.id, until=run.forgotten_at) is not None

    def _ttl(self, until: float) -> int:
        # Whole seconds (Redis keeps no less), rounded up: a key outlives its run by under one.
        return max(1, math.ceil(until - self.clock()))

    def _cache(self):
        return caches[self.cache_alias]

    async def _in_store(self, call: Callable, *args: Any) -> Any:
        """``call`` in a worker thread (a cache client blocks); a store out of reach is a 503."""
        try:
            return await sync_to_async(call, thread_sensitive=False)(*args)
        except (RedisError, OSError) as error:
            raise unavailable() from error


def _key(*parts: str) -> str:
    return ":".join(("workload", *parts))


runs = Runs()
