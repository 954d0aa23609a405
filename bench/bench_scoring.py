"""Benchmark of the scoring engine, in process.

Run by hand with `make bench` (never part of the test suite). Writes its
figures to docs/benchmarks.md, replacing the section it owns. The API that
calls the engine is measured over HTTP by bench_advisor.py.
"""

from __future__ import annotations

import random
import statistics
import time

from common import machine, write_section

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


def main() -> None:
    catalogue = get_catalogue()
    rng = random.Random(20261125)
    presets = [dict(preset.answers) for preset in catalogue.presets]
    randoms = [random_answers(catalogue, rng) for _ in range(200)]

    full = time_per_call(lambda a: evaluate(catalogue, a), presets + randoms, 5)
    no_flips = time_per_call(lambda a: evaluate(catalogue, a, with_flips=False), randoms, 10)

    lines = [
        "## Scoring engine",
        "",
        f"Run `make bench` ({machine()}). Medians of {RUNS} runs, in one process.",
        "",
        "| what | time per call |",
        "| --- | --- |",
        f"| `evaluate()` with flips (8 presets + 200 random answer sets) | {full * 1e6:,.0f} µs |",
        f"| `evaluate()` without flips (the live leaning panel) | {no_flips * 1e6:,.0f} µs |",
        "",
        "The flip search (fewest answer changes that reverse the verdict) is most of a full "
        "evaluation; the test suite checks it against a brute-force search. "
        "`POST /api/assessments/` over HTTP is in *Advisor pages and API*.",
    ]
    write_section("bench_scoring", lines)


if __name__ == "__main__":
    main()
