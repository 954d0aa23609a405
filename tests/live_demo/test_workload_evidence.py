"""A workload run judged as evidence: it claims a kept budget only where it measured.

The judging functions (live_demo/workload/evidence.py) and the partial the
result page and the PDF include (live_demo/_workload_evidence.html).
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from django.template.loader import render_to_string

from live_demo.workload.evidence import agreement, evidence_of, summary, unmeasured


def side(**changes) -> dict:
    return {
        "events_expected": 20,
        "events_received": 20,
        "lost": 0,
        "down_ms": {"p50": 3, "p95": 20, "p99": 37},
        "up_sent": 0,
        "up_answered": 0,
        "up_ms": None,
        "bytes_per_event": 604,
        "up_bytes_per_message": None,
        "recovery_ms": 33,
        **changes,
    }


# The run a user made: 0.05 messages/s up for 10 s sends none up.
RARE_UP = {
    "events_per_second_down": 2,
    "payload_format": "json",
    "payload_bytes": 600,
    "messages_per_second_up": 0.05,
    "answer_budget_ms": 1000,
    "duration_s": 10,
}
NO_UP = {"websocket": side(), "sse": side()}
UP_MS = {"p50": 4, "p95": 8, "p99": 10}
WITH_UP = {
    transport: side(up_sent=5, up_answered=5, up_ms=UP_MS, up_bytes_per_message=110)
    for transport in ("websocket", "sse")
}


def test_unmeasured_up_when_the_run_sent_no_message_up():
    assert unmeasured(NO_UP, RARE_UP) == [
        "No messages up were sent in this run (0.05/s for 10 s): the up path was not measured."
    ]


def test_agreement_claims_no_kept_budget_for_an_unmeasured_up_path():
    text = agreement(NO_UP, RARE_UP, "sse")
    assert text == (
        "The measurement agrees with the verdict: SSE kept the 1000 ms budget "
        "(events down at p95) wherever WebSocket did, and lost nothing across the drop."
    )
    assert "up" not in text


def test_agreement_names_both_paths_when_both_were_measured():
    workload = {**RARE_UP, "messages_per_second_up": 0.5}
    assert unmeasured(WITH_UP, workload) == []
    assert "(events down at p95 and answers to up messages at p99)" in agreement(
        WITH_UP, workload, "websocket"
    )


def test_nothing_measured_down_claims_nothing():
    measurement = {"websocket": side(down_ms=None), "sse": side(down_ms=None)}
    workload = {**RARE_UP, "events_per_second_down": 0.1, "duration_s": 5}
    assert agreement(measurement, workload, "sse") == ""
    assert unmeasured(measurement, workload)[0] == (
        "No events down arrived in this run (0.1/s for 5 s): the down path was not measured."
    )


def test_unmeasured_names_the_transport_whose_up_messages_went_unanswered():
    measurement = {"websocket": WITH_UP["websocket"], "sse": side(up_sent=5, up_answered=0)}
    workload = {**RARE_UP, "messages_per_second_up": 0.5}
    assert unmeasured(measurement, workload) == [
        "SSE measured no messages up in this run: its up path was not measured."
    ]
    # The recommended transport measured its up path; only that is claimed.
    assert "answers to up messages" in agreement(measurement, workload, "websocket")
    assert "answers to up messages" not in agreement(measurement, workload, "sse")


def test_unmeasured_up_when_messages_were_sent_but_none_answered():
    measurement = {t: side(up_sent=3, up_answered=0) for t in ("websocket", "sse")}
    assert unmeasured(measurement, {**RARE_UP, "messages_per_second_up": 0.5}) == [
        "None of the 3 messages sent up was answered in this run: the up path was not measured."
    ]


def test_summary_leaves_out_an_unmeasured_up_path():
    assert summary(NO_UP, RARE_UP) == (
        "Measured on your network, your workload: WebSocket p99 37 ms down, SSE p99 37 ms down."
    )


def render(measurement: dict, workload: dict, recommendation: str) -> str:
    run = SimpleNamespace(
        pk="6f1c",
        created_at=datetime(2026, 11, 30, 20, 0, tzinfo=UTC),
        measurement=measurement,
        workload=workload,
    )
    return render_to_string(
        "live_demo/_workload_evidence.html",
        {"workload_runs": [evidence_of(run, recommendation)]},
    )


def test_partial_says_the_up_path_was_not_measured():
    html = render(NO_UP, RARE_UP, "sse")
    assert "No messages up were sent in this run (0.05/s for 10 s)" in html
    assert "data-workload-unmeasured" in html
    assert "answers to up messages at p99" not in html
    assert "(events down at p95) wherever WebSocket did" in html


def test_partial_claims_both_paths_when_both_were_measured():
    html = render(WITH_UP, {**RARE_UP, "messages_per_second_up": 0.5}, "websocket")
    assert "(events down at p95 and answers to up messages at p99)" in html
    assert "data-workload-unmeasured" not in html
