from __future__ import annotations

import asyncio
import io
import json
import os
import random
import re
import shutil
import subprocess
import uuid

import pytest
import pytest_asyncio
import weasyprint
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils.html import escape
from pypdf import PdfReader
from weasyprint.urls import URLFetchingError

from questionnaire import display, render_pool, report
from questionnaire.catalogue import CATALOGUE_DIR, get_catalogue
from questionnaire.models import Assessment, Revision
from questionnaire.scoring import evaluate
from tests.questionnaire import render_helpers
from tests.seed import PRESETS

pytestmark = pytest.mark.django_db

# Page sizes in PDF points.
A4 = (595, 842)
LETTER = (612, 792)
PREVIEW_DPI = 30
# How sentences name the transports.
SHORT_NAMES = {"websocket": "WebSocket", "sse": "SSE"}


def report_url(assessment: Assessment, **query: str) -> str:
    url = f"/assessments/{assessment.pk}/report.pdf"
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def pdf_reader(content: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(content))


def pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in pdf_reader(content).pages)


def squeezed(text: str) -> str:
    # Lines break at spaces and after hyphens ("full-|duplex"): compare without whitespace.
    return "".join(text.split())


def page_size(content: bytes, index: int = 0) -> tuple[int, int]:
    box = pdf_reader(content).pages[index].mediabox
    return round(float(box.width)), round(float(box.height))


def missing(text: str, *snippets: str) -> list[str]:
    """The snippets that ``text`` lacks, ignoring line breaks: [] names them on failure."""
    return [snippet for snippet in snippets if squeezed(snippet) not in squeezed(text)]


def first_page_pixels(content: bytes, tmp_path) -> tuple[int, int, bytes]:
    """Page 1 rasterised by poppler's pdftoppm as 8-bit grey: (width, height, pixels)."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.fail("pdftoppm is missing: install poppler-utils (make test-deps does)")
    source = tmp_path / "report.pdf"
    source.write_bytes(content)
    command = [pdftoppm, "-gray", "-r", str(PREVIEW_DPI), "-f", "1", "-l", "1", "-singlefile"]
    subprocess.run([*command, str(source), str(tmp_path / "page")], check=True, timeout=30)
    data = (tmp_path / "page.pgm").read_bytes()
    header = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    assert header and header[3] == b"255", data[:20]
    width, height = int(header[1]), int(header[2])
    pixels = data[header.end() :]
    assert len(pixels) == width * height
    return width, height, pixels


def preview_size(points: tuple[int, int]) -> tuple[int, int]:
    return tuple(round(value / 72 * PREVIEW_DPI) for value in points)


@pytest.fixture
def saved(chat_answers) -> Assessment:
    assessment, _ = Assessment.create_scored("Team chat", chat_answers)
    return assessment


@pytest.fixture
def edited(saved, chat_answers) -> Assessment:
    """The chat assessment revised so that clients never send: the verdict turns to SSE."""
    saved.revise("Team chat", {**chat_answers, "client_messages": "none"})
    return saved


@pytest.fixture
def cancelling_answers(chat_answers) -> dict[str, str]:
    """Occasional actions under a real-time budget: that answer gives both sides 3 points."""
    return {**chat_answers, "client_messages": "occasional", "upstream_latency": "realtime"}


@pytest.fixture
def tie_answers(chat_answers) -> dict[str, str]:
    """WebSocket and SSE at 14 points each."""
    return {**chat_answers, "upstream_latency": "relaxed", "load_balancer": "http_only"}


@pytest.fixture
def fallback_answers(chat_answers) -> dict[str, str]:
    """WebSocket behind corporate proxies: the pattern with an SSE + HTTP POST fallback."""
    return {**chat_answers, "middleboxes": "corporate"}


@pytest.fixture
def response(client, saved):
    return client.get(report_url(saved))


@pytest.fixture
def text(response) -> str:
    return pdf_text(response.content)


# --- The response ----------------------------------------------------------------


def test_report_ok(response):
    assert response.status_code == 200


def test_report_is_pdf(response):
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")


def test_report_is_attachment_named_after_title(response):
    assert (
        response["Content-Disposition"] == 'attachment; filename="team-chat-websocket-vs-sse.pdf"'
    )


def test_report_filename_default_for_empty_title(client, chat_answers):
    untitled, _ = Assessment.create_scored("", chat_answers)

    disposition = client.get(report_url(untitled))["Content-Disposition"]

    assert disposition == 'attachment; filename="assessment-websocket-vs-sse.pdf"'


def test_report_filename_default_when_title_slugifies_to_nothing(client, chat_answers):
    symbols, _ = Assessment.create_scored("¿?! — ✓", chat_answers)

    disposition = client.get(report_url(symbols))["Content-Disposition"]

    assert disposition == 'attachment; filename="assessment-websocket-vs-sse.pdf"'


def test_report_filename_drops_accents_and_punctuation():
    assert (
        report.report_filename("Café Ops: Live board!")
        == "cafe-ops-live-board-websocket-vs-sse.pdf"
    )


def test_report_filename_of_long_title_stays_readable():
    filename = report.report_filename("word " * 40)

    assert filename.endswith("-websocket-vs-sse.pdf")
    assert len(filename) <= report.SLUG_LENGTH + len(report.FILENAME_SUFFIX)
    assert "--" not in filename


def test_report_unknown_assessment_404(client):
    assert client.get(f"/assessments/{uuid.uuid4()}/report.pdf").status_code == 404


def test_report_unknown_revision_404(client, saved):
    assert client.get(report_url(saved, revision="9")).status_code == 404


def test_report_malformed_revision_404(client, saved):
    assert client.get(report_url(saved, revision="abc")).status_code == 404


@pytest.mark.parametrize("revision", ["1" * 10, "1" * 5000, "²"])
def test_report_huge_or_malformed_revision_404(client, saved, revision):
    assert client.get(report_url(saved, revision=revision)).status_code == 404


def test_report_unknown_paper_400(client, saved):
    response = client.get(report_url(saved, paper="a3"))

    assert response.status_code == 400
    assert "paper=a4" in response.text and "paper=letter" in response.text


def test_report_post_not_allowed(client, saved):
    assert client.post(report_url(saved)).status_code == 405


def test_report_head_ok(client, saved):
    response = client.head(report_url(saved))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"


# --- The document ------------------------------------------------------------------


def test_report_holds_verdict_and_confidence(text, saved):
    assert missing(text, "WebSocket is recommended with strong confidence") == []
    assert saved.confidence == "strong"


def test_report_holds_every_question(text, catalogue):
    assert missing(text, *(question.text for question in catalogue.questions)) == []


def test_report_holds_every_answer_label(text, saved, catalogue):
    labels = [reason["answer_label"] for reason in saved.latest.result["reasons"]]

    # The optional question the chat preset leaves out is there with its default.
    assert len(labels) == len(catalogue.questions) == 16
    assert missing(text, *labels) == []


def test_report_holds_reasons_and_sources(text, saved):
    reasons = saved.latest.result["reasons"]

    assert missing(text, *(reason["source"]["title"] for reason in reasons)) == []
    assert missing(text, reasons[0]["reason"]) == []


def test_report_holds_caveats_and_flip(text, saved):
    result = saved.latest.result

    assert missing(text, *(caveat["title"] for caveat in result["caveats"])) == []
    assert missing(text, "What would change the verdict") == []


def test_report_holds_checklists(text, saved):
    checklist = saved.latest.result["checklist"]

    assert missing(text, *checklist["implementation"], *checklist["security"]) == []


def test_report_holds_executive_summary(text, saved, catalogue):
    summary = report.executive_summary(saved.latest.result, catalogue)

    assert missing(text, "Executive summary", *summary) == []


def test_report_chart_is_vector(response, catalogue):
    reader = pdf_reader(response.content)
    first = " ".join(reader.pages[0].extract_text().split())

    assert [image for page in reader.pages for image in page.images] == []
    assert missing(first, *(section.title for section in catalogue.sections), "Total") == []


def test_report_page_count_sensible(response):
    assert 2 <= len(pdf_reader(response.content).pages) <= 8


def test_report_running_footer_numbers_pages(response):
    reader = pdf_reader(response.content)
    count = len(reader.pages)

    for number, page in enumerate(reader.pages, start=1):
        assert f"Page {number} of {count}" in page.extract_text()
        assert "Team chat" in page.extract_text()


def test_report_metadata(response):
    reader = pdf_reader(response.content)

    assert "Team chat" in reader.metadata.title
    assert reader.metadata.author == "Transport Advisor"
    assert reader.trailer["/Root"]["/Lang"] == "en"


def test_report_is_tagged(response):
    catalog = pdf_reader(response.content).trailer["/Root"]

    assert "/StructTreeRoot" in catalog
    assert catalog["/MarkInfo"]["/Marked"]


def footer_lines(content: bytes, page: int, words: str) -> set[float]:
    """The baselines on ``page`` of the text runs that are pieces of ``words``."""
    lines = set()

    def visit(text, matrix, text_matrix, font, size):
        if text.strip() and text.strip() in words:
            lines.add(round(text_matrix[5], 1))

    pdf_reader(content).pages[page].extract_text(visitor_text=visit)
    return lines


def test_report_footer_keeps_a_long_title_on_one_line(client, chat_answers):
    title = " ".join(["Quokka zebra platform"] * 9)
    long, _ = Assessment.create_scored(title, chat_answers)

    content = client.get(report_url(long)).content

    # Page 2: the cover's heading holds the title too, in full.
    assert len(footer_lines(content, 1, title + " Page 2 of")) == 1


def test_report_a4_by_default(response):
    assert page_size(response.content) == A4


def test_report_a4_on_request(client, saved):
    assert page_size(client.get(report_url(saved, paper="a4")).content) == A4


def test_report_letter_on_request(client, saved):
    content = client.get(report_url(saved, paper="letter")).content
    reader = pdf_reader(content)

    assert {page_size(content, index) for index in range(len(reader.pages))} == {LETTER}


def test_report_first_page_is_not_blank(response, tmp_path):
    width, height, pixels = first_page_pixels(response.content, tmp_path)
    ink = sum(pixel < 160 for pixel in pixels) / len(pixels)

    assert 0.02 < ink < 0.5


def test_report_first_page_is_a4(response, tmp_path):
    width, height, _ = first_page_pixels(response.content, tmp_path)
    expected = preview_size(A4)

    assert abs(width - expected[0]) <= 1 and abs(height - expected[1]) <= 1


def test_report_first_page_is_letter_on_request(client, saved, tmp_path):
    content = client.get(report_url(saved, paper="letter")).content
    width, height, _ = first_page_pixels(content, tmp_path)
    expected = preview_size(LETTER)

    assert abs(width - expected[0]) <= 1 and abs(height - expected[1]) <= 1


@pytest.mark.parametrize("slug", PRESETS)
def test_report_renders_every_preset(client, catalogue, slug):
    preset = catalogue.preset(slug)
    assessment, _ = Assessment.create_scored(preset.title, preset.answers)
    result = assessment.latest.result
    transport = catalogue.transport_names[result["recommendation"]]

    response = client.get(report_url(assessment))

    assert response.status_code == 200
    assert (
        missing(
            pdf_text(response.content),
            f"{transport} is recommended with {result['confidence']} confidence",
            result["pattern"]["title"],
        )
        == []
    )


def test_report_stylesheet_trim_changes_no_byte_of_any_preset(catalogue):
    """report.ReportHTML's user-agent stylesheet gives each preset's PDF as WeasyPrint's does."""
    for slug in PRESETS:
        preset = catalogue.preset(slug)
        assessment, _ = Assessment.create_scored(preset.title, preset.answers)
        revision = assessment.latest
        html = report.report_html(report.report_context(preset.title, [revision], revision))

        assert report.render_pdf(html) == report.render_pdf(html, weasyprint.HTML), slug


@pytest.fixture
def lean_stylesheet_made_afresh():
    """The trimmed stylesheet is made once per process: made again for the test, and after it."""
    report._lean_user_agent_stylesheet.cache_clear()
    yield
    report._lean_user_agent_stylesheet.cache_clear()


@pytest.mark.parametrize(
    "reworded",
    [
        lambda ua: ua.replace("::footnote-call {", "::footnote-call, ::x-call {"),
        lambda ua: ua.replace("::marker {", "::marker, ::x-marker {"),
    ],
    ids=["a note rule reworded", "the marker rule reworded"],
)
def test_report_renders_with_the_whole_stylesheet_when_weasyprint_words_it_otherwise(
    monkeypatch, caplog, lean_stylesheet_made_afresh, reworded
):
    """A WeasyPrint release whose user-agent stylesheet is not the one trimmed costs
    reports their speed, never their content: they get the stylesheet whole, and a warning."""
    from weasyprint import html as weasyprint_html

    monkeypatch.setattr(weasyprint_html, "UA", reworded(weasyprint_html.UA))
    document = report.ReportHTML(string="<ul><li>point</li></ul>")

    assert document._ua_stylesheets() == [weasyprint_html.UA_STYLESHEET]
    assert "use it whole" in caplog.text
    assert report.render_pdf("<ul><li>point</li></ul>").startswith(b"%PDF-")


# --- Revisions and catalogue versions --------------------------------------------------


def test_report_single_revision_has_no_revisions_section(text):
    assert squeezed("What changed since revision") not in squeezed(text)


def test_report_shows_what_changed_since_previous_revision(
    client, edited, catalogue, chat_answers
):
    question = catalogue.question("client_messages")
    before = question.option(chat_answers["client_messages"]).label
    after = question.option("none").label

    text = pdf_text(client.get(report_url(edited)).content)

    assert (
        missing(
            text,
            "What changed since revision 1",
            f"“{question.text}” from {before} to {after}",
            "The verdict changed from WebSocket to SSE.",
        )
        == []
    )


def test_report_latest_revision_by_default(client, edited):
    text = pdf_text(client.get(report_url(edited)).content)

    assert missing(text, "revision 2 of 2", "Server-Sent Events (SSE) is recommended") == []


def test_report_of_earlier_revision(client, edited):
    text = pdf_text(client.get(report_url(edited, revision="1")).content)

    assert (
        missing(text, "revision 1 of 2", "WebSocket is recommended with strong confidence") == []
    )
    assert squeezed("What changed since revision") not in squeezed(text)


def test_report_of_earlier_revision_keeps_its_title(client, saved, chat_answers):
    saved.revise("Renamed chat", chat_answers)

    first = client.get(report_url(saved, revision="1"))
    latest = client.get(report_url(saved))

    assert missing(pdf_text(first.content), "Team chat") == []
    assert squeezed("Renamed chat") not in squeezed(pdf_text(first.content))
    assert pdf_reader(first.content).metadata.title.startswith("Team chat:")
    assert first["Content-Disposition"].endswith('filename="team-chat-websocket-vs-sse.pdf"')
    assert missing(pdf_text(latest.content), "Renamed chat") == []
    assert latest["Content-Disposition"].endswith('filename="renamed-chat-websocket-vs-sse.pdf"')


def test_report_renders_stored_snapshot(client, saved):
    revision = saved.latest
    revision.result["pattern"]["title"] = "Pattern from the stored snapshot"
    revision.save()

    text = pdf_text(client.get(report_url(saved)).content)

    assert missing(text, "Pattern from the stored snapshot") == []


@pytest.fixture
def catalogue_v2(tmp_path, monkeypatch):
    """Version 2 of the catalogue published beside version 1, which renames a section."""
    data = json.loads((CATALOGUE_DIR / "1.json").read_text(encoding="utf-8"))
    (tmp_path / "1.json").write_text(json.dumps(data), encoding="utf-8")
    data["version"] = "2"
    next(s for s in data["sections"] if s["slug"] == "payload")["title"] = "Message contents"
    (tmp_path / "2.json").write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr("questionnaire.catalogue.CATALOGUE_DIR", tmp_path)
    get_catalogue.cache_clear()
    yield get_catalogue()
    get_catalogue.cache_clear()


def test_report_of_old_catalogue_uses_its_wording(client, catalogue_v2, chat_answers):
    old, _ = Assessment.create_scored("Team chat", chat_answers, get_catalogue("1"))
    assert catalogue_v2.version == "2"

    text = pdf_text(client.get(report_url(old)).content)

    assert missing(text, "catalogue version 1", "Payload") == []
    assert squeezed("Message contents") not in squeezed(text)


def test_report_of_new_catalogue_uses_its_wording(client, catalogue_v2, chat_answers):
    new, _ = Assessment.create_scored("Team chat", chat_answers)

    text = pdf_text(client.get(report_url(new)).content)

    assert missing(text, "catalogue version 2", "Message contents") == []


def test_report_with_withdrawn_catalogue_version_still_renders(client, saved):
    Revision.objects.filter(pk=saved.latest.pk).update(catalogue_version="0.1")

    response = client.get(report_url(saved))

    assert response.status_code == 200
    assert missing(pdf_text(response.content), "catalogue version 0.1") == []


# --- The result page links to it -------------------------------------------------------


def test_result_links_to_report(client, saved):
    page = client.get(saved.get_absolute_url()).text

    assert f'href="/assessments/{saved.pk}/report.pdf">Download PDF</a>' in page


def test_result_of_earlier_revision_links_to_its_report(client, edited):
    page = client.get(edited.get_absolute_url(), {"revision": "1"}).text
    href = escape(f"/assessments/{edited.pk}/report.pdf?revision=1")

    assert f'href="{href}">Download PDF</a>' in page


# --- The executive summary ---------------------------------------------------------------


@pytest.mark.parametrize("slug", PRESETS)
def test_summary_has_three_to_five_sentences(catalogue, slug):
    result = evaluate(catalogue, catalogue.preset(slug).answers).to_dict()

    summary = report.executive_summary(result, catalogue)

    assert 3 <= len(summary) <= 5
    assert all(sentence.endswith(".") for sentence in summary)


def test_summary_names_verdict_confidence_and_margin(saved, catalogue):
    result = saved.latest.result

    first = report.executive_summary(result, catalogue)[0]

    assert first.startswith("We recommend WebSocket with strong confidence")
    assert f"{round(result['margin'] * 100)}% of all points" in first


def test_summary_states_a_decisive_flip_as_a_condition(saved, catalogue):
    summary = report.executive_summary(saved.latest.result, catalogue)

    assert summary[-1] == (
        "Only if that question were answered “Never: clients only receive” "
        "would the verdict change to SSE."
    )


def test_summary_flip_names_a_question_not_quoted_before(saved, catalogue):
    result = saved.latest.result
    result["flips"][0]["changes"][0].update(
        question="delivery", question_text="Must missed messages be replayed?"
    )

    summary = report.executive_summary(result, catalogue)

    assert summary[-1] == (
        "Only if “Must missed messages be replayed?” were answered “Never: clients only "
        "receive” instead of “Continuously: typing, cursors, game input, orders” would the "
        "verdict change to SSE."
    )


def test_summary_slight_verdict_says_one_answer_reverses_it(catalogue, tie_answers):
    result = evaluate(catalogue, tie_answers).to_dict()
    assert result["confidence"] == "slight"

    summary = report.executive_summary(result, catalogue)

    assert summary[-1].startswith("One changed answer would reverse it: ")


def test_summary_counts_changes_when_several_are_needed(catalogue):
    result = evaluate(catalogue, catalogue.preset("dashboard").answers).to_dict()

    summary = report.executive_summary(result, catalogue)

    assert (
        summary[-1] == "Reversing it would take at least two changed answers at once (section 4)."
    )


def summary_figures(summary: list[str]) -> tuple[dict[str, tuple[int, int]], int]:
    """Per side, the answers and points the summary gives it, and the points that cancel."""

    def number(word: str) -> int:
        return report.NUMBERS.index(word) if word in report.NUMBERS else int(word)

    text = " ".join(summary)
    sides = dict.fromkeys(SHORT_NAMES.values(), (0, 0))
    for count, name, points in re.findall(
        r"(\w+) (?:favours? )?(WebSocket|SSE)(?: \((\d+) points?\))?[,;. ]", text
    ):
        if count in report.NUMBERS or count.isdigit():
            sides[name] = (number(count), int(points or 0))
    cancelled = re.search(r"(\d+) points? that cancels? out", text)
    return sides, int(cancelled[1]) if cancelled else 0


def random_answers(catalogue, rng: random.Random) -> dict[str, str]:
    return {question.slug: rng.choice(question.values) for question in catalogue.questions}


def test_summary_figures_add_up_to_the_totals_for_random_answers(catalogue):
    rng = random.Random(12)
    for _ in range(400):
        result = evaluate(catalogue, random_answers(catalogue, rng), with_flips=False).to_dict()
        result["flips"] = []

        summary = report.executive_summary(result, catalogue)

        sides, cancelled = summary_figures(summary)
        scores = {int(figure) for figure in re.findall(r"\d+(?![\d%])", summary[0])}
        assert scores == set(result["scores"].values()), summary[0]
        for transport, name in SHORT_NAMES.items():
            count, points = sides[name]
            favouring = [r for r in result["reasons"] if r["favours"] == transport]
            assert count == len(favouring), summary[1]
            assert points + cancelled == result["scores"][transport], summary[1]


def test_summary_one_answer_favours_in_the_singular(catalogue):
    result = evaluate(catalogue, {"client_messages": "none", "payload_format": "binary"}).to_dict()

    second = report.executive_summary(result, catalogue)[1]

    # The optional questions left out count as their (neutral) default answers.
    assert second == (
        "Of the four answers, one favours SSE (6 points), one favours WebSocket (6 points) "
        "and two favour neither."
    )


def test_summary_names_points_that_cancel_out(catalogue, cancelling_answers):
    result = evaluate(catalogue, cancelling_answers).to_dict()
    assert result["scores"] == {"websocket": 16, "sse": 10}

    second = report.executive_summary(result, catalogue)[1]

    assert second == (
        "Of the sixteen answers, two favour WebSocket (13 points), five favour SSE "
        "(7 points) and nine favour neither; each total also includes 3 points that "
        "cancel out (section 3)."
    )


def test_summary_of_snapshot_without_per_side_points_still_adds_up(catalogue, cancelling_answers):
    result = evaluate(catalogue, cancelling_answers).to_dict()
    for reason in result["reasons"]:
        del reason["scores"]

    sides, cancelled = summary_figures(report.executive_summary(result, catalogue))

    assert (sides["WebSocket"][1] + cancelled, sides["SSE"][1] + cancelled) == (16, 10)


def test_report_shows_what_a_cancelling_answer_gave_each_side(client, cancelling_answers):
    assessment, _ = Assessment.create_scored("Chat with rare actions", cancelling_answers)

    text = pdf_text(client.get(report_url(assessment)).content)

    assert missing(text, "WebSocket +3, SSE +3: they cancel out") == []


def test_answer_effect_of_unequal_points_on_both_sides():
    effect = display.answer_effect({"websocket": 5, "sse": 2})

    assert effect == "Favours WebSocket by 3 points (WebSocket +5, SSE +2)"


@pytest.mark.parametrize("slug", PRESETS)
def test_summary_names_the_question_of_the_weightiest_answer(catalogue, slug):
    result = evaluate(catalogue, catalogue.preset(slug).answers).to_dict()
    weightiest = next(r for r in result["reasons"] if r["favours"] == result["recommendation"])

    summary = report.executive_summary(result, catalogue)

    assert summary[2].startswith(
        f"The weightiest answer, to “{weightiest['question_text']}”, is "
        f"“{weightiest['answer_label']}”, because "
    )


def test_summary_explains_a_tie(catalogue, tie_answers):
    result = evaluate(catalogue, tie_answers).to_dict()
    assert result["scores"] == {"websocket": 14, "sse": 14}

    first = report.executive_summary(result, catalogue)[0]

    assert first == (
        "WebSocket and SSE tie at 14 points each, so the scores alone decide nothing: we "
        "recommend Server-Sent Events (SSE) because the tie-break rule gives a tie to SSE, "
        "the simpler of the two to build and run."
    )


def test_report_cover_explains_a_tie(client, tie_answers):
    assessment, _ = Assessment.create_scored("Even", tie_answers)

    text = pdf_text(client.get(report_url(assessment)).content)

    assert missing(text, "is recommended on a tie: both transports score 14 points") == []
    assert squeezed("slight confidence, scoring") not in squeezed(text)


# --- Checklists: every transport the pattern builds on ----------------------------------


def test_report_of_fallback_pattern_has_both_checklists(client, fallback_answers, catalogue):
    assessment, _ = Assessment.create_scored("Behind proxies", fallback_answers)
    assert assessment.latest.result["pattern"]["slug"] == "websocket-with-fallback"

    text = pdf_text(client.get(report_url(assessment)).content)

    sse = catalogue.checklists["sse"]
    assert (
        missing(
            text,
            "Checklists for WebSocket and Server-Sent Events (SSE)",
            "WebSocket, the recommended transport",
            "Server-Sent Events (SSE), which this pattern also uses",
            *sse.implementation,
            *sse.security,
        )
        == []
    )
    assert "X-Accel-Buffering" in text and "Last-Event-ID" in text


def test_report_of_single_transport_pattern_has_one_checklist(text):
    assert "X-Accel-Buffering" not in text
    assert missing(text, "Checklist for WebSocket") == []


def test_report_checklist_of_recommended_transport_is_the_stored_one(client, fallback_answers):
    assessment, _ = Assessment.create_scored("Behind proxies", fallback_answers)
    revision = assessment.latest
    revision.result["checklist"]["implementation"] = ["Item from the stored snapshot"]
    revision.save()

    text = pdf_text(client.get(report_url(assessment)).content)

    assert missing(text, "Item from the stored snapshot", "X-Accel-Buffering") == []


def test_report_with_unknown_stored_pattern_has_the_recommended_checklist(client, saved):
    revision = saved.latest
    revision.result["pattern"]["slug"] = "withdrawn-pattern"
    revision.save()

    response = client.get(report_url(saved))

    assert response.status_code == 200
    assert missing(pdf_text(response.content), "Checklist for WebSocket") == []


# --- Rendering stays off the event loop and away from the database ------------------------


def test_render_report_needs_no_database(saved, django_db_blocker):
    revisions = list(saved.revisions.all())
    context = report.report_context(saved.display_title, revisions, revisions[-1])

    with django_db_blocker.block():
        pdf = report.render_report(context)

    assert pdf.startswith(b"%PDF-")


def test_report_fetcher_refuses_the_network():
    fetcher = report.local_fetcher()

    with pytest.raises(URLFetchingError, match="not one of the app's static files"):
        fetcher("http://127.0.0.1:9/logo.png")
    with pytest.raises(URLFetchingError, match="not one of the app's static files"):
        fetcher("https://example.com/style.css")


def test_report_fetcher_refuses_inline_data():
    # The report holds no data: URL (its chart is inline SVG), so none is taken.
    with pytest.raises(URLFetchingError):
        report.local_fetcher()("data:text/plain,ok")


@pytest_asyncio.fixture
async def asgi_client(async_client):
    """The async test client, and afterwards no database connection left open.

    The test client keeps connections across requests, and the ORM calls of
    views run in asgiref's thread; close that thread's connections, or
    PostgreSQL refuses to drop the test database.
    """
    yield async_client
    await sync_to_async(connections.close_all)()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_report_render_does_not_hold_up_other_views(
    asgi_client, saved, monkeypatch, tmp_path
):
    """While one report renders, a page served by a sync view still comes back at once."""
    gate = tmp_path / "gate"
    monkeypatch.setattr(report, "report_html", lambda context, paper: str(gate))
    monkeypatch.setattr(report, "render_pdf", render_helpers.gated_pdf)
    rendering = asyncio.create_task(asgi_client.get(report_url(saved)))
    try:
        # Never answered if the render blocked the event loop or the sync views' thread.
        page = await asyncio.wait_for(asgi_client.get(saved.get_absolute_url()), timeout=10)
        assert not rendering.done()
    finally:
        gate.touch()
    response = await asyncio.wait_for(rendering, timeout=10)

    assert page.status_code == 200
    assert response.content == b"%PDF- gated gate"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_report_renders_in_a_worker_process(asgi_client, saved, monkeypatch):
    monkeypatch.setattr(report, "render_pdf", render_helpers.pid_pdf)

    response = await asgi_client.get(report_url(saved))

    made_by = int(response.content.rsplit(b" ", 1)[1])
    assert response.status_code == 200
    assert made_by != os.getpid()


def test_render_pool_works_in_a_forked_child():
    """A live server forked after a render can still render: it gets workers of its own."""
    parent = asyncio.run(render_pool.pool().run("parent", render_helpers.pid_pdf, ""))
    pid = os.fork()
    if pid == 0:
        try:
            child = asyncio.run(render_pool.pool().run("child", render_helpers.pid_pdf, ""))
            render_pool.shutdown()
            rendered = child.startswith(b"%PDF") and child != parent
        except BaseException:
            rendered = False
        os._exit(0 if rendered else 1)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0


# --- What the renderer may fetch ---------------------------------------------------

STATIC_CSS = report.finders.find(report.STYLESHEET)


def refused(caplog, url: str) -> bool:
    """Whether our fetcher raised for ``url`` and logged a warning naming it."""
    caplog.clear()
    try:
        report.local_fetcher().fetch(url)
    except Exception:
        raised = True
    else:
        raised = False
    warned = any(
        record.levelname == "WARNING" and url[:100] in record.getMessage()
        for record in caplog.records
    )
    return raised and warned


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file:///etc/hostname",
        "file://localhost/etc/passwd",
        "FILE:///etc/passwd",
        "http://127.0.0.1:1/",
        "https://example.com/logo.png",
        "ftp://example.com/x",
        "data:text/css,body{}",
        "file:///no/such/file.css",
    ],
)
def test_fetcher_refuses_anything_but_static_files(caplog, url):
    assert refused(caplog, url)


def test_fetcher_refuses_an_escape_from_the_static_folder(caplog):
    # static/css/../../questionnaire/report.py: the project's source, not a static file.
    url = f"file://{os.path.dirname(STATIC_CSS)}/../../questionnaire/report.py"

    assert refused(caplog, url)


def test_fetcher_refuses_a_percent_encoded_escape(caplog):
    url = f"file://{os.path.dirname(STATIC_CSS)}/%2e%2e/%2E%2E/questionnaire/report.py"

    assert refused(caplog, url)


def test_fetcher_refuses_a_file_of_another_host(caplog):
    assert refused(caplog, f"file://fileserver{STATIC_CSS}")


def test_fetcher_refuses_a_symlink_out_of_a_static_folder(caplog, settings, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the report")
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    settings.STATIC_ROOT.mkdir()
    (settings.STATIC_ROOT / "innocent.css").symlink_to(secret)

    assert refused(caplog, (settings.STATIC_ROOT / "innocent.css").as_uri())


def test_fetcher_serves_a_file_in_static_root(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    (settings.STATIC_ROOT / "css").mkdir(parents=True)
    (settings.STATIC_ROOT / "css" / "extra.css").write_text("p { color: red }")

    fetched = report.local_fetcher().fetch((settings.STATIC_ROOT / "css" / "extra.css").as_uri())

    assert (fetched.read(), fetched.content_type) == (b"p { color: red }", "text/css")


def test_fetcher_serves_our_stylesheet_as_css():
    fetched = report.local_fetcher().fetch(f"file://{STATIC_CSS}")

    with open(STATIC_CSS, "rb") as stylesheet:
        assert (fetched.read(), fetched.content_type) == (stylesheet.read(), "text/css")


def test_render_never_reads_a_file_outside_the_static_folders(monkeypatch, caplog, tmp_path):
    # Were it fetched, this stylesheet would print its marker in the PDF.
    outside = tmp_path / "outside.css"
    outside.write_text('body::before { content: "LEAKED-FROM-DISK" }')
    html = (
        f'<html><head><link rel="stylesheet" href="{outside.as_uri()}">'
        '<link rel="stylesheet" href="file:///etc/hostname"></head>'
        '<body><p>Report</p><img src="file:///etc/passwd"></body></html>'
    )
    monkeypatch.setattr(report, "render_to_string", lambda *args, **kwargs: html)

    pdf = report.render_report({})

    warnings = [r.getMessage() for r in caplog.records if r.name == "questionnaire.report"]
    assert ("LEAKED-FROM-DISK" in pdf_text(pdf), len(warnings)) == (False, 3)
    assert all("refused" in message for message in warnings)


def test_render_uses_a_static_file_a_stylesheet_names(monkeypatch):
    # The one thing the fetcher is for: a report stylesheet's url() of our own files.
    html = f'<html><head><link rel="stylesheet" href="file://{STATIC_CSS}"></head><body>x</body>'
    fetched = []
    fetch = report.StaticFilesFetcher.fetch

    def spy(self, url, headers=None):
        fetched.append(url)
        return fetch(self, url, headers)

    monkeypatch.setattr(report.StaticFilesFetcher, "fetch", spy)
    monkeypatch.setattr(report, "render_to_string", lambda *args, **kwargs: html)

    assert report.render_report({}).startswith(b"%PDF") and fetched == [f"file://{STATIC_CSS}"]
