"""A stored capacity plan as the result page and the PDF show it: rows, a chart, the assumptions.

Reads only the revision's snapshot (``result["capacity"]``, and the verdict
beside it), worked out when the revision was saved: the page, the report and
the API never recompute it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .capacity import TRANSPORTS, plain_number
from .display import SHORT_NAMES
from .scoring import other_transport

LIMIT_NAMES = {
    "cpu": "CPU",
    "memory": "memory",
    "file_descriptors": "file descriptors",
    "bandwidth": "network bandwidth",
    "proxy": "the proxy's ports",
    None: "none",
}
BENCHMARK_SECTION = "docs/benchmarks.md, “Live feed: fan-out (scenario 1)”"
# When the recommended transport's plan needs this many times the other's
# machines, and at least AT_LEAST_MORE_MACHINES more, the plan says why (a
# quarter more: base64 alone, at 4 bytes for 3, can make a third more).
NOTABLY_MORE = 1.25
AT_LEAST_MORE_MACHINES = 2
# How each transport carries a message up, for the note.
UP_MESSAGE = {
    "sse": "an HTTP request beside the stream",
    "websocket": "a frame on the connection already open",
}
CHART_WIDTH, CHART_HEIGHT = 560, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 32, 44


def figure(number: float) -> str:
    """A count or a rate as a reader takes it in: 12,345; 2.5; 0.0012; never 1e-05."""
    if number >= 10 or number == int(number):
        return f"{number:,.0f}"
    # Two significant digits, in plain decimals however small (rates are stored
    # to 9 decimals, so at most 0.000000001).
    return plain_number(float(f"{number:.2g}"))


def per_process(clients: int) -> str:
    # Zero: one client needs more than a whole process (its CPU or its egress).
    return figure(clients) if clients else "under 1"


def size(number_of_bytes: float) -> str:
    for unit, scale in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if number_of_bytes >= scale:
            return f"{number_of_bytes / scale:,.1f} {unit}"
    return f"{number_of_bytes:,.0f} bytes"


def rate(bits: float) -> str:
    for unit, scale in (("Tbit/s", 1e12), ("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bits >= scale:
            return f"{bits / scale:,.1f} {unit}"
    return f"{bits:,.0f} bit/s"


def clients_label(clients: int) -> str:
    if clients >= 1_000_000:
        return f"{clients / 1_000_000:g}M"
    if clients >= 1_000:
        return f"{clients / 1_000:g}k"
    return str(clients)


@dataclass(frozen=True)
class Row:
    label: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Line:
    transport: str
    name: str
    points: str
    markers: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Tick:
    label: str
    at: float


@dataclass(frozen=True)
class CapacityChart:
    lines: tuple[Line, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    peak_x: float | None
    table: tuple[tuple[str, int, int], ...]
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    left: int = LEFT
    top: int = TOP

    @property
    def bottom(self) -> int:
        return self.height - BOTTOM

    @property
    def right(self) -> int:
        return self.width - RIGHT


@dataclass(frozen=True)
class CapacityView:
    rows: tuple[Row, ...]
    chart: CapacityChart
    traffic: Mapping
    machine: Mapping
    costs: Mapping
    benchmark: str
    names: tuple[str, ...]
    # Per transport's name, what makes one client too big for the plan's machines.
    problems: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Why the recommended transport costs notably more here (capacity_note).
    note: str | None = None


def capacity_view(
    document: Mapping | None, recommendation: str | None = None
) -> CapacityView | None:
    """What the page and the report show of a stored plan; None for a result without one."""
    if not document:
        return None
    plans = [document[t] for t in TRANSPORTS]

    def row(label, render, key):
        return Row(label, tuple(render(plan[key]) for plan in plans))

    rows = (
        row("Server processes", figure, "processes"),
        row("Machines", figure, "machines"),
        row("First limit reached", lambda value: LIMIT_NAMES.get(value, value), "first_limit"),
        row("Clients per process", per_process, "clients_per_process"),
        row("CPU at the peak (cores)", lambda value: f"{value:,.1f}", "cpu_cores"),
        row("Memory", size, "memory_bytes"),
        row("Egress bandwidth", rate, "egress_bits_per_second"),
        row("Bytes on the wire per event", figure, "wire_bytes_per_event"),
        Row(
            "Redis fan-out (published / sent on, per second)",
            tuple(
                f"{figure(plan['redis']['publishes_per_second'])} / "
                f"{figure(plan['redis']['messages_per_second'])}"
                for plan in plans
            ),
        ),
        Row(
            "Load balancers (connections each)",
            tuple(
                f"{figure(plan['load_balancers'])} "
                f"({figure(plan['connections_per_load_balancer'])})"
                for plan in plans
            ),
        ),
    )
    assumptions = document["assumptions"]
    return CapacityView(
        rows=rows,
        chart=chart(document["curve"], assumptions["traffic"]["peak_clients"]),
        traffic=assumptions["traffic"],
        machine=assumptions["machine"],
        costs=assumptions["costs"],
        benchmark=BENCHMARK_SECTION,
        names=tuple(SHORT_NAMES[t] for t in TRANSPORTS),
        problems=tuple(
            (SHORT_NAMES[t], tuple(document[t]["problems"]))
            for t in TRANSPORTS
            # Plans saved before the check have no "problems".
            if document[t].get("problems")
        ),
        note=capacity_note(document, recommendation),
    )


def capacity_note(document: Mapping | None, recommendation: str | None) -> str | None:
    """A sentence when the verdict's transport needs notably more machines than the other.

    The verdict scores how the application behaves, and the plan what it
    costs to run: at a large enough scale the two can point apart, and the
    reader should see why rather than find a contradiction. None when the
    plans are close, when the recommended one is the cheaper, or when either
    cannot be built as sized (its problems say so).
    """
    if not document or recommendation not in TRANSPORTS:
        return None
    other = other_transport(recommendation)
    chosen, alternative = document[recommendation], document[other]
    if chosen.get("problems") or alternative.get("problems"):
        return None
    machines, fewer = chosen["machines"], alternative["machines"]
    if machines - fewer < AT_LEAST_MORE_MACHINES or machines < NOTABLY_MORE * fewer:
        return None
    return (
        f"At this traffic the recommended transport, {SHORT_NAMES[recommendation]}, needs "
        f"{figure(machines)} machines against {SHORT_NAMES[other]}'s {figure(fewer)}, "
        f"{_driver(document, recommendation, other)}. The verdict weighs how the application "
        "behaves, not what it costs to run: if cost at this scale decides, weigh this plan "
        "beside it."
    )


def _driver(document: Mapping, chosen: str, other: str) -> str:
    """What makes the chosen transport's plan the larger: the part of its first limit
    that differs most between the two, from the plan's own figures."""
    assumptions = document["assumptions"]
    traffic, costs = assumptions["traffic"], assumptions["costs"]
    names = SHORT_NAMES[chosen], SHORT_NAMES[other]
    limit = document[chosen]["first_limit"]
    if limit == "cpu":
        up = costs["up_message_cpu_seconds"]
        delivery = costs["delivery_cpu_seconds"]
        by_up = traffic.get("messages_per_second_up", 0) * (up[chosen] - up[other])
        by_events = traffic.get("events_per_second", 0) * (delivery[chosen] - delivery[other])
        if by_up > 0 and by_up >= by_events:
            return (
                f"mostly for the messages sent up: over {names[0]} each is "
                f"{UP_MESSAGE[chosen]} ({_cpu(up[chosen])} of CPU), over {names[1]} "
                f"{UP_MESSAGE[other]} ({_cpu(up[other])})"
            )
        if by_events > 0:
            return (
                f"mostly for the CPU each event costs to deliver ({_cpu(delivery[chosen])} "
                f"against {_cpu(delivery[other])})"
            )
    if limit == "bandwidth":
        wire = document[chosen]["wire_bytes_per_event"], document[other]["wire_bytes_per_event"]
        on_the_wire = (
            f"each event takes {figure(wire[0])} bytes on the wire against {figure(wire[1])}"
        )
        payload = traffic.get("payload_bytes", 0)
        # What base64 adds to a binary payload over SSE, against the whole difference.
        base64 = 4 * math.ceil(payload / 3) - payload
        binary = chosen == "sse" and traffic.get("payload_format") == "binary"
        if binary and 2 * base64 >= wire[0] - wire[1]:
            return (
                "mostly for bandwidth: SSE sends binary payloads in base64, 4 bytes for "
                f"every 3, so {on_the_wire}"
            )
        return f"mostly for bandwidth: {on_the_wire}"
    if limit == "memory":
        held = costs["connection_bytes"]
        return (
            f"mostly for memory: each connection holds {size(held[chosen])} of its "
            f"process's memory against {size(held[other])}"
        )
    return f"mostly for {LIMIT_NAMES.get(limit, limit)}"


def _cpu(seconds: float) -> str:
    """A per-message CPU cost in the unit that reads best: 116 µs, 2.05 ms."""
    if seconds >= 1e-3:
        return f"{figure(seconds * 1e3)} ms"
    return f"{figure(seconds * 1e6)} µs"


def chart(curve: list[Mapping], peak_clients: int) -> CapacityChart:
    """Machines against connected clients, both axes logarithmic (1,000 to 10 million)."""
    low, high = math.log10(curve[0]["clients"]), math.log10(curve[-1]["clients"])
    most = max(point[t] for point in curve for t in TRANSPORTS)
    decades = max(1, math.ceil(math.log10(max(most, 1)) + 1e-9))
    inner_width = CHART_WIDTH - LEFT - RIGHT
    inner_height = CHART_HEIGHT - TOP - BOTTOM

    def x(clients: float) -> float:
        return round(LEFT + (math.log10(clients) - low) / (high - low) * inner_width, 1)

    def y(machines: float) -> float:
        # Zero machines sits on the axis, with one.
        share = math.log10(max(machines, 1)) / decades
        return round(TOP + inner_height * (1 - share), 1)

    lines = []
    for transport in TRANSPORTS:
        markers = tuple((x(point["clients"]), y(point[transport])) for point in curve)
        lines.append(
            Line(
                transport=transport,
                name=SHORT_NAMES[transport],
                points=" ".join(f"{px},{py}" for px, py in markers),
                markers=markers,
            )
        )
    peak = x(peak_clients) if curve[0]["clients"] <= peak_clients <= curve[-1]["clients"] else None
    return CapacityChart(
        lines=tuple(lines),
        x_ticks=tuple(
            Tick(clients_label(10**power), x(10**power))
            for power in range(math.ceil(low), math.floor(high) + 1)
        ),
        y_ticks=tuple(Tick(f"{10**power:,}", y(10**power)) for power in range(decades + 1)),
        peak_x=peak,
        table=tuple(
            (figure(point["clients"]), point["websocket"], point["sse"]) for point in curve
        ),
    )
