"""A stored capacity plan as the result page and the PDF show it: rows, a chart, the assumptions.

Reads only the revision's snapshot (``result["capacity"]``), worked out when
the revision was saved: the page and the report never recompute it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .capacity import TRANSPORTS, plain_number
from .display import SHORT_NAMES

LIMIT_NAMES = {
    "cpu": "CPU",
    "memory": "memory",
    "file_descriptors": "file descriptors",
    "bandwidth": "network bandwidth",
    "proxy": "the proxy's ports",
    None: "none",
}
BENCHMARK_SECTION = "docs/benchmarks.md, “Live feed: fan-out (scenario 1)”"
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


def capacity_view(document: Mapping | None) -> CapacityView | None:
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
    )


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
