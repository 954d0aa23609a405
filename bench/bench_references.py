"""Scenario 4, references: the same fan-out from our app under daphne and uvicorn, a bare
Python server, and django-eventstream, in the same run.

Run by hand with `make bench-references`; `--quick` for a short check. Each
server runs its own ticker at R events/s from its first connection (ours:
DEMO_FEED_RATE; the references: the same event shape at the same rate);
N WebSocket + N SSE subscribers (django-eventstream: SSE only, and our
daphne once more with SSE only, to compare like with like) connect under it,
then a warm-up and a measured window. Servers take turns within each run,
so a run's ratios come from the same minutes of this machine.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from common import machine, write_section
from measure import (
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
from servers import app_database, bare, eventstream, our_app, versions

# (label, how to start it, transports)
SERVERS: list[tuple[str, Callable, tuple[str, ...]]] = [
    ("ours, daphne", lambda db, rate: our_app("daphne", db, rate=rate), ("ws", "sse")),
    ("ours, uvicorn", lambda db, rate: our_app("uvicorn", db, rate=rate), ("ws", "sse")),
    ("bare websockets + ASGI", lambda db, rate: bare(rate), ("ws", "sse")),
    ("ours, daphne, SSE only", lambda db, rate: our_app("daphne", db, rate=rate), ("sse",)),
    ("django-eventstream, daphne", lambda db, rate: eventstream(rate), ("sse",)),
]


def main() -> None:
    args = options(
        __doc__.split("\n")[0], n=[1000], rate=10.0, window=5.0, warmup=2.0, budget=220.0
    )
    if args.quick:
        args.runs, args.n, args.window, args.warmup = 1, [300], 3.0, 1.5
    started = time.monotonic()
    results: dict[tuple[str, int], list[Window]] = {}
    ratios: dict[tuple[str, int], list[float]] = {}
    skipped = 0
    with app_database() as database:
        for run in range(args.runs):
            elapsed = time.monotonic() - started
            if run and elapsed * (run + 1) / run > args.budget:
                skipped = args.runs - run
                break
            for n in args.n:
                this_run = {}
                for label, start, transports in SERVERS:
                    with start(database, args.rate) as server:
                        [window] = fanout(
                            server,
                            n,
                            [args.rate],
                            window=args.window,
                            warmup=args.warmup,
                            publish=False,
                            processes=args.processes,
                            transports=transports,
                        )
                    window.server = label
                    this_run[label] = window
                    results.setdefault((label, n), []).append(window)
                    print(
                        f"run {run + 1}: N={n} {label}: {per_second(window.delivered_total)}/s, "
                        f"p99 {both(window, 'p99')}, lost {window.lost}, "
                        f"server {window.server_cpu:.2f} cores, {window.verdict()}"
                    )
                # Ratios within the run: the same minutes of a shared machine.
                pairs = {
                    "ours, daphne": ("ours, daphne", "bare websockets + ASGI"),
                    "ours, uvicorn": ("ours, uvicorn", "bare websockets + ASGI"),
                    "django-eventstream, daphne": (
                        "ours, daphne, SSE only",
                        "django-eventstream, daphne",
                    ),
                }
                for key, (top, bottom) in pairs.items():
                    if this_run[top].capacity and this_run[bottom].capacity:
                        ratios.setdefault((key, n), []).append(
                            this_run[top].capacity / this_run[bottom].capacity
                        )
    medians = {key: median_window(windows) for key, windows in results.items()}
    ratio = {key: statistics.median(values) for key, values in ratios.items()}
    chart = draw(medians, args.n)
    report(args, medians, ratio, skipped, chart)


def report(args, medians, ratio, skipped: int, chart: str) -> None:
    lines = [
        "## Live feed: references in the same run (scenario 4)",
        "",
        f"Run `make bench-references` ({machine(*versions())}). "
        f"Medians of {args.runs - skipped} run(s){' (--quick)' if args.quick else ''}.",
        "",
        f"Each server in turn, in every run: its own ticker at {args.rate:g} events/s from the "
        "first connection, N subscribers per transport connecting under it, a "
        f"{args.warmup:g} s warm-up, a {args.window:g} s window. The same load clients "
        "(see scenario 1) for all. *Bare*: one process, one uvloop loop, a `websockets` "
        "server (`broadcast()`) and a bare ASGI SSE app under uvicorn, no origin check, no "
        "history, no limits: the ceiling of a Python process here "
        "(`bench/reference/bare.py`). *django-eventstream*: its view in a minimal Django "
        "project under daphne, `send_event()` from a ticker on the server's loop, no storage "
        "(`bench/reference/eventstream/`). Uvicorn runs with uvloop and httptools; no "
        "server negotiates permessage-deflate. *Capacity* is deliveries per second of "
        "server CPU (delivered/s / server cores): what one busy core would deliver, the "
        "figure that can be compared when every server keeps up with the offered load.",
        "",
        "| server | N per transport | delivered/s WS / SSE | p50 WS / SSE | p99 WS / SSE "
        "| lost | closed | server CPU | client CPU | machine CPU "
        "| capacity (deliveries per CPU-s) | peak RSS / conn | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (label, n), window in medians.items():
        lines.append(
            f"| {label} | {n:,} | {both(window, 'delivered', per_second)} "
            f"| {both(window, 'p50')} | {both(window, 'p99')} | {window.lost} "
            f"| {window.closed} | {window.server_cpu:.2f} | {window.client_cpu:.2f} "
            f"| {window.machine_cpu:.2f} | {per_second(window.capacity)} "
            f"| {kib(window.rss_per_connection)} | {window.verdict()} |"
        )
    lines += ["", f"![capacity and p99 latency of each server]({chart})", "", "Targets:", ""]
    for n in args.n:
        ours = medians.get(("ours, daphne", n))
        ceiling = ratio.get(("ours, daphne", n))
        versus = ratio.get(("django-eventstream, daphne", n))
        if ours is None or ceiling is None:
            continue
        lines.append(
            f"- N={n:,}: our daphne capacity is {ceiling:.2f} of the bare ceiling's (median of "
            f"the runs' own ratios; at least 0.5: {met(ceiling >= 0.5)}); "
            f"uvicorn's is {ratio.get(('ours, uvicorn', n), 0):.2f}."
        )
        if versus is not None:
            eventstream_window = medians[("django-eventstream, daphne", n)]
            sse_only = medians[("ours, daphne, SSE only", n)]
            above = versus > 1 and sse_only.delivered_total >= eventstream_window.delivered_total
            lines.append(
                f"- N={n:,} SSE only: our daphne capacity is {versus:.2f}x django-eventstream's, "
                f"p99 {ms(sse_only.p99.get('sse'))} against "
                f"{ms(eventstream_window.p99.get('sse'))}, lost {sse_only.lost} against "
                f"{eventstream_window.lost} (above it: {met(above)})."
            )
    if skipped:
        lines += ["", f"Time budget ({args.budget:.0f} s) reached: {skipped} run(s) skipped."]
    write_section("bench_references", lines)


def draw(medians: dict[tuple[str, int], Window], ns: list[int]) -> str:
    plt = pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    n = ns[0]
    labels = [label for label, size in medians if size == n]
    windows = [medians[(label, n)] for label in labels]
    positions = range(len(labels))
    left.barh(positions, [w.capacity for w in windows], color="#4878a8")
    left.set(
        yticks=list(positions),
        yticklabels=labels,
        xlabel="deliveries per second of server CPU",
        title=f"Capacity (N={n:,} per transport)",
    )
    left.invert_yaxis()
    width = 0.4
    for offset, transport in ((-width / 2, "ws"), (width / 2, "sse")):
        right.barh(
            [p + offset for p in positions],
            [w.p99.get(transport) or 0 for w in windows],
            height=width,
            label="WebSocket" if transport == "ws" else "SSE",
        )
    right.axvline(100, color="red", linestyle="--", linewidth=0.8, label="100 ms")
    right.set(yticks=list(positions), yticklabels=[""] * len(labels), xlabel="p99 latency (ms)")
    right.set_title("p99 delivery latency")
    right.invert_yaxis()
    right.legend(fontsize=7)
    return save(figure, "references.svg")


if __name__ == "__main__":
    main()
