"""Benchmark of the PDF recommendation report: the render, and GET report.pdf on daphne.

Run by hand with `make bench` (never part of the test suite). Writes its
figures to docs/benchmarks.md, replacing the section it owns.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import time
from datetime import UTC, datetime

import httpx
import weasyprint
from common import machine, percentile, write_section
from pypdf import PdfReader
from servers import app_database, our_app

from questionnaire import report
from questionnaire.catalogue import get_catalogue
from questionnaire.models import Assessment, Revision
from questionnaire.scoring import evaluate

RENDERS = 30
WARM_UP = 3
REQUESTS = 20


def preset_context(catalogue, preset) -> dict:
    """The report context of a one-revision assessment of ``preset``, with no database."""
    assessment = Assessment(title=preset.title)
    revision = Revision(
        assessment=assessment,
        number=1,
        catalogue_version=catalogue.version,
        answers=dict(preset.answers),
        result=evaluate(catalogue, preset.answers).to_dict(),
        created_at=datetime.now(UTC),
    )
    return report.report_context(revision.display_title, [revision], revision)


def time_renders(context: dict, paper: str) -> tuple[list[float], int]:
    """Seconds per render of RENDERS renders after WARM_UP, and the page count."""
    for _ in range(WARM_UP):
        pdf = report.render_report(context, paper)
    samples = []
    for _ in range(RENDERS):
        start = time.perf_counter()
        report.render_report(context, paper)
        samples.append(time.perf_counter() - start)
    return samples, len(PdfReader(io.BytesIO(pdf)).pages)


async def timed_get(client: httpx.AsyncClient, url: str) -> float:
    start = time.perf_counter()
    response = await client.get(url)
    assert response.status_code == 200, response.text[:200]
    return time.perf_counter() - start


async def http_load(base: str, report_url: str, page_url: str) -> dict[str, list[float]]:
    """Report latency alone, then a result page's latency alone and during two reports."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for _ in range(WARM_UP):
            await timed_get(client, report_url)
            await timed_get(client, page_url)
        alone = [await timed_get(client, report_url) for _ in range(REQUESTS)]
        page_alone = [await timed_get(client, page_url) for _ in range(REQUESTS)]
        page_during = []
        for _ in range(REQUESTS // 2):
            renders = [asyncio.create_task(timed_get(client, report_url)) for _ in range(2)]
            await asyncio.sleep(0.02)  # let both renders start
            page_during.append(await timed_get(client, page_url))
            await asyncio.gather(*renders)
    return {"report": alone, "page": page_alone, "page_during": page_during}


def http_benchmark(catalogue) -> dict[str, list[float]]:
    """GET report.pdf and the result page against a real daphne process."""
    with app_database() as database, our_app("daphne", database, rate=0) as server:
        base = server.url
        preset = catalogue.preset("dashboard")
        body = {"title": preset.title, "answers": dict(preset.answers)}
        created = httpx.post(f"{base}/api/assessments/", json=body, timeout=10).json()
        page_url = f"/assessments/{created['id']}/"
        return asyncio.run(http_load(base, page_url + "report.pdf", page_url))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> None:
    catalogue = get_catalogue()
    rows = []
    everything = []
    for preset in catalogue.presets:
        context = preset_context(catalogue, preset)
        samples, pages = time_renders(context, report.DEFAULT_PAPER)
        everything += samples
        rows.append((preset.slug, samples, pages))
        print(f"{preset.slug}: median {ms(statistics.median(samples))}, {pages} pages")
    letter, letter_pages = time_renders(preset_context(catalogue, catalogue.presets[0]), "letter")
    http = http_benchmark(catalogue)

    lines = [
        "## PDF recommendation report",
        "",
        f"Run `make bench` ({machine(f'WeasyPrint {weasyprint.__version__}')}). "
        "`render_report()` (template, layout, "
        f"PDF) of each preset's report, {RENDERS} renders after {WARM_UP} warm-up ones, "
        "A4, in one thread:",
        "",
        "| preset | pages | median | p95 |",
        "| --- | --- | --- | --- |",
        *(
            f"| {slug} | {pages} | {ms(statistics.median(samples))} | "
            f"{ms(percentile(samples, 0.95))} |"
            for slug, samples, pages in rows
        ),
        f"| all eight | | {ms(statistics.median(everything))} | "
        f"{ms(percentile(everything, 0.95))} |",
        f"| {catalogue.presets[0].slug}, US Letter | {letter_pages} | "
        f"{ms(statistics.median(letter))} | {ms(percentile(letter, 0.95))} |",
        "",
        "`GET /assessments/<uuid>/report.pdf` on one daphne process (SQLite, "
        "`DJANGO_DEBUG=0`, the dashboard preset), client on the same machine; the result page "
        "alone and while two reports are requested (made in the render pool's worker "
        "processes, not on the event loop; the same report each time, so all but the first "
        f"come from the renders cache: `bench_cache.py` measures new ones), {REQUESTS} "
        "requests each:",
        "",
        "| request | median | p95 |",
        "| --- | --- | --- |",
        *(
            f"| {label} | {ms(statistics.median(http[key]))} | {ms(percentile(http[key], 0.95))} |"
            for key, label in (
                ("report", "report.pdf"),
                ("page", "result page, alone"),
                ("page_during", "result page, during two report requests"),
            )
        ),
    ]
    write_section("bench_report", lines)


if __name__ == "__main__":
    main()
