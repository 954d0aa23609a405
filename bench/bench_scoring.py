"""Benchmark of the scoring engine and of POST /api/assessments/ on daphne.

Run by hand with `make bench` (never part of the test suite). Writes its
figures to docs/benchmarks.md, replacing the section it owns.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "advisor.settings")
django.setup()

import logging  # noqa: E402

import httpx  # noqa: E402

from questionnaire.catalogue import get_catalogue  # noqa: E402
from questionnaire.scoring import evaluate  # noqa: E402

RUNS = 5
SECTION_START = "<!-- bench_scoring:start -->"
SECTION_END = "<!-- bench_scoring:end -->"


def random_answers(catalogue, rng: random.Random) -> dict[str, str]:
    return {question.slug: rng.choice(question.values) for question in catalogue.questions}


def time_per_call(function, arguments, repeat: int) -> float:
    """Median over RUNS of the mean seconds per call."""
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(repeat):
            for argument in arguments:
                function(argument)
        samples.append((time.perf_counter() - start) / (repeat * len(arguments)))
    return statistics.median(samples)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def post_load(url: str, body: dict, total: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    counter = itertools.count()
    async with httpx.AsyncClient(timeout=30) as client:

        async def worker() -> None:
            while next(counter) < total:
                start = time.perf_counter()
                response = await client.post(url, json=body)
                latencies.append(time.perf_counter() - start)
                assert response.status_code == 201, response.text

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        latencies.append(-(time.perf_counter() - started))  # wall time, marked negative
    return latencies


def api_benchmark(catalogue) -> list[tuple[int, float, float, float]]:
    """(concurrency, requests/s, p50 ms, p99 ms) against a real daphne process."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "bench",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True
        )
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "advisor.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}/api/assessments/"
            for _ in range(100):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/api/questions/", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            body = {"title": "bench", "answers": dict(catalogue.preset("dashboard").answers)}
            rows = []
            for concurrency in (1, 10, 50):
                asyncio.run(post_load(url, body, 50, concurrency))  # warm-up
                rates, p50s, p99s = [], [], []
                for _ in range(3):
                    latencies = asyncio.run(post_load(url, body, 500, concurrency))
                    wall = -latencies.pop()
                    latencies.sort()
                    rates.append(len(latencies) / wall)
                    p50s.append(latencies[len(latencies) // 2] * 1000)
                    p99s.append(latencies[int(len(latencies) * 0.99)] * 1000)
                rows.append(
                    (
                        concurrency,
                        statistics.median(rates),
                        statistics.median(p50s),
                        statistics.median(p99s),
                    )
                )
            return rows
        finally:
            server.terminate()
            server.wait(timeout=10)


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    catalogue = get_catalogue()
    rng = random.Random(20261125)
    presets = [dict(preset.answers) for preset in catalogue.presets]
    randoms = [random_answers(catalogue, rng) for _ in range(200)]

    full = time_per_call(lambda a: evaluate(catalogue, a), presets + randoms, 5)
    no_flips = time_per_call(lambda a: evaluate(catalogue, a, with_flips=False), randoms, 10)
    api_rows = api_benchmark(catalogue)

    lines = [
        SECTION_START,
        "## Scoring engine and assessment API",
        "",
        f"Run `make bench` ({time.strftime('%Y-%m-%d')}, Python {platform.python_version()}, "
        f"Django {django.get_version()}, {os.cpu_count()} cores, {platform.machine()}). "
        f"Medians of {RUNS} runs for the engine, of 3 runs for the API.",
        "",
        "| what | time per call |",
        "| --- | --- |",
        f"| `evaluate()` with flips (8 presets + 200 random answer sets) | {full * 1e6:,.0f} µs |",
        f"| `evaluate()` without flips (the live leaning panel) | {no_flips * 1e6:,.0f} µs |",
        "",
        "The flip search (fewest answer changes that reverse the verdict) is most of a full "
        "evaluation; the test suite checks it against a brute-force search.",
        "",
        "`POST /api/assessments/` on one daphne process (SQLite, `DJANGO_DEBUG=0`), "
        "load client (httpx, asyncio) on the same machine, 500 requests per run:",
        "",
        "| concurrency | requests/s | p50 | p99 |",
        "| --- | --- | --- | --- |",
        *(
            f"| {c} | {rate:,.0f} | {p50:.1f} ms | {p99:.1f} ms |"
            for c, rate, p50, p99 in api_rows
        ),
        SECTION_END,
    ]
    section = "\n".join(lines)
    target = ROOT / "docs" / "benchmarks.md"
    target.parent.mkdir(exist_ok=True)
    text = (
        target.read_text()
        if target.exists()
        else "# Benchmarks\n\nFigures measured on this machine by the scripts in `bench/`; "
        "`make bench` rewrites them.\n"
    )
    if SECTION_START in text:
        head, rest = text.split(SECTION_START, 1)
        text = head + section + rest.split(SECTION_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    target.write_text(text)
    print(section)


if __name__ == "__main__":
    main()
