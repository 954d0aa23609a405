"""Scenario 1, fan-out: N WebSocket and N SSE subscribers on one daphne process.

Run by hand with `make bench-fanout` (never part of the test suite); `--quick`
for a short check. For each run and each N: a fresh daphne (the feed's own
ticker off), N + N subscribers opened, then the feed at each rate R in turn
(chat messages sent over a WebSocket by the load client: the same fan-out
path as the ticker's events), a warm-up and a measured window per rate.
Writes its section of docs/benchmarks.md and docs/bench/fanout.svg.
"""

from __future__ import annotations

import time

from common import machine, write_section
from measure import (
    TRANSPORT_NAMES,
    Window,
    both,
    fanout,
    kib,
    median_window,
    met,
    ms,
    options,
    per_second,
    pyplot,
    save,
)
from servers import app_database, our_app, versions


def main() -> None:
    args = options(
        __doc__.split("\n")[0],
        n=[100, 1000, 2500, 5000],
        rates=[1.0, 10.0],
        window=5.0,
        warmup=2.0,
        budget=450.0,
    )
    if args.quick:
        args.runs, args.n, args.window, args.warmup = 1, [100, 1000], 3.0, 1.5
    started = time.monotonic()
    windows: dict[tuple[int, float], list[Window]] = {}
    skipped = []
    took: dict[int, float] = {}
    with app_database() as database:
        for run in range(args.runs):
            for n in args.n:
                # A repeat only if it should end within the budget, going by the first run's.
                if run and time.monotonic() - started + took[n] > args.budget:
                    skipped.append((run + 1, n))
                    continue
                began = time.monotonic()
                with our_app("daphne", database, rate=0) as server:
                    for window in fanout(
                        server,
                        n,
                        args.rates,
                        window=args.window,
                        warmup=args.warmup,
                        publish=True,
                        processes=args.processes,
                    ):
                        windows.setdefault((n, window.rate), []).append(window)
                        print(f"run {run + 1}: N={n} R={window.rate:g}: {summary(window)}")
                took.setdefault(n, time.monotonic() - began)
    medians = {key: median_window(runs) for key, runs in windows.items()}
    chart = draw(medians)
    report(args, medians, {key: len(runs) for key, runs in windows.items()}, skipped, chart)


def summary(window: Window) -> str:
    return (
        f"{per_second(window.delivered_total)}/s of {per_second(window.expected)}/s, "
        f"p99 {both(window, 'p99')}, lost {window.lost}, server {window.server_cpu:.2f} cores, "
        f"clients {window.client_cpu:.2f}, {window.verdict()}"
    )


def report(args, medians, runs, skipped, chart: str) -> None:
    rows = []
    for (n, rate), window in sorted(medians.items()):
        rows.append(
            f"| {n:,} + {n:,} | {rate:g} | {per_second(2 * n * rate)} "
            f"| {both(window, 'delivered', per_second)} | {both(window, 'p50')} "
            f"| {both(window, 'p99')} | {window.lost} | {window.closed} "
            f"| {window.server_cpu:.2f} | {window.client_cpu:.2f} | {window.machine_cpu:.2f} "
            f"| {kib(window.rss_per_connection)} | {window.verdict()} | {runs[(n, rate)]} |"
        )
    target = medians.get((1000, 10.0))
    if target is not None:
        p99 = max(value for key, value in target.p99.items() if key != "all" and value)
        delivered = target.delivered_total >= 0.97 * 20000
        verdict = (
            f"- 1,000 WebSocket + 1,000 SSE at 10 events/s: {per_second(target.delivered_total)} "
            f"deliveries/s of 20,000 ({met(delivered)}); p99 {ms(p99)}, under 100 ms "
            f"{met(p99 < 100)}; {target.lost} lost {met(target.lost == 0)}."
        )
    else:
        verdict = "- 1,000 + 1,000 at 10 events/s was not in this run's sweep."
    notes = []
    if skipped:
        notes.append(
            f"Time budget ({args.budget:.0f} s) reached: skipped "
            + ", ".join(f"run {run} of N={n}" for run, n in skipped)
            + "."
        )
    lines = [
        "## Live feed: fan-out (scenario 1)",
        "",
        f"Run `make bench-fanout` ({machine(*versions())}). "
        f"Medians of {args.runs} run(s){' (--quick)' if args.quick else ''}; "
        "server and load clients share the 2 cores.",
        "",
        "N WebSocket (`/ws/demo/`) and N SSE (`/demo/events/`) subscribers on one daphne "
        "process (`DJANGO_DEBUG=0`, in-memory feed), opened first; then the feed runs at R "
        "events/s for a "
        f"{args.warmup:g} s warm-up and a {args.window:g} s measured window. The load "
        f"client makes the events itself (chat messages over one more WebSocket, the same "
        f"fan-out path as the demo's ticker): opening thousands of subscribers while the "
        f"ticker runs takes minutes, which the sweep cannot afford. Load: "
        f"{args.processes} client processes (asyncio, uvloop; `websockets` and a raw "
        "HTTP/SSE parser), each sending `Origin`. Latency: client receipt time minus the "
        "event's server `ts` (one clock). Lost: ids skipped by a subscriber, summed over runs. "
        "Closed: connections the server closed or cut off as too slow, summed. CPU in cores "
        "(1.00 = one core busy for the whole window); machine CPU: every process on the "
        "machine, out of 2.00 (the rest is other work on this shared machine); RSS per "
        "connection: (server peak RSS - RSS before any client) / 2N.",
        "",
        "| N (WS + SSE) | R ev/s | deliveries/s wanted | delivered/s WS / SSE | p50 WS / SSE "
        "| p99 WS / SSE | lost | closed | server CPU | client CPU | machine CPU "
        "| peak RSS / conn | verdict | runs |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"![delivered events/s and p99 latency against N]({chart})",
        "",
        "Target (one process, this machine):",
        "",
        verdict,
        "",
        "Where a row says *behind*, the figures are what the clients received while the "
        "server (or the machine) could not keep up: latency then measures queueing, and "
        "the server cuts off a subscriber that leaves more than 500 events or 1 MiB unsent.",
        *([""] + notes if notes else []),
    ]
    write_section("bench_fanout", lines)


def draw(medians: dict[tuple[int, float], Window]) -> str:
    plt = pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    rates = sorted({rate for _, rate in medians})
    for rate in rates:
        points = sorted((n, w) for (n, r), w in medians.items() if r == rate)
        ns = [n for n, _ in points]
        left.plot(ns, [w.delivered_total for _, w in points], marker="o", label=f"R={rate:g}")
        left.plot(ns, [2 * n * rate for n in ns], linestyle=":", color="grey")
        for transport in ("ws", "sse"):
            right.plot(
                ns,
                [w.p99.get(transport) or float("nan") for _, w in points],
                marker="o" if transport == "ws" else "s",
                label=f"{TRANSPORT_NAMES[transport]}, R={rate:g}",
            )
    right.axhline(100, color="red", linestyle="--", linewidth=0.8, label="target 100 ms")
    left.set(
        xscale="log",
        yscale="log",
        xlabel="subscribers per transport (N)",
        ylabel="deliveries/s (dotted: wanted)",
        title="Delivered events/s, both transports",
    )
    right.set(
        xscale="log",
        yscale="log",
        xlabel="subscribers per transport (N)",
        ylabel="p99 latency (ms)",
        title="p99 delivery latency",
    )
    left.legend()
    right.legend(fontsize=7)
    return save(figure, "fanout.svg")


if __name__ == "__main__":
    main()
