"""A connection's place in the feed: its bounded backlog and what it was sent."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from operations import metrics

from ..events import Event

if TYPE_CHECKING:
    from .local import Feed


CONNECTION_ID = re.compile(r"[0-9a-f]{32}")


def public_id(connection: str) -> str:
    """Who sent a chat, as everyone may see it.

    The connection id itself is what `/demo/drop/` takes, so it is never
    broadcast; this one-way digest of it tells senders apart, the same in
    every process. Anything that is not a connection id gives "".
    """
    if not isinstance(connection, str) or not CONNECTION_ID.fullmatch(connection):
        return ""
    return hashlib.sha256(f"sender:{connection}".encode()).hexdigest()[:12]


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
        # Set by the connection while it is live and writable directly: then
        # `push` writes each event at once, with no task switch per event.
        self.sink: Callable[[Event], bool] | None = None
        self._pending: deque[Event] = deque()
        self._ready = asyncio.Event()

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def push(self, event: Event) -> None:
        if self.closed_reason:
            return
        if self.sink is not None and not self._pending:
            if self.sink(event):
                self.last_sent = event.id
                return
            self.sink = None
        if len(self._pending) >= self.max_backlog:
            self.close("slow")
            return
        self._pending.append(event)
        self._ready.set()

    def close(self, reason: str) -> None:
        self.sink = None
        if self.closed_reason is None:
            metrics.SUBSCRIBERS_CLOSED.labels(reason).inc()
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
