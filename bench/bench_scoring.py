"""Benchmark of the scoring engine and of POST /api/assessments/ on daphne.

Run by hand with `make bench` (never part of the test suite). Writes its
figures to docs/benchmarks.md, replacing the section it owns.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import time

import httpx
from common import daphne_server, machine, write_section

from questionnaire.catalogue import get_catalogue
from questionnaire.scoring import evaluate

RUNS = 5


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
    with daphne_server() as base:
        url = f"{base}/api/assessments/"
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


def main() -> None:
    catalogue = get_catalogue()
    rng = random.Random(20261125)
    presets = [dict(preset.answers) for preset in catalogue.presets]
    randoms = [random_answers(catalogue, rng) for _ in range(200)]

    full = time_per_call(lambda a: evaluate(catalogue, a), presets + randoms, 5)
    no_flips = time_per_call(lambda a: evaluate(catalogue, a, with_flips=False), randoms, 10)
    api_rows = api_benchmark(catalogue)

    lines = [
        "## Scoring engine and assessment API",
        "",
        f"Run `make bench` ({machine()}). "
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
    ]
    write_section("bench_scoring", lines)


if __name__ == "__main__":
    main()
