"""The network check's measurement: validation, what it found, and the answers it suggests.

The browser measures the path between itself and this advisor server (a
WebSocket upgrade with pings, a burst of SSE events, the HTTP version, several
event streams at once) and posts the figures. Everything here is plain
functions over that document: no ORM, no request, no settings.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .catalogue import Catalogue

FIELDS = ("websocket", "sse", "http_version", "sse_streams")
# Sent only by a run whose probes were told to misbehave (the page's ?simulate=).
OPTIONAL_FIELDS = ("simulated",)
SIMULATIONS = ("blocked", "buffering")
WEBSOCKET_FIELDS = ("status", "close_code", "rtt_ms")
SSE_FIELDS = ("status", "events_expected", "interval_ms", "arrivals_ms")
SSE_STREAMS_FIELDS = ("attempted", "opened")
WEBSOCKET_STATUSES = ("ok", "blocked", "error")
SSE_STATUSES = ("ok", "failed")
MAX_MS = 60_000
MAX_RTT_SAMPLES = 100
EVENTS_RANGE = (2, 50)
INTERVAL_RANGE = (50, 1000)
STREAMS_RANGE = (1, 16)
MAX_CLOSE_CODE = 4999
MAX_HTTP_VERSION_LENGTH = 32
# Events that arrive over less than half the time the server took to send
# them were held back somewhere: a streamed burst keeps its spacing, give or
# take scheduling jitter, while a buffering proxy releases it in one lump.
STREAMED_SPREAD = 0.5
# The first event is sent at once, so it should arrive about one round trip
# after connecting; a second or more means the response was held back.
FIRST_EVENT_SLOW_MS = 1000
# Browsers open about six HTTP/1.1 connections per origin; a count of streams
# that stops at or below it is that limit showing.
HTTP1_CONNECTIONS_PER_ORIGIN = 6
# What the measurement can and cannot stand for, shown wherever it is.
SCOPE = (
    "Measured between the browser that ran the check and this advisor server: it is "
    "evidence for users on the same network as this deployment, not for every user."
)
# The questions a check can answer, in the order suggestions are listed.
SUGGESTED_QUESTIONS = ("middleboxes", "stream_buffering", "http_version")

SseDelivery = Literal["streamed", "buffered", "failed"]
HttpKind = Literal["http2", "http1", "unknown"]


@dataclass(frozen=True)
class Finding:
    """One measured fact, with what it means for the choice of transport."""

    key: str
    title: str
    value: str
    meaning: str
    ok: bool


@dataclass(frozen=True)
class Suggestion:
    """An answer the measurement supports, for the user to accept or override."""

    question: str
    value: str
    label: str
    finding: str
    meaning: str


# --- Validation ----------------------------------------------------------------


def validate_measurement(doc: object) -> tuple[dict | None, dict[str, str]]:
    """(the cleaned document, {}) or (None, every problem keyed by dotted field)."""
    if not isinstance(doc, Mapping):
        return None, {"measurement": "must be an object"}
    errors: dict[str, str] = {}
    _unknown_keys(doc, (*FIELDS, *OPTIONAL_FIELDS), "", errors)
    clean: dict = {}
    for key in FIELDS:
        if key not in doc:
            errors[key] = "required"
    if "websocket" in doc:
        clean["websocket"] = _websocket(doc["websocket"], errors)
    if "sse" in doc:
        clean["sse"] = _sse(doc["sse"], errors)
    if "http_version" in doc:
        clean["http_version"] = _http_version(doc["http_version"], errors)
    if "sse_streams" in doc:
        clean["sse_streams"] = _sse_streams(doc["sse_streams"], errors)
    if "simulated" in doc:
        clean["simulated"] = _simulated(doc["simulated"], errors)
    if errors:
        return None, errors
    return clean, {}


def _websocket(value: object, errors: dict[str, str]) -> dict | None:
    part = _object(value, "websocket", WEBSOCKET_FIELDS, errors)
    if part is None:
        return None
    status = _choice(part, "websocket", "status", WEBSOCKET_STATUSES, errors)
    close_code = part.get("close_code")
    if close_code is not None and _integer(close_code, 0, MAX_CLOSE_CODE) is None:
        errors["websocket.close_code"] = (
            f"must be a whole number from 0 to {MAX_CLOSE_CODE}, or null"
        )
    rtt = _milliseconds(part, "websocket", "rtt_ms", MAX_RTT_SAMPLES, errors)
    if status == "ok" and rtt == []:
        errors["websocket.rtt_ms"] = "needs at least one round trip when the status is ok"
    return {"status": status, "close_code": close_code, "rtt_ms": rtt}


def _sse(value: object, errors: dict[str, str]) -> dict | None:
    part = _object(value, "sse", SSE_FIELDS, errors)
    if part is None:
        return None
    status = _choice(part, "sse", "status", SSE_STATUSES, errors)
    expected = _bounded(part, "sse", "events_expected", EVENTS_RANGE, errors)
    interval = _bounded(part, "sse", "interval_ms", INTERVAL_RANGE, errors)
    arrivals = _milliseconds(
        part, "sse", "arrivals_ms", expected if expected is not None else EVENTS_RANGE[1], errors
    )
    if arrivals and any(later < earlier for earlier, later in itertools.pairwise(arrivals)):
        errors["sse.arrivals_ms"] = "must not decrease: each event arrives after the one before"
    return {
        "status": status,
        "events_expected": expected,
        "interval_ms": interval,
        "arrivals_ms": arrivals,
    }


def _http_version(value: object, errors: dict[str, str]) -> str | None:
    if not isinstance(value, str):
        errors["http_version"] = 'must be a string such as "h2" or "http/1.1" ("" when unknown)'
        return None
    if len(value) > MAX_HTTP_VERSION_LENGTH:
        errors["http_version"] = f"must be at most {MAX_HTTP_VERSION_LENGTH} characters"
        return None
    if not value.isascii() or not value.isprintable():
        errors["http_version"] = "must be printable ASCII, as browsers report protocol names"
        return None
    return value.strip()


def _sse_streams(value: object, errors: dict[str, str]) -> dict | None:
    part = _object(value, "sse_streams", SSE_STREAMS_FIELDS, errors)
    if part is None:
        return None
    attempted = _bounded(part, "sse_streams", "attempted", STREAMS_RANGE, errors)
    opened = _bounded(part, "sse_streams", "opened", (0, attempted or STREAMS_RANGE[1]), errors)
    if attempted is None and opened is not None:
        # Without a valid attempted count, opened cannot be judged against it.
        opened = None
    return {"attempted": attempted, "opened": opened}


def _simulated(value: object, errors: dict[str, str]) -> list[str] | None:
    expected = f"must be a list of distinct simulations, each one of {', '.join(SIMULATIONS)}"
    if (
        not isinstance(value, list)
        or not all(isinstance(item, str) and item in SIMULATIONS for item in value)
        or len(set(value)) != len(value)
    ):
        errors["simulated"] = expected
        return None
    # One order, so that the same simulations always read the same.
    return [name for name in SIMULATIONS if name in value]


def _object(
    value: object, name: str, fields: tuple[str, ...], errors: dict[str, str]
) -> Mapping | None:
    if not isinstance(value, Mapping):
        errors[name] = f"must be an object with {_listed(fields)}"
        return None
    _unknown_keys(value, fields, f"{name}.", errors)
    for key in fields:
        if key not in value:
            errors[f"{name}.{key}"] = "required"
    return value


def _unknown_keys(
    value: Mapping, fields: tuple[str, ...], prefix: str, errors: dict[str, str]
) -> None:
    for key in value.keys() - set(fields):
        errors[f"{prefix}{key}"] = f"unknown field; expected {_listed(fields)}"


def _choice(
    part: Mapping, name: str, key: str, choices: tuple[str, ...], errors: dict[str, str]
) -> str | None:
    if key not in part:
        return None
    value = part[key]
    if value not in choices or not isinstance(value, str):
        errors[f"{name}.{key}"] = f"must be one of {', '.join(choices)}"
        return None
    return value


def _bounded(
    part: Mapping, name: str, key: str, bounds: tuple[int, int], errors: dict[str, str]
) -> int | None:
    if key not in part:
        return None
    value = _integer(part[key], *bounds)
    if value is None:
        errors[f"{name}.{key}"] = f"must be a whole number from {bounds[0]} to {bounds[1]}"
    return value


def _integer(value: object, low: int, high: int) -> int | None:
    # bool is an int to Python but true/false is no count in JSON.
    if type(value) is not int or not low <= value <= high:
        return None
    return value


def _milliseconds(
    part: Mapping, name: str, key: str, most: int, errors: dict[str, str]
) -> list[float | int] | None:
    if key not in part:
        return None
    values = part[key]
    field = f"{name}.{key}"
    if not isinstance(values, list):
        errors[field] = f"must be a list of milliseconds, each from 0 to {MAX_MS}"
        return None
    if len(values) > most:
        errors[field] = f"must hold at most {most} values"
        return None
    for index, value in enumerate(values):
        # NaN and the infinities fail the range test, as they should.
        if type(value) not in (int, float) or not 0 <= value <= MAX_MS:
            errors[field] = f"item {index} must be a number of milliseconds from 0 to {MAX_MS}"
            return None
    return list(values)


def _listed(fields: Sequence[str]) -> str:
    return fields[0] if len(fields) == 1 else f"{', '.join(fields[:-1])} and {fields[-1]}"


def simulation_notice(clean: Mapping) -> str | None:
    """What to say wherever a simulated run is shown; None for a real measurement.

    A simulated run's findings and suggestions are still worked out, so the
    demonstration shows what the check would say, but they describe the
    probes' pretence, not the network.
    """
    simulated = clean.get("simulated")
    if not simulated:
        return None
    return f"Simulated run ({', '.join(simulated)}): not evidence about your network."


# --- Classification ------------------------------------------------------------


def sse_delivery(sse: Mapping) -> SseDelivery:
    """Streamed, buffered or failed, from the arrival times of the probe's events.

    Streamed when the events arrived spread over at least half the time the
    server took to send them; buffered when they arrived bunched closer than
    that; failed when none arrived. A burst cut short but spread out (the
    browser gave up before the last events) still shows streaming.
    """
    arrivals = sse["arrivals_ms"]
    if sse["status"] == "failed" or not arrivals:
        return "failed"
    sending = (sse["events_expected"] - 1) * sse["interval_ms"]
    spread = arrivals[-1] - arrivals[0]
    return "streamed" if spread >= STREAMED_SPREAD * sending else "buffered"


def http_kind(version: str) -> HttpKind:
    """What a browser's ``nextHopProtocol`` says about multiplexing."""
    name = version.strip().lower()
    if name.startswith(("h2", "h3", "http/2", "http/3")):
        return "http2"
    if name.startswith("http/1") or name == "h1":
        return "http1"
    return "unknown"


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(math.ceil(share * len(ordered)), 1)
    return ordered[rank - 1]


def connection_limit_showed(streams: Mapping) -> bool:
    """Some streams opened, then no more: the per-origin limit, not streams failing."""
    return (
        0 < streams["opened"] < streams["attempted"]
        and streams["opened"] <= HTTP1_CONNECTIONS_PER_ORIGIN
    )


# --- Findings ------------------------------------------------------------------


def findings(clean: Mapping) -> list[Finding]:
    """What the check measured, each with what it means, in a fixed order."""
    return [
        _upgrade_finding(clean["websocket"]),
        _rtt_finding(clean["websocket"]),
        _delivery_finding(clean["sse"]),
        _first_event_finding(clean["sse"]),
        _http_finding(clean["http_version"]),
        _streams_finding(clean["sse_streams"]),
    ]


def _upgrade_finding(websocket: Mapping) -> Finding:
    code = websocket["close_code"]
    with_code = f" (close code {code})" if code is not None else ""
    if websocket["status"] == "ok":
        return Finding(
            key="websocket_upgrade",
            title="WebSocket upgrade",
            value="Succeeded",
            meaning=(
                "The browser upgraded a connection to WebSocket and exchanged messages: "
                "nothing on this path blocks the handshake."
            ),
            ok=True,
        )
    if websocket["status"] == "blocked":
        return Finding(
            key="websocket_upgrade",
            title="WebSocket upgrade",
            value=f"Blocked{with_code}",
            meaning=(
                "The handshake never completed: a proxy, firewall or TLS inspection on this "
                "path refuses the HTTP Upgrade. WebSocket would need a fallback here; SSE is "
                "plain HTTP."
            ),
            ok=False,
        )
    return Finding(
        key="websocket_upgrade",
        title="WebSocket upgrade",
        value=f"Failed after opening{with_code}",
        meaning=(
            "The WebSocket opened but broke before the pings were done: something on the "
            "path (often a proxy that inspects or times out upgraded connections) interferes."
        ),
        ok=False,
    )


def _rtt_finding(websocket: Mapping) -> Finding:
    samples = websocket["rtt_ms"]
    if not samples:
        return Finding(
            key="websocket_rtt",
            title="WebSocket round trip",
            value="Not measured",
            meaning="No round trip could be timed because no ping came back over a WebSocket.",
            ok=False,
        )
    return Finding(
        key="websocket_rtt",
        title="WebSocket round trip",
        value=(
            f"p50 {_ms(percentile(samples, 0.5))}, p95 {_ms(percentile(samples, 0.95))} "
            f"over {len(samples)} ping{'s' if len(samples) != 1 else ''}"
        ),
        meaning=(
            "The time for a message to reach the server and come back. It is the floor for "
            "how interactive either transport can feel on this path."
        ),
        ok=True,
    )


def _delivery_finding(sse: Mapping) -> Finding:
    delivery = sse_delivery(sse)
    arrivals = sse["arrivals_ms"]
    expected = sse["events_expected"]
    sending = _ms((expected - 1) * sse["interval_ms"])
    count = f"{len(arrivals)} of {expected} events"
    if delivery == "streamed":
        return Finding(
            key="sse_delivery",
            title="SSE delivery",
            value=f"Streamed: {count} arrived over {_ms(arrivals[-1] - arrivals[0])}, "
            f"as sent over {sending}",
            meaning=(
                "Events arrived as the server sent them: nothing on this path holds back "
                "streamed responses."
            ),
            ok=True,
        )
    if delivery == "buffered":
        return Finding(
            key="sse_delivery",
            title="SSE delivery",
            value=f"Buffered: {count} arrived {_within(arrivals[-1] - arrivals[0])}, "
            f"though sent over {sending}",
            meaning=(
                "Something on this path (a proxy, load balancer or antivirus) holds back the "
                "streamed response and releases it in a lump: SSE events would arrive late "
                "and bunched unless it is reconfigured (X-Accel-Buffering: no, no-cache) or "
                "defeated with padding and heartbeats."
            ),
            ok=False,
        )
    return Finding(
        key="sse_delivery",
        title="SSE delivery",
        value=f"Failed after {count}" if arrivals else "Failed: no event arrived",
        meaning=(
            "The event stream did not deliver its events before the browser gave up: the "
            "response was held back, cut or refused."
        ),
        ok=False,
    )


def _first_event_finding(sse: Mapping) -> Finding:
    arrivals = sse["arrivals_ms"]
    meaning = (
        "How long after opening the stream the first event arrived. The server sends it at "
        "once, so much more than a round trip means the response was held back."
    )
    if sse["status"] == "failed" or not arrivals:
        return Finding(
            key="sse_first_event",
            title="Time to first SSE event",
            value="No event arrived",
            meaning=meaning,
            ok=False,
        )
    return Finding(
        key="sse_first_event",
        title="Time to first SSE event",
        value=_ms(arrivals[0]),
        meaning=meaning,
        ok=arrivals[0] < FIRST_EVENT_SLOW_MS,
    )


def _http_finding(version: str) -> Finding:
    kind = http_kind(version)
    if kind == "http2":
        shown = "HTTP/3" if version.lower().startswith(("h3", "http/3")) else "HTTP/2"
        return Finding(
            key="http_version",
            title="HTTP version",
            value=f"{shown} ({version})",
            meaning=(
                "Requests share one multiplexed connection, so the browser's limit of about "
                "six connections per origin does not apply: many tabs can each hold an "
                "EventSource."
            ),
            ok=True,
        )
    if kind == "http1":
        return Finding(
            key="http_version",
            title="HTTP version",
            value=version.upper(),
            meaning=(
                "Each EventSource holds one of the browser's six or so connections per "
                "origin: a few tabs with a stream each can use them all up."
            ),
            ok=False,
        )
    return Finding(
        key="http_version",
        title="HTTP version",
        value=f"Not recognised ({version})" if version else "Not reported by the browser",
        meaning=(
            "The browser did not say which protocol it used; the count of streams open at "
            "once is the other clue."
        ),
        ok=False,
    )


def _streams_finding(streams: Mapping) -> Finding:
    opened, attempted = streams["opened"], streams["attempted"]
    if opened == attempted:
        meaning = (
            f"The browser held {attempted} event stream{'s' if attempted != 1 else ''} to "
            "this server at the same time without waiting."
        )
    elif connection_limit_showed(streams):
        meaning = (
            f"Only {opened} of {attempted} streams opened at once: the browser's per-origin "
            "connection limit (about six over HTTP/1.1) showed, so more tabs with a stream "
            "each would wait."
        )
    else:
        meaning = (
            f"{attempted - opened} of {attempted} streams did not deliver their first event "
            "in time, more than the HTTP/1.1 connection limit explains."
        )
    return Finding(
        key="sse_streams",
        title="Concurrent SSE streams",
        value=f"{opened} of {attempted} opened at once",
        meaning=meaning,
        ok=opened == attempted,
    )


def _within(spread: float) -> str:
    return "all at once" if spread < 1 else f"within {_ms(spread)}"


def _ms(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.1f} s"
    if value < 10:
        return f"{value:.1f} ms"
    return f"{round(value)} ms"


# --- Suggestions ---------------------------------------------------------------


def suggestions(clean: Mapping, catalogue: Catalogue) -> list[Suggestion]:
    """The answers the measurement supports, in ``catalogue``'s words.

    Only questions and options ``catalogue`` asks are suggested: an answer
    that cannot be given is no suggestion.
    """
    proposed = [
        _middleboxes(clean["websocket"], sse_delivery(clean["sse"])),
        _stream_buffering(sse_delivery(clean["sse"])),
        _http_version_answer(clean["http_version"], clean["sse_streams"]),
    ]
    shown = []
    for question_slug, value, finding, meaning in filter(None, proposed):
        question = catalogue.question(question_slug)
        option = question.option(value) if question else None
        if option is None:
            continue
        shown.append(
            Suggestion(
                question=question_slug,
                value=value,
                label=option.label,
                finding=finding,
                meaning=meaning,
            )
        )
    return shown


def _middleboxes(websocket: Mapping, delivery: SseDelivery) -> tuple[str, str, str, str]:
    if websocket["status"] == "blocked":
        return (
            "middleboxes",
            "strict",
            "WebSocket upgrade blocked",
            "The WebSocket handshake was refused on this path, as by a proxy that blocks "
            "upgrades.",
        )
    if websocket["status"] == "error":
        return (
            "middleboxes",
            "corporate",
            "WebSocket broke after opening",
            "The WebSocket opened but did not last, as behind a proxy or TLS inspection that "
            "interferes with upgraded connections.",
        )
    if delivery != "streamed":
        return (
            "middleboxes",
            "corporate",
            "SSE events held back" if delivery == "buffered" else "SSE stream delivered nothing",
            "WebSocket got through but the event stream was held back, as by a proxy that "
            "buffers streamed responses.",
        )
    return (
        "middleboxes",
        "open",
        "WebSocket and SSE both worked",
        "Both transports worked unhindered from this browser: for this network the path is "
        "open. Users on other networks may see otherwise.",
    )


def _stream_buffering(delivery: SseDelivery) -> tuple[str, str, str, str]:
    if delivery == "streamed":
        return (
            "stream_buffering",
            "streamed",
            "SSE events streamed",
            "The probe's events arrived spread out as they were sent: nothing on this path "
            "buffers streamed responses.",
        )
    return (
        "stream_buffering",
        "buffered",
        "SSE events held back" if delivery == "buffered" else "SSE stream delivered nothing",
        "The probe's events did not arrive as they were sent: something on this path holds "
        "back streamed responses.",
    )


def _http_version_answer(version: str, streams: Mapping) -> tuple[str, str, str, str] | None:
    kind = http_kind(version)
    if kind == "http2":
        return (
            "http_version",
            "http2",
            f"HTTP version {version}",
            "The browser reached this server over a multiplexed protocol.",
        )
    if kind == "http1":
        return (
            "http_version",
            "http1",
            f"HTTP version {version}",
            "The browser reached this server over HTTP/1.x.",
        )
    if connection_limit_showed(streams):
        return (
            "http_version",
            "http1",
            f"Only {streams['opened']} of {streams['attempted']} SSE streams opened at once",
            "The browser did not name its protocol, but the streams stopped at the HTTP/1.1 "
            "limit of about six connections per origin.",
        )
    return None
