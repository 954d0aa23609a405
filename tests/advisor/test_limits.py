"""advisor/limits.py: the rate limiter of what one client sends."""

from __future__ import annotations

import time

from advisor.limits import RateLimiter


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


# Sustained excess: a flood -------------------------------------------------------------


def flood_limiter(clock: FakeClock) -> RateLimiter:
    return RateLimiter(20, clock=clock, flood_factor=2, flood_seconds=2)


def send_at(limiter: RateLimiter, clock: FakeClock, per_second: float, seconds: float) -> float:
    """Messages evenly spaced at `per_second` for `seconds`; the time flooding was first seen."""
    step = 1 / per_second
    for number in range(round(per_second * seconds)):
        clock.now += step
        limiter.allow()
        if limiter.flooding:
            return number * step
    return -1.0


def test_flood_over_twice_the_rate_for_2_s_detected_after_2_s():
    clock = FakeClock()
    limiter = flood_limiter(clock)
    found = send_at(limiter, clock, 50, 5)
    assert 1.9 <= found <= 2.1
    assert limiter.flooding


def test_flood_far_over_the_rate_detected_after_2_s_not_sooner():
    clock = FakeClock()
    limiter = flood_limiter(clock)
    found = send_at(limiter, clock, 10_000, 5)
    assert 1.99 <= found <= 2.01


def test_flood_just_under_twice_the_rate_not_a_flood():
    clock = FakeClock()
    limiter = flood_limiter(clock)
    assert send_at(limiter, clock, 39, 10) == -1
    assert limiter.dropped > 0  # over the rate, though: the excess is dropped


def test_flood_bursts_with_pauses_not_a_flood():
    # 200 at once, then a second's pause, ten times over: 2,000 messages,
    # but never over twice the rate for 2 s on end.
    clock = FakeClock()
    limiter = flood_limiter(clock)
    for _ in range(10):
        for _ in range(200):
            limiter.allow()
        clock.now += 1.0
        assert not limiter.flooding


def test_flood_excess_that_stops_short_of_2_s_forgotten():
    clock = FakeClock()
    limiter = flood_limiter(clock)
    assert send_at(limiter, clock, 100, 1.9) == -1
    clock.now += 1.0  # a pause: the meter drains
    assert send_at(limiter, clock, 100, 1.9) == -1
    assert not limiter.flooding


def test_flood_stays_flagged():
    # The consumer closes the client; the flag must not clear under it.
    clock = FakeClock()
    limiter = flood_limiter(clock)
    send_at(limiter, clock, 100, 3)
    clock.now += 10
    limiter.allow()
    assert limiter.flooding


def test_flood_meter_off_without_flood_settings():
    clock = FakeClock()
    limiter = RateLimiter(20, clock=clock)
    assert send_at(limiter, clock, 1_000, 5) == -1
