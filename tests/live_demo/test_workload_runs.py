"""A workload run's schedule, its one forced drop, its replay, and who may start one.

Two ``Runs`` on one cache stand for two server processes behind a load
balancer: what one starts, the other serves (test_workload_processes.py does
it with two daphne servers on Redis).
"""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.core.cache.backends import base, locmem

from live_demo.workload import runs as runs_module
from live_demo.workload.runs import (
    BINARY_HEADER,
    LEAD_S,
    MAX_RUNS,
    MAX_RUNS_PER_CLIENT,
    Run,
    RunRefused,
    Runs,
)


class Clock:
    def __init__(self, at: float = 1000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The runs' clock, which the cache's expiry follows too (it reads ``time.time``)."""
    clock = Clock()
    cache.clear()
    for module in (base, locmem):
        monkeypatch.setattr(module, "time", SimpleNamespace(time=clock))
    yield clock
    cache.clear()


@pytest.fixture
def instant(clock, monkeypatch) -> Clock:
    """Sleeping moves the clock on: a run's schedule plays at once, in order."""

    async def sleep(seconds):
        clock.at += max(seconds, 0.001)

    monkeypatch.setattr(runs_module.asyncio, "sleep", sleep)
    return clock


def workload(**changes) -> dict:
    return {
        "events_per_second_down": 10,
        "payload_format": "json",
        "payload_bytes": 100,
        "messages_per_second_up": 0,
        "answer_budget_ms": 100,
        "duration_s": 4,
        **changes,
    }


def run_at(clock: Clock, **changes) -> Run:
    return Run("r", "owner", workload(**changes), start=clock(), clock=clock)


def test_run_total_is_rate_times_duration():
    assert run_at(Clock()).total == 40


def test_run_json_event_is_payload_bytes_long_and_carries_id_and_due_time():
    run = run_at(Clock())
    event = run.event(11)
    assert len(event.payload) == 100
    data = json.loads(event.payload)
    assert data["id"] == 11
    assert data["ts"] == pytest.approx((run.start + 1.0) * 1000)


def test_run_binary_event_header_and_base64_for_sse():
    run = run_at(Clock(), payload_format="binary", payload_bytes=64)
    event = run.event(3)
    assert event.binary
    assert len(event.payload) == 64
    assert BINARY_HEADER.unpack_from(event.payload)[0] == 3
    assert base64.b64decode(event.sse_data()) == event.payload


def test_run_mixed_sends_one_in_four_binary():
    run = run_at(Clock(), payload_format="mixed")
    assert [run.event(n).binary for n in range(1, 9)] == [False, False, False, True] * 2


async def collect(runs: Runs, run: Run, transport: str, after: int) -> list:
    return [batch async for batch in runs.events(run, transport, after)]


def ids(batches: list) -> list[int]:
    return [event.id for batch in batches if isinstance(batch, list) for event in batch]


@pytest.mark.asyncio
async def test_run_events_until_drop_then_resume_replays_the_rest(instant):
    runs = Runs(instant)
    run = await runs.start("me", workload())
    first = await collect(runs, run, "websocket", 0)
    assert first[-1] == "dropped"
    sent = ids(first)
    assert sent == list(range(1, len(sent) + 1))
    assert 19 <= len(sent) <= 21
    # Back after a second's outage: what was missed comes at once, then the rest; no second drop.
    instant.at += 1
    second = await collect(runs, run, "websocket", sent[-1])
    assert second[-1] == "end"
    assert ids(second) == list(range(sent[-1] + 1, 41))
    assert len(second[0]) > 1  # the outage's events, in one batch


@pytest.mark.asyncio
async def test_run_drops_each_transport_once(clock):
    runs = Runs(clock)
    run = await runs.start("me", workload())
    clock.at = run.drop_at
    assert await collect(runs, run, "sse", 0) == ["dropped"]
    assert await collect(runs, run, "websocket", 0) == ["dropped"]
    clock.at = run.end + 1
    assert await collect(runs, run, "sse", 40) == ["end"]


@pytest.mark.asyncio
async def test_run_started_on_one_process_is_served_by_another(instant):
    one, other = Runs(instant), Runs(instant)
    run = await one.start("me", workload(payload_format="mixed"))
    served = await other.get(run.id)
    assert served == run
    assert [served.event(n).payload for n in (1, 4)] == [run.event(n).payload for n in (1, 4)]


@pytest.mark.asyncio
async def test_run_dropped_on_one_process_resumes_on_another_without_a_second_drop(instant):
    one, other = Runs(instant), Runs(instant)
    run = await one.start("me", workload())
    first = await collect(one, run, "sse", 0)
    assert first[-1] == "dropped"
    instant.at += 0.5
    second = await collect(other, await other.get(run.id), "sse", ids(first)[-1])
    assert second[-1] == "end"
    assert ids(first) + ids(second) == list(range(1, 41))


@pytest.mark.asyncio
async def test_runs_unknown_or_malformed_id_is_none(clock):
    runs = Runs(clock)
    assert await runs.get("nope") is None
    assert await runs.get("has spaces and is no id") is None
    assert await runs.get(["a list"]) is None


@pytest.mark.asyncio
async def test_runs_one_at_a_time_per_owner(clock):
    runs = Runs(clock)
    first = await runs.start("me", workload())
    with pytest.raises(RunRefused) as refused:
        await runs.start("me", workload())
    assert refused.value.status == 409
    assert refused.value.retry_after == 5  # 4 s of run after its 1 s lead
    assert (await runs.start("someone else", workload())).id != first.id


@pytest.mark.asyncio
async def test_runs_one_at_a_time_per_owner_across_processes(clock):
    one, other = Runs(clock), Runs(clock)
    await one.start("me", workload())
    with pytest.raises(RunRefused) as refused:
        await other.start("me", workload())
    assert refused.value.status == 409


@pytest.mark.asyncio
async def test_runs_after_the_end_the_owner_may_start_again(clock):
    runs = Runs(clock)
    await runs.start("me", workload())
    clock.at += LEAD_S + 4
    assert await runs.start("me", workload())


@pytest.mark.asyncio
async def test_runs_are_forgotten_after_their_grace(clock):
    runs = Runs(clock)
    run = await runs.start("me", workload())
    assert await runs.get(run.id) == run
    clock.at += 60
    assert await runs.get(run.id) is None


@pytest.mark.asyncio
async def test_runs_at_most_max_runs_across_processes(clock):
    one, other = Runs(clock), Runs(clock)
    for owner in range(MAX_RUNS):
        await (one if owner % 2 else other).start(str(owner), workload())
    with pytest.raises(RunRefused) as refused:
        await one.start("one more", workload())
    assert refused.value.status == 503
    # The refused owner holds nothing: once a place is free, it starts.
    clock.at += LEAD_S + 4 + 10 + 1
    assert await one.start("one more", workload())


@pytest.mark.asyncio
async def test_runs_one_address_holds_at_most_its_share_across_processes(clock):
    one, other = Runs(clock), Runs(clock)
    for owner in range(MAX_RUNS_PER_CLIENT):
        await (one if owner % 2 else other).start(str(owner), workload(), "192.0.2.1")
    with pytest.raises(RunRefused) as refused:
        await one.start("one more", workload(), "192.0.2.1")
    assert (refused.value.status, refused.value.retry_after) == (429, LEAD_S + 4)
    assert await one.start("one more", workload(), "192.0.2.2")
    # A place of the address is free again when its run ends.
    clock.at += LEAD_S + 4
    assert await one.start("one more", workload(), "192.0.2.1")


@pytest.mark.asyncio
async def test_runs_refused_for_want_of_places_hold_no_place_of_their_address(clock):
    runs = Runs(clock)
    for owner in range(MAX_RUNS):
        await runs.start(str(owner), workload())
    for owner in range(MAX_RUNS_PER_CLIENT + 1):
        with pytest.raises(RunRefused) as refused:
            await runs.start(f"late {owner}", workload(), "192.0.2.1")
        assert refused.value.status == 503


@pytest.mark.asyncio
async def test_runs_a_store_out_of_reach_is_503(workload_store_down):
    runs = Runs(cache_alias="down")
    with pytest.raises(RunRefused) as refused:
        await runs.start("me", workload())
    assert refused.value.status == 503
    with pytest.raises(RunRefused):
        await runs.get("abc")


@pytest.mark.asyncio
async def test_runs_one_connection_per_transport_per_process(clock):
    runs = Runs(clock)
    run = await runs.start("me", workload())
    first, second = object(), object()
    assert runs.claim(run, "sse", first)
    assert not runs.claim(run, "sse", second)
    assert runs.claim(run, "websocket", second)
    runs.let_go(run, "sse", first)
    assert runs.claim(run, "sse", second)
