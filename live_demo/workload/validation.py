"""A workload run's measurements as the browser posts them: what is accepted, cleaned.

The page measures its workload over both transports and posts a summary per
transport (percentiles, counts, bytes), not every sample. This module only
judges that document, as the network check's validation does its own: plain
functions, every problem keyed by its dotted field, nothing half-accepted.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from advisor.json_fields import bounded_integer, json_integer, required_object, unknown_keys
from questionnaire.workload import read_workload

FIELDS = ("assessment", "revision", "workload", "websocket", "sse")
TRANSPORT_FIELDS = (
    "events_expected",
    "events_received",
    "lost",
    "down_ms",
    "up_sent",
    "up_answered",
    "up_ms",
    "bytes_per_event",
    "up_bytes_per_message",
    "recovery_ms",
)
PERCENTILES = ("p50", "p95", "p99")
MAX_MS = 600_000
MAX_EVENTS = 1_000_000
MAX_BYTES = 1_000_000
MAX_REVISION = 2**31 - 1


def validate_run(doc: object) -> tuple[dict | None, dict[str, str]]:
    """(the cleaned document, {}) or (None, every problem keyed by dotted field)."""
    if not isinstance(doc, Mapping):
        return None, {"run": "must be an object"}
    errors: dict[str, str] = {}
    unknown_keys(doc, FIELDS, "", errors)
    for key in FIELDS:
        if key not in doc:
            errors[key] = "required"
    clean: dict = {}
    if "assessment" in doc and not _is_uuid(doc["assessment"]):
        errors["assessment"] = "must be the assessment's id (a UUID)"
    if "revision" in doc and json_integer(doc["revision"], 1, MAX_REVISION) is None:
        errors["revision"] = "must be a revision number, a whole number from 1"
    if "workload" in doc:
        workload = doc["workload"]
        if not isinstance(workload, Mapping):
            errors["workload"] = "must be an object with the run's parameters"
        else:
            clean["workload"], problems = read_workload(workload, text=False)
            errors.update({f"workload.{key}": problem for key, problem in problems.items()})
    for transport in ("websocket", "sse"):
        if transport in doc:
            clean[transport] = _transport(doc[transport], transport, errors)
    if errors:
        return None, errors
    return clean, {}


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _transport(value: object, name: str, errors: dict[str, str]) -> dict | None:
    part = required_object(value, name, TRANSPORT_FIELDS, errors)
    if part is None:
        return None
    clean: dict = {}
    for key in ("events_expected", "events_received", "lost", "up_sent", "up_answered"):
        clean[key] = bounded_integer(part, name, key, (0, MAX_EVENTS), errors)
    expected, received = clean["events_expected"], clean["events_received"]
    if None not in (expected, clean["lost"]) and clean["lost"] > expected:
        errors[f"{name}.lost"] = "cannot be more than events_expected"
    if None not in (clean["up_sent"], clean["up_answered"]) and (
        clean["up_answered"] > clean["up_sent"]
    ):
        errors[f"{name}.up_answered"] = "cannot be more than up_sent"
    clean["down_ms"] = _percentiles(part, name, "down_ms", bool(received), errors)
    clean["up_ms"] = _percentiles(part, name, "up_ms", bool(clean["up_answered"]), errors)
    clean["bytes_per_event"] = _number(part, name, "bytes_per_event", MAX_BYTES, False, errors)
    clean["up_bytes_per_message"] = _number(
        part, name, "up_bytes_per_message", MAX_BYTES, True, errors
    )
    clean["recovery_ms"] = _number(part, name, "recovery_ms", MAX_MS, True, errors)
    return clean


def _number(
    part: Mapping, name: str, key: str, most: int, nullable: bool, errors: dict[str, str]
) -> float | None:
    if key not in part:
        return None
    value = part[key]
    if value is None and nullable:
        return None
    # NaN and the infinities fail the range test; bool is no number in JSON.
    if type(value) not in (int, float) or not 0 <= value <= most:
        null = ", or null" if nullable else ""
        errors[f"{name}.{key}"] = f"must be a number from 0 to {most}{null}"
        return None
    return value


def _percentiles(
    part: Mapping, name: str, key: str, needed: bool, errors: dict[str, str]
) -> dict | None:
    """{"p50", "p95", "p99"} in milliseconds, in order; null only where nothing was measured."""
    if key not in part:
        return None
    value = part[key]
    field = f"{name}.{key}"
    if value is None:
        if needed:
            errors[field] = "required (an object of p50, p95 and p99) when anything arrived"
        return None
    if not isinstance(value, Mapping):
        errors[field] = "must be an object of p50, p95 and p99 in milliseconds, or null"
        return None
    unknown_keys(value, PERCENTILES, f"{field}.", errors)
    clean = {}
    for percentile in PERCENTILES:
        if percentile not in value:
            errors[f"{field}.{percentile}"] = "required"
            continue
        clean[percentile] = _number(value, field, percentile, MAX_MS, False, errors)
    ordered = [clean.get(p) for p in PERCENTILES]
    if None not in ordered and not ordered[0] <= ordered[1] <= ordered[2]:
        errors[field] = "must hold p50 <= p95 <= p99"
    return clean
