"""The recommendation report: one revision of an assessment as a PDF for a design review.

The report shows what the result page shows (``display.result_context``: the
stored snapshot, in the words of the catalogue it was scored with, the same
inline SVG chart), led by an executive summary composed from that snapshot.
Rendering takes already loaded data and never touches the database: the
view renders the HTML, and a worker process makes the PDF of it
(``render_pool``), off the event loop.
"""

from __future__ import annotations

import logging
import mimetypes
import re
import threading
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils.text import slugify
from weasyprint import CSS, HTML
from weasyprint import html as weasyprint_html
from weasyprint.css.counters import CounterStyle
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse, URLFetchingError

from .catalogue import Catalogue
from .display import SHORT_NAMES, decision_record, result_context, tie_break_rule
from .models import Revision
from .scoring import other_transport

logger = logging.getLogger(__name__)

# The accepted values of ``?paper=``, with their CSS page sizes.
PAPER_SIZES = {"a4": "A4", "letter": "letter"}
DEFAULT_PAPER = "a4"
FILENAME_SUFFIX = "-websocket-vs-sse.pdf"
STYLESHEET = "css/report.css"
TEMPLATE = "questionnaire/report.html"
# Rules of WeasyPrint's user-agent stylesheet that style a pseudo-element of
# every element (``ReportHTML``), and how many of each it has.
MARKER_RULE = re.compile(r"^::marker \{", re.MULTILINE)
NOTE_RULES = re.compile(r"^::(?:footnote|note)-[a-z-]+ \{[^}]*\}\n", re.MULTILINE)
NOTE_RULE_COUNT = 5
# Room for a readable file name; titles may be 200 characters long.
SLUG_LENGTH = 80
# Counts in the executive summary read as words up to twenty.
NUMBERS = (
    *("none", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen", "twenty"),
)


def title_slug(title: str) -> str:
    """A title for a file name (the PDF's, the ADR's): ``assessment`` when nothing is left."""
    return slugify(title)[:SLUG_LENGTH].strip("-_") or "assessment"


def report_filename(title: str) -> str:
    """``<title-slug>-websocket-vs-sse.pdf``."""
    return f"{title_slug(title)}{FILENAME_SUFFIX}"


def report_context(
    title: str,
    revisions: list[Revision],
    revision: Revision,
    decision: Mapping | None = None,
    *,
    shared: bool = False,
) -> dict:
    """Everything the report template needs, from revisions already loaded.

    ``decision`` is ``decisions.panel_context``'s, loaded beforehand too (None
    outside a workspace): the report states the decision's status, approvals
    and discussion. ``shared``: the report of a share link, which names no
    other assessment (``display.decision_record``).
    """
    context = result_context(revisions, revision)
    result, catalogue = context["result"], context["catalogue"]
    chosen = result["recommendation"]
    other = other_transport(chosen)
    if context["tie"]:
        verdict = (
            f"{context['transport_name']} is recommended on a tie: both transports score "
            f"{_points(result['scores'][chosen])}, and {context['tie_break_rule']}."
        )
    else:
        verdict = (
            f"{context['transport_name']} is recommended with {result['confidence']} "
            f"confidence, scoring {result['scores'][chosen]} points to "
            f"{result['scores'][other]} for {SHORT_NAMES[other]}."
        )
    return {
        **context,
        "title": title,
        "recommended": SHORT_NAMES[chosen],
        "alternative": SHORT_NAMES[other],
        "verdict": verdict,
        "summary": [*executive_summary(result, catalogue), *_similar_sentence(context["similar"])],
        "answer_sections": answer_sections(context["reasons"], catalogue),
        "this_revision": next(
            entry for entry in context["history"] if entry.revision.number == revision.number
        ),
        "record": decision_record(decision, revision, revisions[-1].number, shared=shared),
    }


def executive_summary(result: Mapping, catalogue: Catalogue) -> list[str]:
    """Four or five sentences a manager can read alone, composed from the stored result.

    The verdict with its confidence and margin (or the tie and its rule), how
    the answers split, the weightiest one, the delivery pattern with its first
    caveat, and what answer changes would reverse it.
    """
    chosen = result["recommendation"]
    sentences = [_verdict_sentence(result, catalogue), _split_sentence(result)]
    favouring = [reason for reason in result["reasons"] if reason["favours"] == chosen]
    strongest = favouring[0] if favouring else None
    if strongest:
        sentences.append(
            f"The weightiest answer, to “{strongest['question_text']}”, is "
            f"“{strongest['answer_label']}”, because "
            f"{_lower_first(_full_stop(_first_sentence(strongest['reason'])))}"
        )
    sentences.append(_pattern_sentence(result))
    sentences.append(_flip_sentence(result, strongest["question"] if strongest else None))
    return sentences


def _similar_sentence(similar) -> list[str]:
    """What the result page says beside the verdict about the closest real systems.

    The same sentences as the page (``Evidence.notice`` and
    ``Evidence.exceptions_note``): when they mostly went the other way for
    reasons the answers carry, and which of them are documented exceptions.
    """
    if similar is None:
        return []
    return [sentence for sentence in (similar.notice, similar.exceptions_note) if sentence]


def _verdict_sentence(result: Mapping, catalogue: Catalogue) -> str:
    chosen = result["recommendation"]
    other = other_transport(chosen)
    scores = result["scores"]
    if scores[chosen] == scores[other]:
        # verdict() gives a tie to the catalogue's tie_break; the stored
        # recommendation is what it gave.
        return (
            f"{SHORT_NAMES['websocket']} and {SHORT_NAMES['sse']} tie at "
            f"{_points(scores[chosen])} each, so the scores alone decide nothing: we "
            f"recommend {catalogue.transport_names[chosen]} because {tie_break_rule(chosen)}."
        )
    return (
        f"We recommend {catalogue.transport_names[chosen]} with {result['confidence']} "
        f"confidence: it scores {scores[chosen]} points to {scores[other]} for "
        f"{SHORT_NAMES[other]}, a margin of {round(result['margin'] * 100)}% of all points."
    )


def _split_sentence(result: Mapping) -> str:
    """How many answers favour each side, with points that add up to the totals.

    An answer's stored ``points`` is what it gave one side minus what it gave
    the other, so the sums per side fall short of the totals by the points
    that cancel out (an answer may give both sides 3); that remainder is named.
    """
    chosen = result["recommendation"]
    other = other_transport(chosen)
    reasons = result["reasons"]
    sides = []
    for transport in (chosen, other):
        favouring = [reason for reason in reasons if reason["favours"] == transport]
        net = sum(reason["points"] for reason in favouring)
        sides.append((transport, favouring, net))
    neither = len(reasons) - sum(len(favouring) for _, favouring, _ in sides)
    parts = [
        f"{_count(len(favouring))} {_favour(len(favouring))} {SHORT_NAMES[transport]}"
        + (f" ({_points(net)})" if favouring else "")
        for transport, favouring, net in sides
    ]
    if neither:
        parts.append(f"{_count(neither)} {_favour(neither)} neither")
    sentence = f"Of the {_count(len(reasons))} answers, {_join(parts)}"
    cancelled = result["scores"][chosen] - sides[0][2]
    if cancelled > 0:
        sentence += (
            f"; each total also includes {_points(cancelled)} that cancel"
            f"{'s' if cancelled == 1 else ''} out (section 3)"
        )
    return sentence + "."


def _pattern_sentence(result: Mapping) -> str:
    sentence = f"The delivery pattern to build is “{result['pattern']['title']}”"
    caveats = result["caveats"]
    if len(caveats) == 1:
        sentence += f", and one caveat applies: “{caveats[0]['title']}” (section 4)"
    elif caveats:
        sentence += (
            f"; of the {_count(len(caveats))} caveats in section 4, plan first for "
            f"“{caveats[0]['title']}”"
        )
    return sentence + "."


def _flip_sentence(result: Mapping, quoted: str | None) -> str:
    """What would reverse the verdict; ``quoted`` is a question the summary already quotes."""
    if not result["flips"]:
        return "No change of answers would reverse the verdict."
    flip = result["flips"][0]
    changes = flip["changes"]
    if len(changes) > 1:
        return (
            f"Reversing it would take at least {_count(len(changes))} changed answers "
            "at once (section 4)."
        )
    change = changes[0]
    if change["question"] == quoted:
        question, instead = "that question", ""
    else:
        question = f"“{change['question_text']}”"
        instead = f" instead of “{change['from_label']}”"
    if result["confidence"] == "slight":
        # Here one answer really does hang in the balance: say it outright.
        return (
            f"One changed answer would reverse it: {question} answered "
            f"“{change['to_label']}”{instead}."
        )
    # A wide margin that one answer still reverses means a decisive answer, not
    # a fragile verdict: state the condition under which it would change.
    return (
        f"Only if {question} were answered “{change['to_label']}”{instead} would the "
        f"verdict change to {SHORT_NAMES[flip['recommendation']]}."
    )


def answer_sections(reasons: list[Mapping], catalogue: Catalogue) -> list[tuple[str, list[dict]]]:
    """Every answered question, numbered, grouped by section in the catalogue's order."""
    order = {question.slug: index for index, question in enumerate(catalogue.questions)}
    grouped: dict[str, list[dict]] = {section.slug: [] for section in catalogue.sections}
    for reason in sorted(reasons, key=lambda r: order.get(r["question"], len(order))):
        grouped.setdefault(reason["section"], []).append(reason)
    number = 0
    sections = []
    for slug, section_reasons in grouped.items():
        if not section_reasons:
            continue
        section = catalogue.section(slug)
        numbered = []
        for reason in section_reasons:
            number += 1
            numbered.append({**reason, "number": number})
        sections.append((section.title if section else slug.capitalize(), numbered))
    return sections


def render_report(context: Mapping, paper: str = DEFAULT_PAPER) -> bytes:
    """The PDF of a report context; no database, no network, safe in a worker thread."""
    return render_pdf(report_html(context, paper))


def report_html(context: Mapping, paper: str = DEFAULT_PAPER) -> str:
    """The report's HTML: everything its PDF shows, paper size included.

    The same HTML always makes the same PDF (its dates come from the
    revision, not the clock), so its hash names the PDF (``report_cache``).
    """
    return render_to_string(TEMPLATE, {**context, "page_size": PAPER_SIZES[paper]})


def render_pdf(html: str, html_class: type[HTML] | None = None) -> bytes:
    """The PDF of the report's HTML: the costly part, run in a render worker process.

    ``html_class``: ``ReportHTML`` unless a test compares it with WeasyPrint's own.
    """
    document = (html_class or ReportHTML)(string=html, url_fetcher=local_fetcher())
    # Tagged: screen readers and reflow get headings, lists and reading order.
    return document.write_pdf(
        stylesheets=[_stylesheet()], font_config=_font_config(), pdf_tags=True
    )


class ReportHTML(HTML):
    """WeasyPrint's ``HTML`` with its user-agent stylesheet cut to what a report can use.

    That stylesheet styles the ``::marker``, footnote and note pseudo-elements
    of every element: for a report's 300 elements, 1,800 of the 2,000 styles
    WeasyPrint computes per render, over a tenth of its CPU, for boxes it never
    makes. A report has no footnotes (``float: footnote``) nor notes
    (``position: note()``), and its only list items are ``li``: without the
    footnote and note rules, and with ``li::marker`` for ``::marker``, the
    PDF is the same, byte for byte (tested). ``_ua_stylesheets`` is the hook
    WeasyPrint's own tests use for a lighter stylesheet; if a WeasyPrint
    release words its stylesheet otherwise, reports use it whole.
    """

    def _ua_stylesheets(self, forms: bool = False) -> list[CSS]:
        lean = _lean_user_agent_stylesheet()
        return [
            lean if lean is not None and sheet is weasyprint_html.UA_STYLESHEET else sheet
            for sheet in super()._ua_stylesheets(forms)
        ]


@cache
def _lean_user_agent_stylesheet() -> CSS | None:
    text, markers = MARKER_RULE.subn("li::marker {", weasyprint_html.UA)
    text, notes = NOTE_RULES.subn("", text)
    if (markers, notes) != (1, NOTE_RULE_COUNT):
        logger.warning(
            "WeasyPrint's user-agent stylesheet is not the one PDF reports trim: "
            "they use it whole, and each render costs over a tenth more."
        )
        return None
    # A store of its own for the sheet's @counter-style rules: WeasyPrint's
    # already holds them, and refuses "disc" and "decimal" twice.
    return CSS(string=text, counter_style=CounterStyle())


class StaticFilesFetcher(URLFetcher):
    """Gives WeasyPrint the app's own static files, and refuses every other URL.

    Whatever a template, a stylesheet or a stored value ever puts in a report,
    a ``file:`` URL outside the static folders would put a server file
    (``/etc/passwd``, the settings) into a PDF that anyone with the share link
    downloads, and ``http(s):`` would make the server fetch for a stranger.
    The report needs neither (its stylesheet is read by path, its fonts come
    from the system, its chart is inline SVG), so only a ``file:`` URL whose
    real path lies inside a static directory is served; every other URL
    raises, which WeasyPrint reports and skips, and is logged.
    """

    def fetch(self, url: str, headers: Mapping | None = None) -> URLFetcherResponse:
        path = static_file(url)
        if path is None:
            # Cut short: a data: URL may be megabytes long.
            logger.warning("PDF report: refused %.200s: not one of our static files", url)
            raise URLFetchingError(f"not one of the app's static files: {url:.200}")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        # Read here, from the path just checked, rather than handed on to
        # urllib, which would resolve the URL again on its own.
        return URLFetcherResponse(
            path.as_uri(), path.read_bytes(), headers={"Content-Type": content_type}
        )


def static_file(url: str) -> Path | None:
    """The real path of ``url`` if it is a ``file:`` URL of one of our static files."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "file" or parts.netloc not in {"", "localhost"}:
        return None
    try:
        # resolve() follows symlinks and removes "..", also when percent-encoded.
        path = Path(url2pathname(unquote(parts.path))).resolve(strict=True)
    except (OSError, ValueError, RuntimeError):
        # Missing, unreadable, a NUL byte, a symlink loop: not ours either way.
        return None
    if not path.is_file():
        return None
    if any(path.is_relative_to(root) for root in static_roots()):
        return path
    return None


def static_roots() -> list[Path]:
    """The real paths of every static directory: STATIC_ROOT and the finders' folders."""
    locations = [settings.STATIC_ROOT] if settings.STATIC_ROOT else []
    for finder in finders.get_finders():
        # FileSystemFinder (STATICFILES_DIRS) and AppDirectoriesFinder (each
        # app's static/) keep one storage per folder.
        locations.extend(storage.location for storage in getattr(finder, "storages", {}).values())
    return [Path(location).resolve() for location in locations]


def warm_up() -> None:
    """Parse the stylesheet and load the fonts: a render worker does it once, at its start."""
    render_pdf("<html lang=en><body><p>warm-up</p></body></html>")


def local_fetcher() -> StaticFilesFetcher:
    """A fetcher for one render: WeasyPrint's fetcher keeps per-request state."""
    return StaticFilesFetcher()


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


def _full_stop(text: str) -> str:
    return text if text.endswith(".") else f"{text}."


def _points(number: int) -> str:
    return f"{number} point{'' if number == 1 else 's'}"


def _favour(count: int) -> str:
    return "favours" if count <= 1 else "favour"


def _join(parts: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _count(number: int) -> str:
    return NUMBERS[number] if number < len(NUMBERS) else str(number)
