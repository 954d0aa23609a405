"""A stored workload run as evidence: the sentence the result page and the PDF show.

Plain functions over the stored document and the revision's result, no
database: the PDF renders in a worker thread from runs loaded beforehand.
A measurement *disagrees* with the verdict when the recommended transport
missed the answer budget on a path where the other one kept it (events down
at p95, answers to up messages at p99), or lost events across the drop.
It *agrees* only on what was measured: a direction without samples (a run
too short for its rate sends no message up) is said to be unmeasured, never
to have kept the budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from questionnaire.workload import DIRECTIONS, describe

from ..models import WorkloadRun

NAMES = {"websocket": "WebSocket", "sse": "SSE"}
# What each transport's up path is, in the sentence.
UP_PATHS = {"websocket": "over the same WebSocket", "sse": "as HTTP POSTs"}


@dataclass(frozen=True)
class RunEvidence:
    run_id: str
    created_at: datetime
    workload: str
    summary: str
    rows: tuple[dict[str, Any], ...]
    disagreements: tuple[str, ...]
    agreement: str
    unmeasured: tuple[str, ...]
    budget_ms: int


def evidence_of(run, recommendation: str) -> RunEvidence:
    """``run`` (a WorkloadRun) as shown, judged against ``recommendation``."""
    measurement, workload = run.measurement, run.workload
    return RunEvidence(
        run_id=str(run.pk),
        created_at=run.created_at,
        workload=describe(workload),
        summary=summary(measurement, workload),
        rows=tuple(_row(transport, measurement[transport]) for transport in NAMES),
        disagreements=tuple(disagreements(measurement, workload, recommendation)),
        agreement=agreement(measurement, workload, recommendation),
        unmeasured=tuple(unmeasured(measurement, workload)),
        budget_ms=workload["answer_budget_ms"],
    )


def summary(measurement: Mapping, workload: Mapping) -> str:
    """The sentence: "Measured on your network, your workload: WebSocket p99 X ms down ..."."""
    parts = []
    for transport, name in NAMES.items():
        side = measurement[transport]
        down = _ms(side["down_ms"])
        up = f" / {_ms(side['up_ms'])} up" if side["up_ms"] is not None else ""
        parts.append(f"{name} p99 {down} down{up}")
    text = "Measured on your network, your workload: " + ", ".join(parts)
    ws_up = measurement["websocket"]["up_bytes_per_message"]
    sse_up = measurement["sse"]["up_bytes_per_message"]
    if ws_up is not None and sse_up is not None:
        more = sse_up - ws_up
        word = "more" if more >= 0 else "less"
        text += f"; SSE+POST costs {abs(more):,.0f} bytes per up message {word}"
    return text + "."


def disagreements(measurement: Mapping, workload: Mapping, recommendation: str) -> list[str]:
    """Where the measurement speaks against the verdict, one sentence each."""
    if recommendation not in NAMES:
        return []
    other = "sse" if recommendation == "websocket" else "websocket"
    chosen, alternative = NAMES[recommendation], NAMES[other]
    budget = workload["answer_budget_ms"]
    found = []
    # Down at p95: the forced drop delays a handful of events by the reconnect,
    # which a short run's p99 would judge rather than the path. Up at p99: the
    # drop holds up no up message (the page sends none over a closed socket).
    paths = [("down_ms", "p95", "events down")]
    if workload["messages_per_second_up"]:
        paths.append(("up_ms", "p99", f"answers to up messages ({UP_PATHS[recommendation]})"))
    for key, rank, what in paths:
        mine = _rank(measurement[recommendation][key], rank)
        theirs = _rank(measurement[other][key], rank)
        if mine is not None and mine > budget and (theirs is None or theirs <= budget):
            kept = "" if theirs is None else f", where {alternative} kept it ({theirs:,.0f} ms)"
            found.append(
                f"The verdict is {chosen}, but its {what} took {mine:,.0f} ms at {rank}, "
                f"over the {budget} ms your answers allow{kept}."
            )
    lost = measurement[recommendation]["lost"]
    if lost:
        found.append(
            f"The verdict is {chosen}, but {lost} event{'s' if lost != 1 else ''} "
            "were lost across the drop: the resume did not replay everything."
        )
    return found


# What each direction is, in the sentences: (key, rank judged, what it carries).
PATHS = {
    "down": ("down_ms", "p95", "events down"),
    "up": ("up_ms", "p99", "answers to up messages"),
}


def agreement(measurement: Mapping, workload: Mapping, recommendation: str) -> str:
    """The sentence when nothing disagrees, naming only the paths that were measured.

    Empty when there is a disagreement, or nothing of the recommended
    transport's was measured to agree with.
    """
    if recommendation not in NAMES or disagreements(measurement, workload, recommendation):
        return ""
    side = measurement[recommendation]
    kept = [
        f"{what} at {rank}"
        for direction, (key, rank, what) in PATHS.items()
        if (direction == "down" or workload["messages_per_second_up"]) and side[key] is not None
    ]
    if not kept:
        return ""
    other = "sse" if recommendation == "websocket" else "websocket"
    text = (
        f"The measurement agrees with the verdict: {NAMES[recommendation]} kept the "
        f"{workload['answer_budget_ms']} ms budget ({' and '.join(kept)}) wherever "
        f"{NAMES[other]} did"
    )
    if side["down_ms"] is not None:
        text += ", and lost nothing across the drop"
    return text + "."


def unmeasured(measurement: Mapping, workload: Mapping) -> list[str]:
    """Each direction a transport has no samples for, one sentence each: not measured."""
    found = []
    duration = workload["duration_s"]
    for direction, parameter, noun in DIRECTIONS:
        key = PATHS[direction][0]
        missing = [transport for transport in NAMES if measurement[transport][key] is None]
        if not missing:
            continue
        rate = workload[parameter]
        if len(missing) < len(NAMES):
            for transport in missing:
                found.append(
                    f"{NAMES[transport]} measured no {noun}s {direction} in this run: "
                    f"its {direction} path was not measured."
                )
            continue
        sent = max(measurement[transport].get("up_sent") or 0 for transport in NAMES)
        if direction == "up" and sent == 1:
            what = f"the one {noun} sent up was not answered in this run"
        elif direction == "up" and sent:
            what = f"none of the {sent} {noun}s sent up was answered in this run"
        elif direction == "up":
            how = f"{rate:g}/s for {duration} s" if rate else "the workload sends none"
            what = f"no {noun}s up were sent in this run ({how})"
        else:
            what = f"no {noun}s down arrived in this run ({rate:g}/s for {duration} s)"
        found.append(f"{what[0].upper()}{what[1:]}: the {direction} path was not measured.")
    return found


def _row(transport: str, side: Mapping) -> dict[str, Any]:
    return {
        "transport": transport,
        "name": NAMES[transport],
        "up_path": UP_PATHS[transport],
        **side,
    }


def _rank(percentiles: Mapping | None, rank: str) -> float | None:
    return None if percentiles is None else percentiles[rank]


def _ms(percentiles: Mapping | None) -> str:
    return "n/a" if percentiles is None else f"{percentiles['p99']:,.0f} ms"


# The result page and the PDF show this many runs, the latest first.
SHOWN_RUNS = 3


def workload_evidence(revision) -> list[RunEvidence]:
    """The latest runs of ``revision`` as evidence (queries: load before a PDF render)."""
    runs = WorkloadRun.objects.filter(revision=revision).order_by("-created_at")[:SHOWN_RUNS]
    return [evidence_of(run, revision.result["recommendation"]) for run in runs]
