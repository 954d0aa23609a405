"""Limits on how fast one client may send."""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """A token bucket: `rate` messages a second, bursts of up to `rate`."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.tokens = rate
        self.clock = clock
        self.updated = clock()
        self.dropped = 0
        self._warned_at: float | None = None

    def allow(self) -> bool:
        now = self.clock()
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.dropped += 1
        return False

    def should_warn(self) -> bool:
        """At most one warning a second, so the warnings do not become the flood."""
        now = self.clock()
        if self._warned_at is None or now - self._warned_at >= 1:
            self._warned_at = now
            return True
        return False
