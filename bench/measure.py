"""What the live-feed benchmarks share: one fan-out measurement, medians, figures, charts."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from clients import LoadClients, Report, latency_summary
from common import ROOT
from servers import Server

CHARTS = ROOT / "docs" / "bench"
TRANSPORT_NAMES = {"ws": "WebSocket", "sse": "SSE"}


@dataclass
class Window:
    """One measurement window of one fan-out: N subscribers per transport at `rate`."""

    server: str
    n: int
    rate: float
    seconds: float
    opened: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    delivered: dict[str, float] = field(default_factory=dict)  # events/s
    p50: dict[str, float | None] = field(default_factory=dict)  # ms, per transport and "all"
    p99: dict[str, float | None] = field(default_factory=dict)
    lost: int = 0
    duplicates: int = 0
    closed: int = 0  # connections the server closed or cut off
    server_cpu: float = 0.0  # cores (1.0: one core busy the whole window)
    client_cpu: float = 0.0  # cores, all load workers together
    client_cpu_max: float = 0.0  # the busiest worker
    machine_cpu: float = 0.0  # cores busy on the whole machine (other processes included)
    peak_rss: int = 0
    rss_per_connection: float = 0.0  # (peak RSS - RSS before any client) / connections
    connect_seconds: float = 0.0

    @property
    def expected(self) -> float:
        return self.rate * sum(self.opened.values())

    @property
    def delivered_total(self) -> float:
        return sum(self.delivered.values())

    @property
    def capacity(self) -> float:
        """Deliveries per second of server CPU: what one busy core would deliver."""
        return self.delivered_total / self.server_cpu if self.server_cpu else 0.0

    def verdict(self) -> str:
        """Whether the server kept up, and if not what ran out."""
        keeps_up = (
            self.delivered_total >= 0.97 * self.rate * self.n * len(self.opened)
            and not sum(self.failed.values())
            and not self.closed
        )
        if keeps_up:
            return "keeps up"
        if self.machine_cpu >= 1.8:
            others = max(0.0, self.machine_cpu - self.server_cpu - self.client_cpu)
            return f"behind: both cores busy ({others:.2f} by other processes)"
        if self.server_cpu >= 0.9:
            return "behind: server core busy"
        if self.client_cpu_max >= 0.9:
            return "behind: a client worker is busy"
        return "behind"


def fanout(
    server: Server,
    n: int,
    rates: list[float],
    *,
    window: float,
    warmup: float,
    publish: bool,
    processes: int = 2,
    transports: Iterable[str] | None = None,
    connect_timeout: float = 240,
) -> list[Window]:
    """Open N subscribers per transport on `server`, then measure one window per rate.

    `publish`: the benchmark makes the feed's events (chat messages over a
    WebSocket, at each rate in turn); otherwise the server's own ticker does,
    at the one rate it was started with.
    """
    transports = list(transports or server.endpoints)
    plan = [(server.endpoints[transport], n) for transport in transports]
    rss_before = server.memory()[0]
    budget = connect_timeout + len(rates) * (window + warmup + 90) + 60
    windows = []
    with LoadClients(plan, processes=processes, max_seconds=budget) as clients:
        started = time.monotonic()
        opened = clients.opened(timeout=connect_timeout)
        connect_seconds = time.monotonic() - started
        for rate in rates:
            chat = (server.endpoints["ws"], rate) if publish else None
            (cpu_start, busy_start), (cpu_end, busy_end), report = clients.measure(
                window, warmup=warmup, publish=chat, probe=lambda: (server.cpu_seconds(), busy())
            )
            peak = server.memory()[1]
            connections = sum(stats.opened for stats in opened.transports.values())
            windows.append(
                _window(server, n, rate, window, opened, report, cpu_end - cpu_start)
                | {
                    "machine_cpu": (busy_end - busy_start) / window,
                    "peak_rss": peak,
                    "rss_per_connection": (peak - rss_before) / max(1, connections),
                    "connect_seconds": connect_seconds,
                }
            )
    return [Window(**fields) for fields in windows]


def busy() -> float:
    """CPU seconds the whole machine has spent busy (stolen by the hypervisor included)."""
    times = psutil.cpu_times()
    # Linux counts guest time in user time too.
    twice = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    return sum(times) - times.idle - getattr(times, "iowait", 0.0) - twice


def _window(
    server: Server, n: int, rate: float, seconds: float, opened: Report, report: Report, cpu: float
) -> dict:
    fields = {
        "server": server.name,
        "n": n,
        "rate": rate,
        "seconds": seconds,
        "opened": {t: s.opened for t, s in opened.transports.items()},
        "failed": {t: s.failed for t, s in opened.transports.items()},
        "delivered": {},
        "p50": {},
        "p99": {},
        "server_cpu": cpu / seconds,
        "client_cpu": sum(report.cpu_seconds) / report.wall_seconds,
        "client_cpu_max": report.client_cpu_share,
    }
    for transport, stats in report.transports.items():
        fields["delivered"][transport] = stats.received / seconds
        fields["p50"][transport], fields["p99"][transport] = latency_summary(stats.latencies)
    total = report.total()
    fields["p50"]["all"], fields["p99"]["all"] = latency_summary(total.latencies)
    fields["lost"] = total.lost
    fields["duplicates"] = total.duplicates
    fields["closed"] = sum(total.closed.values())
    return fields


def median_window(windows: list[Window]) -> Window:
    """Medians of the runs' figures; counts of trouble (lost, closed) are summed, not medianed."""
    first = windows[0]

    def med(values: list[float | None]) -> float | None:
        present = [value for value in values if value is not None]
        return statistics.median(present) if present else None

    def per_key(name: str) -> dict:
        keys = {key for window in windows for key in getattr(window, name)}
        return {key: med([getattr(w, name).get(key) for w in windows]) for key in keys}

    return Window(
        server=first.server,
        n=first.n,
        rate=first.rate,
        seconds=first.seconds,
        opened={key: int(value) for key, value in per_key("opened").items()},
        failed={key: sum(w.failed.get(key, 0) for w in windows) for key in first.failed},
        delivered=per_key("delivered"),
        p50=per_key("p50"),
        p99=per_key("p99"),
        lost=sum(w.lost for w in windows),
        duplicates=sum(w.duplicates for w in windows),
        closed=sum(w.closed for w in windows),
        server_cpu=med([w.server_cpu for w in windows]),
        client_cpu=med([w.client_cpu for w in windows]),
        client_cpu_max=med([w.client_cpu_max for w in windows]),
        machine_cpu=med([w.machine_cpu for w in windows]),
        peak_rss=int(med([w.peak_rss for w in windows])),
        rss_per_connection=med([w.rss_per_connection for w in windows]),
        connect_seconds=med([w.connect_seconds for w in windows]),
    )


# Figures ------------------------------------------------------------------------------


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def per_second(value: float) -> str:
    return f"{value:,.0f}"


def kib(value: float) -> str:
    return f"{value / 1024:,.1f} KiB"


def met(condition: bool) -> str:
    return "**met**" if condition else "**not met**"


def both(window: Window, name: str, format: Callable = ms) -> str:
    """A per-transport figure as "WebSocket / SSE" (or the one there is)."""
    values = getattr(window, name)
    return " / ".join(format(values.get(t)) for t in ("ws", "sse") if t in window.opened)


def options(description: str, **defaults) -> argparse.Namespace:
    """The command line every live-feed scenario takes: --runs, --quick, and its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=defaults.pop("runs", 3))
    parser.add_argument(
        "--quick", action="store_true", help="fewer, smaller, shorter runs (development)"
    )
    parser.add_argument("--processes", type=int, default=2, help="load client processes")
    for name, value in defaults.items():
        kind = type(value[0]) if isinstance(value, list) else type(value)
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=kind,
            nargs="+" if isinstance(value, list) else None,
            default=value,
        )
    return parser.parse_args()


def chart_path(name: str) -> Path:
    CHARTS.mkdir(parents=True, exist_ok=True)
    return CHARTS / name


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "bench", "font.size": 9})
    return plt


def save(figure, name: str) -> str:
    """Save a chart under docs/bench/ (no timestamps: re-runs change only what changed)."""
    path = chart_path(name)
    figure.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    return f"bench/{name}"
