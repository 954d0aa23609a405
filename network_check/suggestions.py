"""The answers a measurement supports, as the catalogue maps them.

The check's measures each come to one named outcome (the path let both
transports through, the WebSocket upgrade was blocked, ...), worded here with
what was measured. Which question an outcome answers, and with which option,
is the catalogue's data (``measured_by`` on a question): a new catalogue can
re-map or drop a suggestion without a change here. Plain functions: no ORM, no
request, no settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from questionnaire.catalogue import Catalogue

from .findings import connection_limit_showed, http_kind, sse_delivery

# The name catalogues give this check in ``measured_by``.
CHECK = "network"


@dataclass(frozen=True)
class Outcome:
    """What one measure came to: a name the catalogue maps, and why, in words."""

    name: str
    finding: str
    meaning: str


@dataclass(frozen=True)
class Suggestion:
    """An answer the measurement supports, for the user to accept or override."""

    question: str
    value: str
    label: str
    finding: str
    meaning: str


def suggestions(clean: Mapping, catalogue: Catalogue) -> list[Suggestion]:
    """The answers the measurement supports, in ``catalogue``'s words and order.

    Only questions ``catalogue`` says this check measures, and only outcomes
    it maps to one of their options, are suggested: an answer that cannot be
    given is no suggestion.
    """
    shown = []
    for question in catalogue.measured_by(CHECK):
        measure = MEASURES.get(question.measured_by.measure)
        outcome = measure(clean) if measure else None
        value = question.measured_by.outcomes.get(outcome.name) if outcome else None
        option = question.option(value) if value else None
        if option is None:
            continue
        shown.append(
            Suggestion(
                question=question.slug,
                value=value,
                label=option.label,
                finding=outcome.finding,
                meaning=outcome.meaning,
            )
        )
    return shown


def catalogue_problems(catalogue: Catalogue) -> list[str]:
    """What ``catalogue`` asks of this check that it cannot measure; [] when all is known."""
    problems = []
    for question in catalogue.measured_by(CHECK):
        measured = question.measured_by
        if measured.measure not in OUTCOMES:
            problems.append(f"{question.slug}: unknown measure {measured.measure!r}")
            continue
        for name in sorted(set(measured.outcomes) - set(OUTCOMES[measured.measure])):
            problems.append(f"{question.slug}: {measured.measure} has no outcome {name!r}")
    return problems


# --- The measures ----------------------------------------------------------------


def path(clean: Mapping) -> Outcome:
    """What sits on the path: does a WebSocket get through, does a stream arrive as sent."""
    websocket = clean["websocket"]
    if websocket["status"] == "blocked":
        return Outcome(
            "websocket_blocked",
            "WebSocket upgrade blocked",
            "The WebSocket handshake was refused on this path, as by a proxy that blocks "
            "upgrades.",
        )
    if websocket["status"] == "error":
        return Outcome(
            "websocket_broken",
            "WebSocket broke after opening",
            "The WebSocket opened but did not last, as behind a proxy or TLS inspection that "
            "interferes with upgraded connections.",
        )
    delivery = sse_delivery(clean["sse"])
    if delivery != "streamed":
        return Outcome(
            f"sse_{delivery}",
            "SSE events held back" if delivery == "buffered" else "SSE stream delivered nothing",
            "WebSocket got through but the event stream was held back, as by a proxy that "
            "buffers streamed responses.",
        )
    return Outcome(
        "open",
        "WebSocket and SSE both worked",
        "Both transports worked unhindered from this browser: for this network the path is "
        "open. Users on other networks may see otherwise.",
    )


def streaming(clean: Mapping) -> Outcome:
    """Whether the probe's events arrived as they were sent."""
    delivery = sse_delivery(clean["sse"])
    if delivery == "streamed":
        return Outcome(
            "streamed",
            "SSE events streamed",
            "The probe's events arrived spread out as they were sent: nothing on this path "
            "buffers streamed responses.",
        )
    return Outcome(
        delivery,
        "SSE events held back" if delivery == "buffered" else "SSE stream delivered nothing",
        "The probe's events did not arrive as they were sent: something on this path holds "
        "back streamed responses.",
    )


def protocol(clean: Mapping) -> Outcome | None:
    """The HTTP version, as the browser names it or as the streams' limit betrays it."""
    version, streams = clean["http_version"], clean["sse_streams"]
    kind = http_kind(version)
    if kind == "http2":
        return Outcome(
            "http2",
            f"HTTP version {version}",
            "The browser reached this server over a multiplexed protocol.",
        )
    if kind == "http1":
        return Outcome(
            "http1",
            f"HTTP version {version}",
            "The browser reached this server over HTTP/1.x.",
        )
    if connection_limit_showed(streams):
        return Outcome(
            "http1_connection_limit",
            f"Only {streams['opened']} of {streams['attempted']} SSE streams opened at once",
            "The browser did not name its protocol, but the streams stopped at the HTTP/1.1 "
            "limit of about six connections per origin.",
        )
    return None


# The measures a catalogue's ``measured_by`` may name, and every outcome each
# can report (what ``catalogue_problems`` checks a mapping against).
MEASURES: dict[str, Callable[[Mapping], Outcome | None]] = {
    "path": path,
    "streaming": streaming,
    "protocol": protocol,
}
OUTCOMES: dict[str, tuple[str, ...]] = {
    "path": ("open", "websocket_blocked", "websocket_broken", "sse_buffered", "sse_failed"),
    "streaming": ("streamed", "buffered", "failed"),
    "protocol": ("http2", "http1", "http1_connection_limit"),
}
