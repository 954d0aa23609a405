"""Before and after the renders cache and the render pool, in one run, on daphne.

Three figures (docs/caching.md says what changed):

- the result page of one revision requested again and again: requests/s
  with 1 and 10 users (closed loop, keep-alive, bench_advisor's client);
- `report.pdf` of a revision already rendered: median and p95 over HTTP,
  one request at a time;
- 10 people downloading 10 different new revisions at once: seconds until
  the last PDF arrives (no cache can help: each is a first render, and the
  rows that measure it render nothing in advance);
- the first download of a new assessment, a second after it was saved:
  median over HTTP (a render, or with reports rendered in advance, the
  cache).

`--before PATH` serves a checkout of the code before the change (with its
own code, this virtualenv) in the same run; the servers take turns within
each run (before, after, after with `--workers` workers), so a noisy
neighbour on the machine weighs on all of them alike. Run by hand with
`make bench-cache` or `python bench/bench_cache.py --before ../main`;
writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import time
from pathlib import Path

import httpx
import psutil
from bench_advisor import Target, load, request_bytes
from common import ROOT, machine, percentile, write_section
from servers import app_database, our_app

USERS = (1, 10)
DOWNLOADS = 10
# First downloads, each this long after its assessment was saved.
FIRSTS = 5
AFTER_SAVE = 1.0
IN_ADVANCE = "after, rendered in advance"


def create(base: str, rng: random.Random, count: int) -> list[str]:
    """Ids of ``count`` new assessments with distinct random answers.

    The answers come from the catalogue of the server under test (its
    `GET /api/questions/`): the code before a change may know another
    catalogue version than this checkout's.
    """
    served = httpx.get(f"{base}/api/questions/", timeout=30).json()
    questions = [
        (question["slug"], [option["value"] for option in question["options"]])
        for section in served["sections"]
        for question in section["questions"]
    ]
    ids = []
    for number in range(count):
        body = {
            "title": f"bench {number} {rng.random():.6f}",
            "answers": {slug: rng.choice(values) for slug, values in questions},
        }
        ids.append(httpx.post(f"{base}/api/assessments/", json=body, timeout=30).json()["id"])
    return ids


async def timed(client: httpx.AsyncClient, path: str) -> float:
    start = time.perf_counter()
    response = await client.get(path)
    assert response.status_code == 200, (response.status_code, response.text[:200])
    return time.perf_counter() - start


async def downloads(base: str, ids: list[str]) -> float:
    """Seconds from sending DOWNLOADS report requests at once until the last PDF is in."""
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        start = time.perf_counter()
        await asyncio.gather(*(timed(client, f"/assessments/{pk}/report.pdf") for pk in ids))
        return time.perf_counter() - start


async def rendered(base: str, pk: str, count: int) -> list[float]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        await timed(client, f"/assessments/{pk}/report.pdf")  # the one render
        return [await timed(client, f"/assessments/{pk}/report.pdf") for _ in range(count)]


async def first_downloads(base: str, rng) -> list[float]:
    """Seconds of each first download of a new assessment, AFTER_SAVE after its save."""
    found = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for _ in range(FIRSTS):
            [pk] = await asyncio.to_thread(create, base, rng, 1)
            await asyncio.sleep(AFTER_SAVE)
            found.append(await timed(client, f"/assessments/{pk}/report.pdf"))
    return found


def measure(
    root: Path, env: dict[str, str], database: str, seconds: float, rng, *, only_first=False
) -> dict:
    with our_app("daphne", database, rate=0, root=root, extra_env=env) as server:
        base = server.url
        if only_first:
            # A first render warms the renderer (fonts; the pool's workers).
            asyncio.run(downloads(base, create(base, rng, 1)))
            return {"first": asyncio.run(first_downloads(base, rng))}
        port = int(base.rsplit(":", 1)[1])
        # A first render warms the renderer (fonts) and waits for the pool's
        # workers, whose start would otherwise take CPU from the page's figures.
        asyncio.run(downloads(base, create(base, rng, 1)))
        page = f"/assessments/{create(base, rng, 1)[0]}/"
        target = Target("result", "result page", [request_bytes("GET", page, port)], 200)
        figures: dict = {}
        asyncio.run(load(port, target, 1, seconds=0.5, count=0))  # warm-up
        process = psutil.Process(server.pid)
        for users in USERS:
            cpu = sum(process.cpu_times()[:2])
            wall, latencies = asyncio.run(load(port, target, users, seconds=seconds, count=0))
            figures[f"page_{users}"] = len(latencies) / wall
            # Server CPU per request: steadier than requests/s on a busy machine.
            figures[f"cpu_{users}"] = (sum(process.cpu_times()[:2]) - cpu) / len(latencies)
        # The floor: a request through Django that reads nothing (a cached
        # document), with 10 users like the page's second figure.
        floor = Target("floor", "questions", [request_bytes("GET", "/api/questions/", port)], 200)
        cpu = sum(process.cpu_times()[:2])
        wall, latencies = asyncio.run(load(port, floor, 10, seconds=seconds, count=0))
        figures["floor"] = len(latencies) / wall
        figures["floor_cpu"] = (sum(process.cpu_times()[:2]) - cpu) / len(latencies)
        figures["pdf_cached"] = asyncio.run(rendered(base, page.split("/")[2], 20))
        figures["downloads"] = asyncio.run(downloads(base, create(base, rng, DOWNLOADS)))
        figures["first"] = asyncio.run(first_downloads(base, rng))
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default="", help="a checkout of the code before the change")
    parser.add_argument(
        "--before-name", default="", help="what the before code is (default: its git commit)"
    )
    parser.add_argument("--workers", type=int, default=2, help="ADVISOR_REPORT_WORKERS variant")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one short run (development)")
    args = parser.parse_args()
    runs, seconds = (1, 0.5) if args.quick else (args.runs, 2.0)
    servers: dict[str, tuple[Path, dict[str, str]]] = {}
    if args.before:
        servers["before"] = (Path(args.before).resolve(), {})
    # Nothing rendered in advance: each new PDF is a first render.
    servers["after"] = (ROOT, {"ADVISOR_REPORT_PRERENDER": "0"})
    servers[f"after, {args.workers} workers"] = (
        ROOT,
        {"ADVISOR_REPORT_WORKERS": str(args.workers), "ADVISOR_REPORT_PRERENDER": "0"},
    )
    # The default: reports rendered when saved; only the first download is measured.
    servers[IN_ADVANCE] = (ROOT, {})
    rng = random.Random(20261130)
    results: dict[str, list[dict]] = {label: [] for label in servers}
    started = time.perf_counter()
    with app_database() as database:
        for run in range(runs):
            # Taking turns, in a different order each run.
            labels = list(servers)
            labels = labels[run % len(labels) :] + labels[: run % len(labels)]
            for label in labels:
                root, env = servers[label]
                figures = measure(
                    root, env, database, seconds, rng, only_first=label == IN_ADVANCE
                )
                results[label].append(figures)
                print(f"run {run + 1}, {label}: {summary(figures)}", flush=True)
    if args.quick:
        return
    report(args, servers, results, runs, seconds, time.perf_counter() - started)


def summary(figures: dict) -> str:
    first = f"first download {statistics.median(figures['first']) * 1000:.1f} ms"
    if "page_1" not in figures:
        return first
    return (
        f"page {figures['page_1']:.0f}/s (1 user), {figures['page_10']:.0f}/s (10 users), "
        f"{figures['cpu_10'] * 1000:.2f} ms server CPU/request; "
        f"GET /api/questions/ {figures['floor']:.0f}/s, {figures['floor_cpu'] * 1000:.2f} ms; "
        f"rendered PDF median {statistics.median(figures['pdf_cached']) * 1000:.1f} ms; "
        f"{DOWNLOADS} new PDFs at once {figures['downloads']:.2f} s; {first}"
    )


def report(args, servers, results, runs: int, seconds: float, elapsed: float) -> None:
    def median(label: str, key: str) -> float:
        return statistics.median(run[key] for run in results[label])

    def latency(label: str, share: float, key: str = "pdf_cached") -> float:
        return statistics.median(percentile(run[key], share) for run in results[label])

    lines = [
        "## Renders cache and render pool: before and after",
        "",
        f"Run `python bench/bench_cache.py --before <checkout>` ({machine()}), "
        f"{elapsed:.0f} s. One daphne process (SQLite, `DJANGO_DEBUG=0`, no Redis: the "
        "in-memory renders cache) per row, the load client on the same two cores. The "
        "servers took turns within each of "
        f"{runs} runs (a different order each run) on this machine, other jobs stopped; "
        f"medians of the runs. Result page: {seconds} s of closed-loop requests of one "
        "anonymous assessment's page per cell; `GET /api/questions/` (a cached document, "
        "no database) the same way with 10 users: what any request through Django costs on "
        "that server, a floor for the page. Rendered PDF: 20 downloads one after the "
        f"other of a report already made. {DOWNLOADS} new PDFs: {DOWNLOADS} new assessments "
        "(random answers), their reports requested at once. Each server first renders one "
        "report, which warms the renderer and waits for the pool's workers to start. First "
        "download: "
        f"{FIRSTS} new assessments one after the other, each downloaded {AFTER_SAVE:g} s "
        f"after its save; *{IN_ADVANCE}* is the default (`ADVISOR_REPORT_PRERENDER=1`), "
        "the other *after* rows render nothing in advance, and only this figure is "
        "measured on it.",
        "",
        "| server | result page, 1 user | 10 users | server CPU/request (10 users) "
        "| `GET /api/questions/`, 10 users | its CPU/request "
        f"| rendered PDF p50 | p95 | {DOWNLOADS} new PDFs at once "
        f"| first download {AFTER_SAVE:g} s after its save, p50 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label in servers:
        first = f"{latency(label, 0.5, 'first') * 1000:.1f} ms"
        if label == IN_ADVANCE:
            lines.append(f"| {label} | | | | | | | | | {first} |")
            continue
        lines.append(
            f"| {label} | {median(label, 'page_1'):,.0f}/s | {median(label, 'page_10'):,.0f}/s "
            f"| {median(label, 'cpu_10') * 1000:.2f} ms "
            f"| {median(label, 'floor'):,.0f}/s | {median(label, 'floor_cpu') * 1000:.2f} ms "
            f"| {latency(label, 0.5) * 1000:.1f} ms | {latency(label, 0.95) * 1000:.1f} ms "
            f"| {median(label, 'downloads'):.2f} s | {first} |"
        )
    if "before" in servers:
        before = results["before"]
        commit = (
            args.before_name
            or subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                cwd=servers["before"][0],
                capture_output=True,
                text=True,
            ).stdout.strip()
            or f"`{servers['before'][0]}`"
        )
        page = max(median("after", f"page_{u}") / median("before", f"page_{u}") for u in USERS)
        pdf = latency("after", 0.5)
        sooner = {
            label: median("before", "downloads") / median(label, "downloads")
            for label in servers
            if label not in ("before", IN_ADVANCE)
        }
        lines += [
            "",
            f"The before row: the server of {commit} (`--before`), in the same run "
            f"({len(before)} runs).",
            "",
            "Targets: result page at least 4x: "
            + ", ".join(
                f"{median('after', f'page_{u}') / median('before', f'page_{u}'):.1f}x at "
                f"{u} user{'s' if u > 1 else ''}"
                for u in USERS
            )
            + f" ({'met' if page >= 4 else 'missed'}; server CPU per request "
            f"{median('before', 'cpu_10') / median('after', 'cpu_10'):.1f}x less); "
            "rendered `report.pdf` under 20 ms: "
            f"{pdf * 1000:.1f} ms ({'met' if pdf < 0.02 else 'missed'}); {DOWNLOADS} new "
            "PDFs at least 1.6x sooner: "
            + ", ".join(f"{ratio:.2f}x ({label})" for label, ratio in sooner.items())
            + ".",
        ]
    page = (
        "The `GET /api/questions/` column is a floor: 4x the before row at 10 users would be "
        f"{4 * median('before', 'page_10'):,.0f}/s, while a request through Django that "
        f"reads nothing at all served {median('after', 'floor'):,.0f}/s on the same server. "
        "Caching the whole page per viewer, with every input above in its key, is what "
        "would be left to try (docs/caching.md says why it is not done). "
        if "before" in servers
        else ""
    )
    lines += [
        "",
        "Reading it: *after* is the default pool (`ADVISOR_REPORT_WORKERS` = cores - 1, so one "
        f"worker on two cores); *after, {args.workers} workers* renders two PDFs at once, which "
        "pays only when a core is free: on a machine whose other jobs keep both cores busy, "
        "the two workers, the server and the client share them. The rendered PDF comes from "
        "the renders cache (no render). The result page takes its snapshot from the cache; "
        "what is left is Django's request path (kept request threads now spare each request "
        "a new thread and, on SQLite, a new connection: `serving/handlers.py`), the access "
        "check and the reads of what may have changed since the revision was made (the "
        "assessment, its revisions, the workload runs, the decision), and the page rendered "
        "around the snapshot (header, decision panel, revisions). "
        + page
        + "New PDFs: a render costs less CPU than before (WeasyPrint's default stylesheet "
        "cut to what a report uses; no garbage collection during a render), plus handing the "
        "HTML over and the PDF back: one worker renders one report at a time as the old "
        "thread did; two render two at once, which pays when the second core is free (load "
        f"average {os.getloadavg()[0]:.1f} at the end of this run). On two cores set "
        "`ADVISOR_REPORT_WORKERS=2`. First download: without rendering in advance it waits "
        "for its render; rendered when saved (questionnaire/prerender.py, on an idle worker "
        "only), it comes from the cache a second later.",
    ]
    lines += ["", "Each run:", ""]
    for label, figures in results.items():
        lines += [f"- {label}, run {n}: {summary(run)}" for n, run in enumerate(figures, 1)]
    write_section("bench_cache", lines)


if __name__ == "__main__":
    main()
