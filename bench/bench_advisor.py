"""Benchmark of the advisor's pages and API under concurrency 1, 10 and 50.

The questionnaire pages, GET /api/questions/, POST /api/assessments/ and the
PDF export, on one daphne process and on one uvicorn process serving the same
app. Run by hand with `make bench-advisor` (never part of the test suite);
`--quick` runs a short version for development. Writes its figures to
docs/benchmarks.md and its charts to docs/bench/advisor-*.svg.

The load client is a small asyncio HTTP/1.1 client over keep-alive
connections, one per concurrent user: it sends prepared bytes and reads each
response by its Content-Length, so that it takes as little as possible of
the two cores it shares with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import ssl
import statistics
import time
from dataclasses import dataclass, field

import daphne
import httpx
import psutil
import uvicorn
from common import machine, percentile, write_section
from measure import pyplot as load_pyplot
from measure import save
from servers import app_database, our_app

from questionnaire.catalogue import get_catalogue

CONCURRENCIES = (1, 10, 50)
# What the profile of the server under load found, and what was done about it:
# a fixed record (the code it describes before the changes no longer exists).
ANALYSIS = [
    "### Where a `POST /api/assessments/` goes",
    "",
    "Profiled on 2026-11-26 with py-spy (`record --gil`, 10 users, 6 s); before and "
    "after measured by this script back to back on the same code otherwise (commit "
    "f20516f with and without the fixes). The machine is shared with other jobs: the "
    "same cell varies by up to 20-30% between runs, so compare within a run. Four "
    "findings were fixed:",
    "",
    "- **Middleware thread hops.** Under ASGI Django runs every `process_request`, "
    "`process_view` and `process_response` of its own middleware through `sync_to_async`: "
    "ten round trips to the request's worker thread per request. "
    "`serving/middleware.py` runs those hooks on the event loop, and still in the thread "
    "where they touch the database (a session save, stored messages). "
    "`GET /api/questions/` went from 2.3-3.8 ms to 1.3-1.6 ms of server CPU "
    "(290-450 to 650-800 requests/s); the pages gained 0-75% (noisy; the result page, "
    "mostly template rendering, least).",
    "- **A checkpoint per request.** Django opens and closes a database connection per "
    "request under ASGI; in WAL mode the last connection to close checkpoints and syncs the "
    "database, so with one request at a time each one did. `serving/sqlite_backend` keeps "
    "one idle connection open for the process: create-and-close in process went from "
    "3.7-7.3 ms to 1.9-2.3 ms.",
    "- **Writers sleeping.** Concurrent requests wrote from different threads, and a "
    "writer that finds SQLite's lock taken sleeps 1 to 100 ms before retrying, while the "
    "scoring ran inside the transaction: p99 at 50 users was 2.0-2.1 s. Scoring now runs "
    "before the transaction and the process's writers take turns on a lock "
    "(then in `Assessment.create_scored`; now in `serving/sqlite_backend`, for every "
    "writer): p99 at 50 users 0.44-0.46 s.",
    "- **Two queries fewer.** The new assessment's revision number needs no query, and "
    "the API answers with the revision it just saved instead of reading it back (which "
    "decoded the stored result again).",
    "",
    "Together: 80-143 requests/s (p99 up to 2.1 s) before, 180-218 after, on either "
    "server; 4.7-5.9 ms of server CPU per create instead of 7.6-9.9.",
    "",
    "What is left, as shares of the server's CPU (daphne / uvicorn): the HTTP server and "
    "event loop 21% / 11%; a new thread per request and the three remaining hops to it "
    "(Django's ASGI handler gives every request its own thread, and sends "
    "`request_started`/`request_finished` through it) 16% / 26%; the scoring engine, "
    "mostly its flip search, 16% / 12%; the two inserts in their transaction 12% / 14%; "
    "the rest of Django's handler 11% / 9%; the view's own code (URLs, the document) "
    "8% / 11%; opening the request's connection (Django "
    "registers its SQL functions on each) 7% / 5%; middleware 5% / 7%; JSON 2-3%.",
    "",
    "Why 500 requests/s is out of reach on one process here: a request that does nothing "
    "(`GET /api/questions/`, a cached document) already costs 1.3-1.6 ms of server CPU, "
    "and a create adds the flip search (0.7 ms), two inserts (about 0.6 ms) and a new "
    "connection (about 0.3 ms): about 3 ms at best against the 2 ms that 500/s allows, "
    "with the load client on the same two cores. An async view would not help: Django "
    "still runs the signal receivers in the request's thread, and the two inserts must "
    "share one transaction, which the async ORM cannot do, so the hops stay. uvicorn "
    "spends half what daphne does on HTTP and more on the thread hops; the ratios above "
    "say how the two compare in each run. More throughput means more processes "
    "(README, *Scaling past one process*), or a cheaper flip search.",
]
# Requests per PDF run: the same report each time, made once and then served
# from the renders cache (bench_cache.py measures new reports).
PDF_REQUESTS = {1: 8, 10: 20, 50: 50}


@dataclass(frozen=True)
class Target:
    """One thing to load: a label, and the requests (raw bytes) to cycle through."""

    key: str
    label: str
    requests: list[bytes]
    status: int
    # The PDF takes a few hundred milliseconds: loaded by count, not by time.
    slow: bool = False


@dataclass
class Run:
    rate: float
    latencies: list[float]
    server_cpu: float  # server CPU seconds per request
    client_cpu: float  # client CPU seconds per request


@dataclass
class Result:
    """Medians over the runs of one target at one concurrency on one server."""

    runs: list[Run] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return statistics.median(run.rate for run in self.runs)

    def latency(self, share: float) -> float:
        return statistics.median(percentile(run.latencies, share) for run in self.runs)

    @property
    def server_cpu(self) -> float:
        return statistics.median(run.server_cpu for run in self.runs)

    @property
    def client_cpu(self) -> float:
        return statistics.median(run.client_cpu for run in self.runs)


def request_bytes(method: str, path: str, port: int, body: bytes = b"") -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept: */*"]
    if method == "POST":
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one HTTP/1.1 response (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if length is not None:
        return status, await reader.readexactly(length)
    if not chunked:
        raise ValueError(f"response without length: {head!r}")
    body = bytearray()
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        body += await reader.readexactly(size)
        await reader.readexactly(2)
    await reader.readuntil(b"\r\n")  # the empty trailer
    return status, bytes(body)


async def load(
    port: int,
    target: Target,
    concurrency: int,
    *,
    seconds: float,
    count: int,
    tls: ssl.SSLContext | None = None,
) -> tuple[float, list[float]]:
    """Closed-loop users on keep-alive connections: (wall seconds, latencies).

    Each user sends its next request when the last one is answered, until
    ``seconds`` have passed or, for a slow target, ``count`` requests are sent.
    """
    latencies: list[float] = []
    sent = 0
    connections = [
        await asyncio.open_connection("127.0.0.1", port, ssl=tls) for _ in range(concurrency)
    ]
    started = time.perf_counter()
    deadline = started + seconds

    async def user(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, offset: int
    ) -> None:
        nonlocal sent
        requests = target.requests
        index = offset
        while (sent < count) if target.slow else (time.perf_counter() < deadline):
            sent += 1
            request = requests[index % len(requests)]
            index += concurrency
            start = time.perf_counter()
            writer.write(request)
            status, body = await read_response(reader)
            latencies.append(time.perf_counter() - start)
            if status != target.status:
                raise AssertionError(f"{target.key}: {status} {body[:300]!r}")

    await asyncio.gather(*(user(*connection, n) for n, connection in enumerate(connections)))
    wall = time.perf_counter() - started
    for _, writer in connections:
        writer.close()
    return wall, latencies


def measure(
    port: int, server: psutil.Process, target: Target, concurrency: int, *, seconds: float
) -> Run:
    count = PDF_REQUESTS[concurrency]
    server_before = sum(server.cpu_times()[:2])
    client_before = time.process_time()
    wall, latencies = asyncio.run(load(port, target, concurrency, seconds=seconds, count=count))
    client = time.process_time() - client_before
    server_cpu = sum(server.cpu_times()[:2]) - server_before
    return Run(
        len(latencies) / wall, latencies, server_cpu / len(latencies), client / len(latencies)
    )


def targets(base: str, catalogue, rng: random.Random) -> list[Target]:
    """Every target, after creating the assessment the result page and the PDF show."""
    port = int(base.rsplit(":", 1)[1])
    preset = catalogue.preset("dashboard")
    created = httpx.post(
        f"{base}/api/assessments/",
        json={"title": preset.title, "answers": dict(preset.answers)},
        timeout=10,
    ).json()
    page = f"/assessments/{created['id']}/"
    # Distinct answer sets, so that no cache of a repeated body flatters the figure.
    bodies = [
        json.dumps(
            {
                "title": f"bench {number}",
                "answers": {q.slug: rng.choice(q.values) for q in catalogue.questions},
            }
        ).encode()
        for number in range(500)
    ]

    def get(path: str) -> list[bytes]:
        return [request_bytes("GET", path, port)]

    return [
        Target("home", "home `/`", get("/"), 200),
        Target("wizard", "wizard `/assessments/new/`", get("/assessments/new/"), 200),
        Target("result", "result page `/assessments/<id>/`", get(page), 200),
        Target("questions", "`GET /api/questions/`", get("/api/questions/"), 200),
        Target(
            "create",
            "`POST /api/assessments/`",
            [request_bytes("POST", "/api/assessments/", port, body) for body in bodies],
            201,
        ),
        Target("pdf", "PDF `/assessments/<id>/report.pdf`", get(page + "report.pdf"), 200, True),
    ]


def bench_server(kind: str, runs: int, seconds: float) -> dict[tuple[str, int], Result]:
    """Every target at every concurrency against one fresh server process."""
    results: dict[tuple[str, int], Result] = {}
    with app_database() as database, our_app(kind, database, rate=0) as running:
        base = running.url
        port = int(base.rsplit(":", 1)[1])
        server = psutil.Process(running.pid)
        for target in targets(base, get_catalogue(), random.Random(20261125)):
            # Warm-up: templates compiled, code paths and caches hot.
            measure(port, server, target, 1, seconds=0.3)
            for concurrency in CONCURRENCIES:
                result = results[target.key, concurrency] = Result()
                for _ in range(runs):
                    result.runs.append(measure(port, server, target, concurrency, seconds=seconds))
                print(
                    f"{kind} {target.key} c={concurrency}: {result.rate:,.1f}/s "
                    f"p50 {ms(result.latency(0.5))} p99 {ms(result.latency(0.99))} "
                    f"server {result.server_cpu * 1000:.2f} ms CPU/request",
                    flush=True,
                )
    return results


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds * 1000:,.0f} ms"


def rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 20 else f"{value:.1f}"


def chart(labels: dict[str, str], results: dict[str, dict[tuple[str, int], Result]]) -> list[str]:
    """Requests/s and latency charts under docs/bench/; their paths from docs/."""
    pyplot = load_pyplot()
    keys = list(labels)
    servers = list(results)
    names = []
    width = 0.8 / (len(servers) * len(CONCURRENCIES))
    for kind, ylabel in (("throughput", "requests/s"), ("latency", "p50 and p99 latency (ms)")):
        figure, axes = pyplot.subplots(figsize=(10, 4.5))
        for s, server in enumerate(servers):
            for c, concurrency in enumerate(CONCURRENCIES):
                offset = (s * len(CONCURRENCIES) + c) * width - 0.4 + width / 2
                cells = [results[server][key, concurrency] for key in keys]
                positions = [index + offset for index in range(len(keys))]
                colour = pyplot.get_cmap("Blues" if s == 0 else "Oranges")(0.45 + 0.25 * c)
                label = f"{server}, {concurrency} user{'s' if concurrency > 1 else ''}"
                if kind == "throughput":
                    axes.bar(
                        positions, [cell.rate for cell in cells], width, color=colour, label=label
                    )
                else:
                    p50 = [cell.latency(0.5) * 1000 for cell in cells]
                    p99 = [cell.latency(0.99) * 1000 for cell in cells]
                    axes.bar(positions, p99, width, color=colour, alpha=0.45)
                    axes.bar(positions, p50, width, color=colour, label=label)
        target, text = (500, "POST target") if kind == "throughput" else (300, "PDF target")
        axes.axhline(target, color="grey", linestyle="--", linewidth=0.8)
        axes.annotate(text, (len(keys) - 0.5, target), ha="right", va="bottom", fontsize=7)
        axes.set_yscale("log")
        axes.set_ylabel(ylabel + (" (pale: p99)" if kind == "latency" else ""))
        axes.set_xticks(range(len(keys)), [labels[key] for key in keys], fontsize=8)
        axes.legend(fontsize=7, ncol=2)
        axes.grid(axis="y", which="both", alpha=0.3)
        axes.set_title(f"Advisor pages and API, one server process: {ylabel}")
        figure.tight_layout()
        names.append(save(figure, f"advisor-{kind}.svg"))
        pyplot.close(figure)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short run per cell")
    options = parser.parse_args()
    runs, seconds = (1, 0.4) if options.quick else (3, 1.2)
    started = time.perf_counter()
    results = {
        "daphne": bench_server("daphne", runs, seconds),
        "uvicorn": bench_server("uvicorn", runs, seconds),
    }
    labels = {
        "home": "home",
        "wizard": "wizard",
        "result": "result page",
        "questions": "GET questions",
        "create": "POST assessments",
        "pdf": "PDF",
    }
    if options.quick:
        return  # figures from one short run are for development, not the report
    charts = chart(labels, results)
    titles = {
        "home": "home `/`",
        "wizard": "wizard `/assessments/new/`",
        "result": "result page `/assessments/<id>/`",
        "questions": "`GET /api/questions/`",
        "create": "`POST /api/assessments/`",
        "pdf": "PDF `/assessments/<id>/report.pdf`",
    }
    create = {
        server: max(cells["create", c].rate for c in CONCURRENCIES)
        for server, cells in results.items()
    }
    pdf = results["daphne"]["pdf", 1].latency(0.5)
    versions = machine(f"daphne {daphne.__version__}", f"uvicorn {uvicorn.__version__}")
    lines = [
        "## Advisor pages and API",
        "",
        f"Run `make bench-advisor` ({versions}), "
        f"{time.perf_counter() - started:.0f} s. One server process (SQLite, `DJANGO_DEBUG=0`), "
        "daphne and then uvicorn (uvloop, httptools) serving the same app; the load client "
        "(asyncio, one keep-alive connection per user, each sending its next request when "
        "the last is answered) shares the two cores. "
        f"Medians of {runs} runs of {seconds} s per cell (the PDF: "
        + ", ".join(f"{count} requests at {c}" for c, count in PDF_REQUESTS.items())
        + "). `POST` bodies are 500 distinct random answer sets. *CPU/request* is the "
        "server process's CPU time (user + system) per request.",
        "",
        f"![requests/s]({charts[0]})",
        f"![latency]({charts[1]})",
        "",
        "| request | users | daphne req/s | p50 | p99 | CPU/request "
        "| uvicorn req/s | p50 | p99 | CPU/request |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, title in titles.items():
        for concurrency in CONCURRENCIES:
            cells = []
            for server in ("daphne", "uvicorn"):
                cell = results[server][key, concurrency]
                cells += [
                    rate(cell.rate),
                    ms(cell.latency(0.5)),
                    ms(cell.latency(0.99)),
                    ms(cell.server_cpu),
                ]
            lines.append(f"| {title} | {concurrency} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Targets: `POST /api/assessments/` at least 500 requests/s on one process: "
        f"{'met' if max(create.values()) >= 500 else 'missed'} "
        f"(best {rate(create['daphne'])}/s on daphne, {rate(create['uvicorn'])}/s on uvicorn); "
        f"PDF export under 300 ms median: {'met' if pdf < 0.3 else 'missed'} "
        f"({ms(pdf)} on daphne, one user). The same report each time: made once by the "
        "render pool, then served from the renders cache (docs/caching.md; `bench_cache.py` "
        "measures new reports).",
        "",
        "uvicorn's requests/s as a share of daphne's, same run: "
        + ", ".join(
            f"{labels[key]} "
            + "/".join(
                f"{results['uvicorn'][key, c].rate / results['daphne'][key, c].rate:.2f}"
                for c in CONCURRENCIES
            )
            for key in titles
        )
        + f" (at {'/'.join(map(str, CONCURRENCIES))} users).",
        "",
        *ANALYSIS,
    ]
    write_section("bench_advisor", lines)


if __name__ == "__main__":
    main()
