"""Limits on how fast one client may send."""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """A token bucket: `rate` messages a second, bursts of up to `burst` (default: `rate`).

    With `flood_factor` and `flood_seconds`, it also tells a client that keeps
    sending more than `flood_factor` times the rate for `flood_seconds` on end
    (`flooding`): dropping the excess alone still leaves the server receiving,
    decoding and queueing every frame, and eight such sockets stalled a
    process for seconds. A burst is not a flood: the meter below forgets
    within a second once the client slows down.
    """

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        burst: float | None = None,
        flood_factor: float | None = None,
        flood_seconds: float | None = None,
    ) -> None:
        self.rate = rate
        self.burst = rate if burst is None else burst
        self.tokens = self.burst
        self.clock = clock
        self.updated = clock()
        self.dropped = 0
        self.flooding = False
        self._warned_at: float | None = None
        # The flood meter: a leaky bucket that drains at the flood rate and
        # fills by one per message. It stays above zero only while messages
        # come faster than the flood rate; `_excess_since` is when it last
        # rose from zero. Capped at one second's worth, so that a single big
        # burst drains within a second instead of counting as a flood.
        self._flood_rate = rate * flood_factor if flood_factor and flood_seconds else None
        self._flood_seconds = flood_seconds or 0.0
        self._level = 0.0
        self._excess_since = self.updated

    def allow(self) -> bool:
        now = self.clock()
        elapsed = now - self.updated
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = now
        if self._flood_rate is not None:
            self._measure(now, elapsed)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.dropped += 1
        return False

    def wait(self) -> float:
        """Seconds until the next message would be allowed (0: now)."""
        return max(0.0, (1 - self.tokens) / self.rate)

    def _measure(self, now: float, elapsed: float) -> None:
        level = self._level - elapsed * self._flood_rate
        if level <= 0:
            # Slower than the flood rate since the last message: no excess.
            level = 0.0
            self._excess_since = now
        self._level = min(level + 1, self._flood_rate)
        if now - self._excess_since >= self._flood_seconds:
            self.flooding = True

    def should_warn(self) -> bool:
        """At most one warning a second, so the warnings do not become the flood."""
        now = self.clock()
        if self._warned_at is None or now - self._warned_at >= 1:
            self._warned_at = now
            return True
        return False
