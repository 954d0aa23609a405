"""live_demo/limits.py: the rate limiter of what one client sends."""

from __future__ import annotations

import time

from live_demo.limits import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_20_refuses_21st():
    limiter = RateLimiter(20, clock=FakeClock())
    assert [limiter.allow() for _ in range(21)] == [True] * 20 + [False]
    assert limiter.dropped == 1


def test_rate_limiter_refills_over_time():
    clock = FakeClock()
    limiter = RateLimiter(20, clock=clock)
    for _ in range(20):
        limiter.allow()
    clock.now += 0.25  # five tokens at 20 a second (0.25 is exact in binary)
    assert [limiter.allow() for _ in range(6)] == [True] * 5 + [False]


def test_rate_limiter_burst_capped():
    clock = FakeClock()
    limiter = RateLimiter(20, clock=clock)
    clock.now += 60
    assert sum(limiter.allow() for _ in range(50)) == 20


def test_rate_limiter_should_warn_once_a_second():
    clock = FakeClock()
    limiter = RateLimiter(20, clock=clock)
    warnings = [limiter.should_warn()]
    clock.now += 0.5
    warnings.append(limiter.should_warn())
    clock.now += 0.49
    warnings.append(limiter.should_warn())
    clock.now += 0.01
    warnings.append(limiter.should_warn())
    assert warnings == [True, False, False, True]


def test_rate_limiter_default_clock_monotonic():
    assert RateLimiter(20).clock is time.monotonic
