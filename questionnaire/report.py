"""The recommendation report: one revision of an assessment as a PDF for a design review.

The report shows what the result page shows (``display.result_context``: the
stored snapshot, in the words of the catalogue it was scored with, the same
inline SVG chart), led by an executive summary composed from that snapshot.
Rendering takes already loaded data and never touches the database, so the
view runs it in a worker thread, off the event loop.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils.text import slugify
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from .catalogue import Catalogue
from .display import result_context
from .models import Revision
from .scoring import other_transport

# The accepted values of ``?paper=``, with their CSS page sizes.
PAPER_SIZES = {"a4": "A4", "letter": "letter"}
DEFAULT_PAPER = "a4"
FILENAME_SUFFIX = "-websocket-vs-sse.pdf"
SHORT_NAMES = {"websocket": "WebSocket", "sse": "SSE"}
STYLESHEET = "css/report.css"
TEMPLATE = "questionnaire/report.html"
# Room for a readable file name; titles may be 200 characters long.
SLUG_LENGTH = 80
# Counts in the executive summary read as words up to twenty.
NUMBERS = (
    *("none", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen", "twenty"),
)


def _render_pool() -> ThreadPoolExecutor:
    # One render at a time: a render is mostly Python, so a second thread would
    # add little throughput and take the GIL from the event loop twice as often.
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-render")


# Renders run here, never on the event loop nor in a thread that sync views share.
RENDER_THREADS = _render_pool()


def _new_pool_after_fork() -> None:
    # A forked child (a test's live daphne server) inherits the pool but not its
    # thread; the old pool would then take renders and never run them.
    global RENDER_THREADS
    RENDER_THREADS = _render_pool()


os.register_at_fork(after_in_child=_new_pool_after_fork)


def report_filename(title: str) -> str:
    """``<title-slug>-websocket-vs-sse.pdf``, or ``assessment-...`` when nothing is left."""
    slug = slugify(title)[:SLUG_LENGTH].strip("-_")
    return f"{slug or 'assessment'}{FILENAME_SUFFIX}"


def report_context(title: str, revisions: list[Revision], revision: Revision) -> dict:
    """Everything the report template needs, from revisions already loaded."""
    context = result_context(revisions, revision)
    result, catalogue = context["result"], context["catalogue"]
    chosen = result["recommendation"]
    other = other_transport(chosen)
    return {
        **context,
        "title": title,
        "recommended": SHORT_NAMES[chosen],
        "alternative": SHORT_NAMES[other],
        "verdict": (
            f"{context['transport_name']} is recommended with {result['confidence']} "
            f"confidence, scoring {result['scores'][chosen]} points to "
            f"{result['scores'][other]} for {SHORT_NAMES[other]}."
        ),
        "summary": executive_summary(result, catalogue),
        "answer_sections": answer_sections(result, catalogue),
        "this_revision": next(
            entry for entry in context["history"] if entry.revision.number == revision.number
        ),
    }


def executive_summary(result: Mapping, catalogue: Catalogue) -> list[str]:
    """Four or five sentences a manager can read alone, composed from the stored result.

    The verdict with its confidence and margin, how the answers split and the
    weightiest one, the delivery pattern, the first caveat, and how many
    answer changes would reverse it.
    """
    chosen = result["recommendation"]
    other = other_transport(chosen)
    scores = result["scores"]
    sentences = [
        f"We recommend {catalogue.transport_names[chosen]} with {result['confidence']} "
        f"confidence: it scores {scores[chosen]} points to {scores[other]} for "
        f"{SHORT_NAMES[other]}, a margin of {round(result['margin'] * 100)}% of all points."
    ]
    reasons = result["reasons"]
    favouring = [reason for reason in reasons if reason["favours"] == chosen]
    against = [reason for reason in reasons if reason["favours"] == other]
    sentence = (
        f"Of the {_count(len(reasons))} answers, {_count(len(favouring))} favour "
        f"{SHORT_NAMES[chosen]} ({_points(favouring)}) and "
        + (
            f"{_count(len(against))} {SHORT_NAMES[other]} ({_points(against)})"
            if against
            else f"none favours {SHORT_NAMES[other]}"
        )
    )
    if favouring:
        strongest = favouring[0]
        sentence += (
            f"; the weightiest is “{strongest['answer_label']}”, because "
            f"{_lower_first(_first_sentence(strongest['reason']))}"
        )
    sentences.append(sentence + ("" if sentence.endswith(".") else "."))
    sentences.append(f"The delivery pattern to build is “{result['pattern']['title']}”.")
    if result["caveats"]:
        first = result["caveats"][0]["title"]
        more = len(result["caveats"]) - 1
        also = f", one of {_count(more + 1)} listed in section 4" if more else ""
        sentences.append(f"The first caveat to plan for: {_lower_first(first)}{also}.")
    if not result["flips"]:
        sentences.append("No change of answers would reverse the verdict.")
    else:
        changes = result["flips"][0]["changes"]
        if len(changes) == 1:
            change = changes[0]
            sentences.append(
                f"One changed answer would reverse it: “{change['question_text']}” "
                f"answered “{change['to_label']}” instead of “{change['from_label']}”."
            )
        else:
            sentences.append(
                f"Reversing it would take at least {_count(len(changes))} changed answers "
                "at once (section 4)."
            )
    return sentences


def answer_sections(result: Mapping, catalogue: Catalogue) -> list[tuple[str, list[dict]]]:
    """Every answered question, numbered, grouped by section in the catalogue's order."""
    order = {question.slug: index for index, question in enumerate(catalogue.questions)}
    grouped: dict[str, list[dict]] = {section.slug: [] for section in catalogue.sections}
    for reason in sorted(result["reasons"], key=lambda r: order.get(r["question"], len(order))):
        grouped.setdefault(reason["section"], []).append(reason)
    number = 0
    sections = []
    for slug, reasons in grouped.items():
        if not reasons:
            continue
        section = catalogue.section(slug)
        numbered = []
        for reason in reasons:
            number += 1
            numbered.append({**reason, "number": number})
        sections.append((section.title if section else slug.capitalize(), numbered))
    return sections


def render_report(context: Mapping, paper: str = DEFAULT_PAPER) -> bytes:
    """The PDF of a report context; no database, no network, safe in a worker thread."""
    html = render_to_string(TEMPLATE, {**context, "page_size": PAPER_SIZES[paper]})
    document = HTML(string=html, url_fetcher=local_fetcher())
    return document.write_pdf(stylesheets=[_stylesheet()], font_config=_font_config())


def local_fetcher() -> URLFetcher:
    """A fetcher that refuses anything but ``data:`` and local ``file:`` URLs.

    A new one per render: WeasyPrint's fetcher keeps per-request state.
    """
    return URLFetcher(allowed_protocols={"data", "file"})


@cache
def _stylesheet() -> CSS:
    # Read from the static folder on disk and parsed once per process (restart
    # to see an edit); never fetched over HTTP.
    return CSS(filename=finders.find(STYLESHEET), url_fetcher=local_fetcher())


_per_thread = threading.local()


def _font_config() -> FontConfiguration:
    # Reused, its Pango font map keeps loaded fonts warm (about a tenth of a
    # render); one per thread, as Pango's font maps are not for sharing.
    if not hasattr(_per_thread, "fonts"):
        _per_thread.fonts = FontConfiguration()
    return _per_thread.fonts


def _first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return head + dot.strip()


def _lower_first(text: str) -> str:
    """Lower-case a leading ordinary word ("Nothing"), never a name ("SSE", "EventSource")."""
    word = text.split(" ", 1)[0]
    if word[1:] == word[1:].lower() and word[:1].isupper():
        return text[0].lower() + text[1:]
    return text


def _points(reasons: list[Mapping]) -> str:
    total = sum(reason["points"] for reason in reasons)
    return f"{total} point{'' if total == 1 else 's'}"


def _count(number: int) -> str:
    return NUMBERS[number] if number < len(NUMBERS) else str(number)
