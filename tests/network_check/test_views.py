from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from network_check import views
from network_check.models import NetworkCheck
from network_check.suggestions import suggestions
from questionnaire.catalogue import get_catalogue
from questionnaire.models import Assessment
from questionnaire.report import TEMPLATE, report_context
from tests.questionnaire.test_report import missing

from .measurements import BLOCKED as BLOCKED_PATH
from .measurements import measurement

pytestmark = pytest.mark.django_db

PAGE = "/network-check/"
NEW = "/assessments/new/"
HTMX = {"HX-Request": "true"}


def test_network_check_page_offers_the_check_and_names_its_questions(client: Client) -> None:
    response = client.get(PAGE)

    assert response.status_code == 200
    body = response.content.decode()
    assert "Run the check" in body
    assert "js/network_check.js" in body
    # Honest about its reach: this browser to this server, nothing more.
    assert "the path between <strong>this browser</strong> and" in body
    assert 'data-question-text="middleboxes"' in body
    assert 'data-question-text="http_version"' in body
    assert 'data-question-text="stream_buffering"' in body
    # Without JavaScript the page says why nothing runs.
    assert "<noscript>" in body


def test_network_check_page_refuses_post(client: Client) -> None:
    assert client.post(PAGE).status_code == 405


def test_every_page_links_to_the_network_check(client: Client) -> None:
    body = client.get("/").content.decode()

    assert f'href="{PAGE}">Check my network<' in body
    assert f'href="{PAGE}">Check your network first<' in body


def test_wizard_shows_network_check_panel_only_on_network_step(client: Client) -> None:
    first = client.get(NEW).content.decode()
    network = client.post(NEW, {"step": "0", "action": "goto-1"}, headers=HTMX).content.decode()

    assert "data-network-check " not in first
    # Loaded once with the page, outside the part htmx swaps.
    assert "js/network_check.js" in first
    assert 'data-network-check data-mode="wizard"' in network
    assert "Use all suggested answers" in network


# --- The evidence partial: /network-check/<uuid>/evidence/ ---------------------------

BROWSER = "Mozilla/5.0 <script>alert(1)</script>"
# Blocked WebSocket, buffered SSE, HTTP/2, staged with ?simulate=blocked.
BLOCKED = {**BLOCKED_PATH, "simulated": ["blocked"]}


def evidence_url(pk) -> str:
    return f"/network-check/{pk}/evidence/"


def block(html: str, pattern: str) -> str:
    """The one stretch of ``html`` that ``pattern`` matches (the evidence's parts)."""
    [found] = re.findall(pattern, html, re.DOTALL)
    return found


FINDINGS = r'<ul class="evidence-findings">.*?</ul>'
NOTICE = r'<p class="notice simulated-run".*?</p>'
RUN = r'<p class="evidence-run muted">.*?</p>'


@pytest.fixture
def check() -> NetworkCheck:
    return NetworkCheck.objects.create(measurement=measurement(**BLOCKED), user_agent=BROWSER)


def test_evidence_url_is_named(check) -> None:
    assert reverse("network_check:evidence", args=[check.pk]) == evidence_url(check.pk)


def test_evidence_shows_the_check(client: Client, check) -> None:
    response = client.get(evidence_url(check.pk))

    assert response.status_code == 200
    assert (
        missing(
            response.text,
            f'data-evidence-of="{check.pk}"',
            'class="finding finding-problem" data-finding="websocket_upgrade" data-ok="false"',
            "Blocked (close code 1006)",
            'data-suggestion="middleboxes" data-value="strict"',
            "Simulated run (blocked): not evidence about your network.",
        )
        == []
    )


def test_evidence_is_a_fragment(client: Client, check) -> None:
    # Swapped into the panel: no page around it.
    body = client.get(evidence_url(check.pk)).text

    assert ("<html" not in body, "<body" not in body) == (True, True)


def test_evidence_escapes_what_the_browser_sent(client: Client, check) -> None:
    body = client.get(evidence_url(check.pk)).text

    assert (escape(BROWSER) in body, "<script>" not in body) == (True, True)


def test_evidence_unknown_check_is_404(client: Client) -> None:
    assert client.get(evidence_url(uuid.uuid4())).status_code == 404


def test_evidence_not_a_uuid_is_404(client: Client) -> None:
    assert client.get("/network-check/not-a-uuid/evidence/").status_code == 404


def test_evidence_answers_head(client: Client, check) -> None:
    response = client.head(evidence_url(check.pk))

    assert (response.status_code, response.content) == (200, b"")


def test_evidence_refuses_post(client: Client, check) -> None:
    assert client.post(evidence_url(check.pk)).status_code == 405


def test_evidence_in_the_wizard_offers_each_answer(client: Client, check) -> None:
    body = client.get(evidence_url(check.pk), {"mode": "wizard"}).text

    assert body.count("Use this answer") == len(suggestions(check.measurement, get_catalogue()))
    # Under the wizard panel's own h3.
    assert "<h4>What the check found</h4>" in body


def test_evidence_on_the_page_offers_nothing_to_tick(client: Client, check) -> None:
    body = client.get(evidence_url(check.pk)).text

    assert ("Use this answer" not in body, "<h3>What the check found</h3>" in body) == (
        True,
        True,
    )


def test_evidence_unknown_mode_is_400(client: Client, check) -> None:
    response = client.get(evidence_url(check.pk), {"mode": "<b>"})

    assert (response.status_code, response["Content-Type"]) == (
        400,
        "text/plain; charset=utf-8",
    )


def test_evidence_with_nothing_to_suggest_says_so(client: Client, check, monkeypatch) -> None:
    monkeypatch.setattr(views, "get_catalogue", WithoutCheck)

    body = client.get(evidence_url(check.pk)).text

    assert ("Nothing to suggest from this measurement." in body, "data-suggestion" in body) == (
        True,
        False,
    )


# --- One markup: the partial, the result page and the PDF's HTML -----------------------


@pytest.fixture
def linked(check, chat_answers) -> Assessment:
    assessment, _ = Assessment.create_scored("Team chat", chat_answers, network_check=check)
    return assessment


def report_html(assessment: Assessment) -> str:
    revisions = list(assessment.revisions.select_related("network_check"))
    context = report_context(assessment.display_title, revisions, revisions[-1])
    return render_to_string(TEMPLATE, {**context, "page_size": "A4"})


@pytest.mark.parametrize("part", [FINDINGS, NOTICE, RUN])
def test_result_page_shows_the_partials_markup(client: Client, linked, check, part) -> None:
    partial = client.get(evidence_url(check.pk)).text
    page = client.get(linked.get_absolute_url()).text

    assert block(page, part) == block(partial, part)


@pytest.mark.parametrize("part", [FINDINGS, NOTICE, RUN])
def test_pdf_html_shows_the_partials_markup(client: Client, linked, check, part) -> None:
    partial = client.get(evidence_url(check.pk)).text

    assert block(report_html(linked), part) == block(partial, part)


def test_result_page_and_pdf_share_the_suggestions_markup(client: Client, linked) -> None:
    suggestions_list = r'<ul class="evidence-suggestions">.*?</ul>'
    page = client.get(linked.get_absolute_url()).text

    assert block(page, suggestions_list) == block(report_html(linked), suggestions_list)


def test_templates_include_the_one_partial() -> None:
    # Nothing else builds the evidence: the templates include it, the script loads it.
    root = Path(settings.BASE_DIR)
    include = '{% include "network_check/_evidence.html#evidence"'
    # The result page shows it in its cached snapshot (questionnaire/snapshot.py).
    for name in ("questionnaire/_snapshot.html", "questionnaire/report.html"):
        text = (root / "templates" / name).read_text(encoding="utf-8")
        assert (include in text, "data-finding" not in text) == (True, True)
    script = (root / "static" / "js" / "network_check.js").read_text(encoding="utf-8")
    assert ("htmx.ajax(" in script, "data-finding" not in script) == (True, True)


class WithoutCheck:
    """The current catalogue, but with no question the check can answer."""

    def __init__(self) -> None:
        self.catalogue = get_catalogue()

    def __getattr__(self, name: str):
        return getattr(self.catalogue, name)

    def measured_by(self, check: str) -> tuple:
        return ()
