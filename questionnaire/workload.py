"""From a revision's answers to the workload the live demo runs: plain functions over data.

The mapping is data (``workloads/<version>.json``, next to the catalogues):
each answer of the message-rate, payload, client-messages and upstream-latency
questions sets some of the workload's parameters; the rest keep the file's
defaults. A catalogue version without a file of its own uses the newest file
before it, so a newer catalogue (new questions, new options) still maps:
answers the file does not name change nothing.

The same limits bound what a person may ask of the demo server, whatever a
mapping or a form says: ``read_workload`` checks each parameter and names
every one that is out of bounds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from .catalogue import version_key

WORKLOAD_DIR = Path(__file__).resolve().parent / "workloads"

FORMATS = ("json", "binary", "mixed")
# name: (whole number, low, high). The down rate and size keep one run under
# about 2 MB/s per transport; the up rate stays under the demo's per-socket
# message limit (MAX_MESSAGES_PER_SECOND, 20) with room for pings.
LIMITS: dict[str, tuple[bool, float, float]] = {
    "events_per_second_down": (False, 0.1, 50),
    "payload_bytes": (True, 16, 64 * 1024),
    "messages_per_second_up": (False, 0, 10),
    "answer_budget_ms": (True, 10, 10_000),
    "duration_s": (True, 4, 120),
}
MAX_BYTES_PER_SECOND = 1024 * 1024
PARAMETERS = (
    "events_per_second_down",
    "payload_format",
    "payload_bytes",
    "messages_per_second_up",
    "answer_budget_ms",
    "duration_s",
)
# Traffic figures (a revision's capacity plan) that stand for a parameter.
TRAFFIC_PARAMETERS = {
    "events_per_second": "events_per_second_down",
    "payload_bytes": "payload_bytes",
    "messages_per_second_up": "messages_per_second_up",
}
TRAFFIC_FORMATS = {"text": "json", "binary": "binary", "mixed": "mixed"}


@cache
def mapping(catalogue_version: str) -> dict[str, Any]:
    """The mapping file for ``catalogue_version``: its own, else the newest one before it."""
    files = sorted(WORKLOAD_DIR.glob("*.json"), key=lambda path: version_key(path.stem))
    wanted = version_key(catalogue_version)
    chosen = [path for path in files if version_key(path.stem) <= wanted] or files[:1]
    return json.loads(chosen[-1].read_text(encoding="utf-8"))


def workload_of(
    answers: Mapping[str, str],
    catalogue_version: str,
    traffic: Mapping[str, Any] | None = None,
    preset: str | None = None,
) -> dict[str, Any]:
    """The workload ``answers`` describe; a revision's traffic figures win where given.

    Every value is brought within ``LIMITS``: a mapping or a traffic figure
    beyond what the demo runs is shown at the most it runs.
    """
    data = mapping(catalogue_version)
    workload = dict(data["defaults"])
    for question, by_answer in data["answers"].items():
        workload.update(by_answer.get(answers.get(question, ""), {}))
    if preset is not None:
        workload.update(data.get("presets", {}).get(preset, {}))
    for figure, parameter in TRAFFIC_PARAMETERS.items():
        value = (traffic or {}).get(figure)
        # An events rate of 0 means "not given" in the capacity form.
        if isinstance(value, int | float) and value > 0:
            workload[parameter] = value
    if traffic and traffic.get("payload_format") in TRAFFIC_FORMATS:
        workload["payload_format"] = TRAFFIC_FORMATS[traffic["payload_format"]]
    return _within_limits(workload)


def _within_limits(workload: dict[str, Any]) -> dict[str, Any]:
    for name, (whole, low, high) in LIMITS.items():
        value = min(max(workload[name], low), high)
        workload[name] = int(round(value)) if whole else round(value, 2)
    most = max(
        LIMITS["payload_bytes"][1], MAX_BYTES_PER_SECOND // workload["events_per_second_down"]
    )
    workload["payload_bytes"] = int(min(workload["payload_bytes"], most))
    return {name: workload[name] for name in PARAMETERS}


def read_workload(
    raw: Mapping[str, Any], *, text: bool = True
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """Parameters from a form or a JSON body (numbers as numbers, or as text if ``text``).

    (the workload, {}) or (None, {parameter: what is wrong}) naming every bad
    one; an unknown key is an error too, so that a typo is not run as a default.
    """
    errors: dict[str, str] = {}
    for key in raw.keys() - set(PARAMETERS):
        errors[str(key)[:40]] = "unknown parameter; expected " + ", ".join(PARAMETERS)
    workload: dict[str, Any] = {}
    for name in PARAMETERS:
        if name not in raw:
            errors[name] = "required"
            continue
        if name == "payload_format":
            if raw[name] not in FORMATS:
                errors[name] = "must be one of " + ", ".join(FORMATS)
            else:
                workload[name] = raw[name]
            continue
        value, problem = _number(name, raw[name], text)
        if problem:
            errors[name] = problem
        else:
            workload[name] = value
    if not errors:
        rate, size = workload["events_per_second_down"], workload["payload_bytes"]
        if rate * size > MAX_BYTES_PER_SECOND:
            most = int(MAX_BYTES_PER_SECOND // rate)
            errors["payload_bytes"] = (
                f"at {rate:g} events/s must be at most {most} bytes "
                f"(the demo sends at most {MAX_BYTES_PER_SECOND // 1024} KiB a second)"
            )
    return (None, errors) if errors else (workload, {})


def _number(name: str, value: object, text: bool) -> tuple[float | int | None, str]:
    whole, low, high = LIMITS[name]
    kind = "a whole number" if whole else "a number"
    if isinstance(value, str) and text:
        text = value.strip()
        # Checked before float(): it would take "nan", "1e999" and "٣".
        plain = text.replace(".", "", 1)
        if not (text.isascii() and plain.isdigit()) or len(text) > 12:
            return None, f"must be {kind} from {low:g} to {high:g}"
        value = float(text)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None, f"must be {kind} from {low:g} to {high:g}"
    if whole and value != int(value):
        return None, f"must be a whole number from {low:g} to {high:g}"
    if not low <= value <= high:
        return None, f"must be from {low:g} to {high:g}"
    return (int(value) if whole else float(value)), ""


def describe(workload: Mapping[str, Any]) -> str:
    """The workload in a sentence: "10 events/s of 2 KiB binary down, 5 messages/s up"."""
    kinds = {"json": "JSON", "binary": "binary", "mixed": "mixed JSON and binary"}
    down, up = workload["events_per_second_down"], workload["messages_per_second_up"]
    up_part = f"{up:g} {_plural(up, 'message')}/s up" if up else "nothing up"
    return (
        f"{down:g} {_plural(down, 'event')}/s of {size(workload['payload_bytes'])} "
        f"{kinds[workload['payload_format']]} down, {up_part}, answers within "
        f"{workload['answer_budget_ms']} ms, for {workload['duration_s']} s"
    )


def _plural(count: float, noun: str) -> str:
    return noun if count == 1 else noun + "s"


# Each direction a run sends messages on: its rate parameter and what it sends.
DIRECTIONS = (
    ("down", "events_per_second_down", "event"),
    ("up", "messages_per_second_up", "message"),
)


def too_few_messages(workload: Mapping[str, Any]) -> list[str]:
    """A warning for each direction on which the run would send less than one message.

    A run too short for its rate measures nothing on that path (0.05
    messages/s for 10 s sends none up); said before the run, with the
    duration or the rate that would measure it. No messages up at all is a
    workload of its own ("nothing up"), not a warning.
    """
    duration = workload["duration_s"]
    longest = LIMITS["duration_s"][2]
    warnings = []
    for direction, parameter, noun in DIRECTIONS:
        rate = workload[parameter]
        if not rate or rate * duration >= 1:
            continue
        needed = math.ceil(1 / rate)
        if needed <= longest:
            remedy = f"run it for at least {needed} s"
        else:
            remedy = f"send at least {math.ceil(100 / longest) / 100:g} {noun}s/s {direction}"
        warnings.append(
            f"At {rate:g} {_plural(rate, noun)}/s {direction} for {duration} s this run sends "
            f"no {noun}s {direction} ({rate * duration:g} expected): the {direction} path "
            f"would not be measured. To measure it, {remedy}."
        )
    return warnings


def size(count: int) -> str:
    if count >= 1024 and count % 1024 == 0:
        return f"{count // 1024} KiB"
    if count >= 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count} bytes"
