"""Scenario 2, idle connections: how many idle, heartbeated connections one daphne holds, and
at what memory and CPU per connection.

Run by hand with `make bench-idle`; `--quick` for a short check. Per run, two
fresh daphne processes with no feed events (DEMO_FEED_RATE=0), each holding
N WebSocket + N SSE connections: one with the real heartbeats (SSE comment
every 15 s, daphne's WebSocket ping every 20 s), for memory and the idle CPU
as it is; one with heartbeats as often as the servers allow (SSE every 1 s,
WebSocket ping every 1 s, which daphne checks every 2 s), whose extra CPU
divided by the extra heartbeats is the cost of one heartbeat.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter

from clients import LoadClients
from common import machine, write_section
from measure import kib, met, options, pyplot, save
from servers import app_database, our_app, versions

REAL_SSE, REAL_WS = 15.0, 20.0  # seconds: DEMO_SSE_HEARTBEAT, daphne's --ping-interval


def main() -> None:
    args = options(__doc__.split("\n")[0], n=5000, window=10.0, budget=220.0)
    if args.quick:
        args.runs, args.n, args.window = 1, 1000, 4.0
    started = time.monotonic()
    runs = []
    with app_database() as database:
        for run in range(args.runs):
            # Another run only if it should end within the budget.
            elapsed = time.monotonic() - started
            if run and elapsed * (run + 1) / run > args.budget:
                break
            real = hold(database, args, heartbeat=REAL_SSE, ping=None)
            short = hold(database, args, heartbeat=1.0, ping=1)
            runs.append(figures(real, short, args.n))
            print(f"run {run + 1}: {runs[-1]}")
    chart = draw(runs)
    report(args, runs, chart)


def hold(database: str, args, *, heartbeat: float, ping: int | None) -> dict:
    """Open N + N idle connections on a fresh daphne; its memory and CPU over a window."""
    with our_app("daphne", database, rate=0, heartbeat=heartbeat, ping_interval=ping) as server:
        before = server.memory()[0]
        plan = [(server.endpoints[transport], args.n) for transport in ("ws", "sse")]
        with LoadClients(plan, processes=args.processes, max_seconds=600) as clients:
            opened = clients.opened(timeout=300)
            cpu_start, cpu_end, report = clients.measure(
                args.window, warmup=2.0, probe=server.cpu_seconds
            )
            rss, peak = server.memory()
        total = report.total()
        connections = sum(stats.opened for stats in opened.transports.values())
        return {
            "connections": connections,
            "failed": sum(stats.failed for stats in opened.transports.values()),
            "errors": sum((stats.errors for stats in opened.transports.values()), Counter()),
            "closed": sum(total.closed.values()),
            "rss_before": before,
            "rss": rss,
            "peak": peak,
            "cpu": (cpu_end - cpu_start) / args.window,
            "heartbeats": total.heartbeats / args.window,
            "heartbeats_by": {t: s.heartbeats / args.window for t, s in report.transports.items()},
            "client_cpu": sum(report.cpu_seconds) / report.wall_seconds,
        }


def figures(real: dict, short: dict, n: int) -> dict:
    per_heartbeat = (short["cpu"] - real["cpu"]) / max(
        1e-9, short["heartbeats"] - real["heartbeats"]
    )
    real_rate = n / REAL_WS + n / REAL_SSE
    return {
        "connections": real["connections"],
        "failed": real["failed"],
        "short_failed": short["failed"],
        "errors": real["errors"] + short["errors"],
        "closed": real["closed"] + short["closed"],
        "rss_per_connection": (real["rss"] - real["rss_before"]) / max(1, real["connections"]),
        "peak_per_connection": (real["peak"] - real["rss_before"]) / max(1, real["connections"]),
        "rss": real["rss"],
        "idle_cpu": real["cpu"],
        "short_cpu": short["cpu"],
        "short_heartbeats": short["heartbeats"],
        "short_by": short["heartbeats_by"],
        "per_heartbeat": per_heartbeat,
        "real_rate": real_rate,
        "heartbeat_cpu": per_heartbeat * real_rate,
        "client_cpu": real["client_cpu"],
    }


def report(args, runs: list[dict], chart: str) -> None:
    def med(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    held = min(run["connections"] for run in runs)
    failed = sum(run["failed"] for run in runs)
    short_failed = sum(run["short_failed"] for run in runs)
    errors = sum((run["errors"] for run in runs), Counter())
    closed = sum(run["closed"] for run in runs)
    rss = med("rss_per_connection")
    heartbeat_cpu = med("heartbeat_cpu")
    wanted = 2 * args.n
    lines = [
        "## Live feed: idle connections (scenario 2)",
        "",
        f"Run `make bench-idle` ({machine(*versions())}). "
        f"Medians of {len(runs)} run(s){' (--quick)' if args.quick else ''}.",
        "",
        f"{args.n:,} WebSocket + {args.n:,} SSE connections, idle (no feed events: "
        "`DEMO_FEED_RATE=0`), on one daphne process: half and half, because a deployment of "
        "the demo holds both kinds and each costs differently (an SSE stream is an HTTP "
        "response held open with a heartbeat timer; a WebSocket is autobahn's protocol "
        "object, pinged by daphne). RSS per connection: (server RSS with every connection "
        f"open - RSS before) / connections. CPU over a {args.window:g} s window, in cores.",
        "",
        "Heartbeat cost: at the real intervals (SSE comment every 15 s, daphne's WebSocket "
        "ping every 20 s) the heartbeats are too rare to measure against the noise, so a "
        "second server runs them as often as it can (SSE every 1 s; daphne pings at most "
        "every 2 s, its timeout check's period) and the clients count what arrives; (CPU "
        "there - idle CPU at the real intervals) / (heartbeats/s there - at the real "
        "intervals) is the cost of one heartbeat, which times the real rate "
        f"({args.n:,}/20 + {args.n:,}/15 = {runs[0]['real_rate']:,.0f} heartbeats/s) is "
        "the heartbeats' share of a core. The idle CPU column also holds daphne's own "
        "housekeeping (it visits every connection every 1 s and 2 s).",
        "",
        "| connections held | failed | RSS / connection | peak RSS / connection | server RSS "
        "| idle CPU (real intervals) | CPU, short intervals | heartbeats/s there "
        "| CPU per heartbeat | heartbeats at the real intervals | client CPU |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| {held:,} of {wanted:,} | {failed} | {kib(rss)} | {kib(med('peak_per_connection'))} "
        f"| {med('rss') / 2**20:,.0f} MiB | {med('idle_cpu'):.3f} | {med('short_cpu'):.3f} "
        f"| {med('short_heartbeats'):,.0f} | {med('per_heartbeat') * 1e6:.0f} µs "
        f"| {heartbeat_cpu:.3f} cores | {med('client_cpu'):.2f} |",
        "",
        f"![memory and CPU of idle connections]({chart})",
        "",
        "Target (10,000 idle connections in one process):",
        "",
        f"- connections held: {held:,} ({met(held >= 10000 and not failed and not closed)}"
        + (f"; {closed} closed by the server" if closed else "")
        + ")",
        f"- RSS per connection: {kib(rss)}, under 40 KiB {met(rss < 40 * 1024)}",
        f"- heartbeats at the real intervals: {heartbeat_cpu * 100:.1f}% of one core, under 20% "
        f"{met(heartbeat_cpu < 0.2)}; all idle work together: {med('idle_cpu') * 100:.1f}%.",
    ]
    if failed or short_failed:
        lines += [
            "",
            f"Connections that failed to open: {failed} at the real intervals, {short_failed} "
            f"with short ones; errors: {dict(errors.most_common(4))}.",
        ]
    write_section("bench_idle", lines)


def draw(runs: list[dict]) -> str:
    plt = pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    rss = statistics.median(run["rss_per_connection"] for run in runs) / 1024
    peak = statistics.median(run["peak_per_connection"] for run in runs) / 1024
    left.bar(["RSS", "peak RSS"], [rss, peak], color="#4878a8")
    left.axhline(40, color="red", linestyle="--", linewidth=0.8, label="target 40 KiB")
    left.set(ylabel="KiB per connection", title="Memory per idle connection")
    left.legend(fontsize=7)
    idle = statistics.median(run["idle_cpu"] for run in runs) * 100
    beats = statistics.median(run["heartbeat_cpu"] for run in runs) * 100
    short = statistics.median(run["short_cpu"] for run in runs) * 100
    right.bar(
        ["idle, real\nintervals", "heartbeats,\nscaled", "short\nintervals"],
        [idle, beats, short],
        color=["#4878a8", "#e08040", "#999999"],
    )
    right.axhline(20, color="red", linestyle="--", linewidth=0.8, label="target 20%")
    right.set(ylabel="% of one core", title="CPU of idle connections")
    right.legend(fontsize=7)
    return save(figure, "idle.svg")


if __name__ == "__main__":
    main()
