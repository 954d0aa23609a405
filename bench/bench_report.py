"""Benchmark of the PDF recommendation report: the render, and GET report.pdf on daphne.

Run by hand with `make bench` (never part of the test suite). Writes its
figures to docs/benchmarks.md, replacing the section it owns.
"""

from __future__ import annotations

import asyncio
import io
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "advisor.settings")
django.setup()

import logging  # noqa: E402

import httpx  # noqa: E402
import weasyprint  # noqa: E402
from pypdf import PdfReader  # noqa: E402

from questionnaire import report  # noqa: E402
from questionnaire.catalogue import get_catalogue  # noqa: E402
from questionnaire.models import Assessment, Revision  # noqa: E402
from questionnaire.scoring import evaluate  # noqa: E402

RENDERS = 30
WARM_UP = 3
REQUESTS = 20
SECTION_START = "<!-- bench_report:start -->"
SECTION_END = "<!-- bench_report:end -->"


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
    return report.report_context(assessment.display_title, [revision], revision)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    port = free_port()
    base = f"http://127.0.0.1:{port}"
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
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
            + ["advisor.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    httpx.get(f"{base}/api/questions/", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            preset = catalogue.preset("dashboard")
            body = {"title": preset.title, "answers": dict(preset.answers)}
            created = httpx.post(f"{base}/api/assessments/", json=body, timeout=10).json()
            page_url = f"/assessments/{created['id']}/"
            return asyncio.run(http_load(base, page_url + "report.pdf", page_url))
        finally:
            server.terminate()
            server.wait(timeout=10)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
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
        SECTION_START,
        "## PDF recommendation report",
        "",
        f"Run `make bench` ({time.strftime('%Y-%m-%d')}, Python {platform.python_version()}, "
        f"Django {django.get_version()}, WeasyPrint {weasyprint.__version__}, "
        f"{os.cpu_count()} cores, {platform.machine()}). `render_report()` (template, layout, "
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
        "alone and while two reports are being made (they render one at a time in the "
        f"report's own thread, not on the event loop), {REQUESTS} requests each:",
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
