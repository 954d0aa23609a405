"""Workload runs: what each one sends, when, and who may start one.

A run is a schedule, not a stream of stored events: event n of a run is due
at ``start + (n - 1) / rate`` and its bytes follow from n and the run's
parameters. That schedule is the run's replay buffer: a connection that
comes back after the forced drop asks for what follows its last id and gets
every event it missed, stamped with the time it was due, so the outage shows
in its latency. Each transport of a run gets the same events (ids 1 to
``total``), from its own connection.

Bounded: the parameters' limits (questionnaire/workload.py), one run at a
time per browser session (or per client address without one), at most
``MAX_RUNS`` in the process, one connection per transport per run, and the
demo's per-client cap on open connections (live_demo/caps.py). Runs are kept
in the process that started them, and forgotten ``GRACE`` seconds after they
end.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import secrets
import struct
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

TRANSPORTS = ("websocket", "sse")
MAX_RUNS = 100
# The streams open within this after a run starts: its first event is due then.
LEAD_S = 1.0
GRACE_S = 10.0
# Binary events: id (uint64) and due time (float64, ms since the epoch), big-endian.
BINARY_HEADER = struct.Struct(">Qd")
# In a mixed workload, every MIXED_EVERY-th event is binary ("mostly text, some binary").
MIXED_EVERY = 4
UP_DATA_CHARS = 4096


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


@dataclass
class Run:
    id: str
    owner: str
    workload: dict[str, Any]
    start: float
    clock: Callable[[], float] = time.time
    # Transports already dropped once (the forced drop), and each one's open connection.
    dropped: set[str] = field(default_factory=set)
    open: dict[str, object] = field(default_factory=dict)

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

    def claim(self, transport: str, connection: object) -> bool:
        """Make ``connection`` the run's one on ``transport``; False if another holds it."""
        return self.open.setdefault(transport, connection) is connection

    def let_go(self, transport: str, connection: object) -> None:
        """``connection`` is done with the run: a connection that came back may claim it."""
        if self.open.get(transport) is connection:
            del self.open[transport]

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

    async def events(self, transport: str, after: int) -> AsyncIterator[list[Event] | str]:
        """Batches of due events after id ``after``, then "dropped" (once a run) or "end"."""
        next_id = after + 1
        while next_id <= self.total:
            now = self.clock()
            if transport not in self.dropped and now >= self.drop_at:
                self.dropped.add(transport)
                yield "dropped"
                return
            last = min(self.total, math.floor((now - self.start) * self.rate) + 1)
            if last >= next_id:
                yield [self.event(n) for n in range(next_id, last + 1)]
                next_id = last + 1
                continue
            wake = self.due(next_id)
            if transport not in self.dropped:
                wake = min(wake, self.drop_at)
            await asyncio.sleep(max(0.0, wake - self.clock()))
        yield "end"


class RunRefused(Exception):
    def __init__(self, status: int, field: str, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.status, self.field, self.message, self.retry_after = (
            status,
            field,
            message,
            retry_after,
        )


class Runs:
    """The process's runs, by id; one unfinished run per owner."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._runs: dict[str, Run] = {}

    def start(self, owner: str, workload: dict[str, Any]) -> Run:
        self._forget_old()
        now = self.clock()
        for run in self._runs.values():
            if run.owner == owner and run.end > now:
                wait = math.ceil(run.end - now)
                raise RunRefused(
                    409,
                    "run",
                    f"Your browser is running a workload already; it ends in {wait} s.",
                    wait,
                )
        if len(self._runs) >= MAX_RUNS:
            raise RunRefused(503, "run", "The demo is running as many workloads as it can.", 10)
        run = Run(secrets.token_urlsafe(16), owner, workload, now + LEAD_S, self.clock)
        self._runs[run.id] = run
        return run

    def get(self, run_id: str | None) -> Run | None:
        self._forget_old()
        return self._runs.get(run_id or "")

    def clear(self) -> None:
        self._runs.clear()

    def __len__(self) -> int:
        return len(self._runs)

    def _forget_old(self) -> None:
        now = self.clock()
        for run_id in [key for key, run in self._runs.items() if run.end + GRACE_S < now]:
            del self._runs[run_id]


runs = Runs()
