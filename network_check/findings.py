"""What a cleaned measurement shows: each measured fact, with what it means.

Plain functions over the document ``validation.validate_measurement`` cleaned:
no ORM, no request, no settings. The classifications (how SSE was delivered,
what the HTTP version says) are shared with ``suggestions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from advisor.stats import percentile

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


THROUGH_PROXY = "measured through a real buffering proxy"


def proxy_notice(clean: Mapping) -> str | None:
    """What to say wherever a run through the proxy's buffering location is shown."""
    if clean.get("via") != "buffering-proxy":
        return None
    return (
        "Measured through a real buffering proxy: the SSE probe went through this "
        "deployment's proxy location that buffers responses, as many corporate proxies do. "
        "Its SSE findings show what such a proxy does to a stream; they are not simulated."
    )


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


def connection_limit_showed(streams: Mapping) -> bool:
    """Some streams opened, then no more: the per-origin limit, not streams failing."""
    return (
        0 < streams["opened"] < streams["attempted"]
        and streams["opened"] <= HTTP1_CONNECTIONS_PER_ORIGIN
    )


# --- Findings ------------------------------------------------------------------


def findings(clean: Mapping) -> list[Finding]:
    """What the check measured, each with what it means, in a fixed order."""
    delivery = [_delivery_finding(clean["sse"]), _first_event_finding(clean["sse"])]
    if proxy_notice(clean):
        # Each SSE finding says where it was measured, also when quoted alone.
        delivery = [replace(item, value=f"{item.value} ({THROUGH_PROXY})") for item in delivery]
    return [
        _upgrade_finding(clean["websocket"]),
        _rtt_finding(clean["websocket"]),
        *delivery,
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
