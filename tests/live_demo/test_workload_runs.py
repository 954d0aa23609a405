"""A workload run's schedule, its one forced drop, its replay, and who may start one."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from live_demo.workload.runs import BINARY_HEADER, LEAD_S, MAX_RUNS, Run, RunRefused, Runs


class Clock:
    def __init__(self, at: float = 1000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


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


async def collect(run: Run, transport: str, after: int) -> list:
    found = []
    async for batch in run.events(transport, after):
        found.append(batch)
    return found


def test_run_events_until_drop_then_resume_replays_the_rest(monkeypatch):
    clock = Clock()
    run = run_at(clock)

    # Sleeping moves the clock on: the schedule runs at once, in order.
    async def sleep(seconds):
        clock.at += max(seconds, 0.001)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    first = asyncio.run(collect(run, "websocket", 0))
    assert first[-1] == "dropped"
    sent = [event.id for batch in first[:-1] for event in batch]
    assert sent == list(range(1, len(sent) + 1))
    assert 19 <= len(sent) <= 21
    # Back after a second's outage: what was missed comes at once, then the rest; no second drop.
    clock.at += 1
    second = asyncio.run(collect(run, "websocket", sent[-1]))
    assert second[-1] == "end"
    rest = [event.id for batch in second[:-1] for event in batch]
    assert rest == list(range(sent[-1] + 1, 41))
    assert len(second[0]) > 1  # the outage's events, in one batch


def test_run_drops_each_transport_once():
    clock = Clock()
    run = run_at(clock)
    clock.at = run.drop_at
    assert asyncio.run(collect(run, "sse", 0)) == ["dropped"]
    assert asyncio.run(collect(run, "websocket", 0)) == ["dropped"]
    clock.at = run.end + 1
    assert asyncio.run(collect(run, "sse", 40)) == ["end"]


def test_runs_one_at_a_time_per_owner():
    clock = Clock()
    runs = Runs(clock)
    first = runs.start("me", workload())
    with pytest.raises(RunRefused) as refused:
        runs.start("me", workload())
    assert refused.value.status == 409
    assert refused.value.retry_after == 5  # 4 s of run after its 1 s lead
    assert runs.start("someone else", workload()).id != first.id


def test_runs_after_the_end_the_owner_may_start_again():
    clock = Clock()
    runs = Runs(clock)
    runs.start("me", workload())
    clock.at += LEAD_S + 4
    assert runs.start("me", workload())


def test_runs_are_forgotten_after_their_grace():
    clock = Clock()
    runs = Runs(clock)
    run = runs.start("me", workload())
    assert runs.get(run.id) is run
    clock.at += 60
    assert runs.get(run.id) is None


def test_runs_at_most_max_runs():
    runs = Runs(Clock())
    for owner in range(MAX_RUNS):
        runs.start(str(owner), workload())
    with pytest.raises(RunRefused) as refused:
        runs.start("one more", workload())
    assert refused.value.status == 503
