"""The network check as evidence: carried by the wizard, stored, shown on the page and PDF."""

from __future__ import annotations

import uuid

import pytest
from django.utils.html import escape, strip_tags

from network_check.models import NetworkCheck
from questionnaire.models import Assessment
from questionnaire.wizard import UNKNOWN_NETWORK_CHECK
from tests.network_check.measurements import BLOCKED, measurement
from tests.questionnaire.test_report import missing, pdf_text, report_url

pytestmark = pytest.mark.django_db

NEW = "/assessments/new/"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"


def carried(value: str) -> str:
    return f'<input type="hidden" name="network_check" value="{value}" data-network-check-id>'


def hidden(slug: str, value: str) -> str:
    return f'<input type="hidden" name="{slug}" value="{value}">'


def last_step(catalogue) -> str:
    return str(len(catalogue.sections) - 1)


def finish(client, answers: dict, check: str, *, url: str = NEW, step: str = "0", **extra):
    data = {**answers, "title": "Team chat", "step": step, "action": "finish"}
    return client.post(url, {**data, "network_check": check, **extra})


@pytest.fixture
def check() -> NetworkCheck:
    return NetworkCheck.objects.create(measurement=measurement(**BLOCKED), user_agent=BROWSER)


@pytest.fixture
def open_check() -> NetworkCheck:
    return NetworkCheck.objects.create(measurement=measurement(), user_agent="Other/1.0")


@pytest.fixture
def linked(client, chat_answers, check, catalogue) -> Assessment:
    """Chat answers (open middleboxes, HTTP/2) saved with the blocked check."""
    finish(client, chat_answers, str(check.pk), step=last_step(catalogue))
    return Assessment.objects.get()


# --- The wizard carries the check ------------------------------------------------------


def test_wizard_form_has_empty_check_field(client):
    assert carried("") in client.get(NEW).text


def test_wizard_next_carries_check(client, chat_answers, check):
    data = {**chat_answers, "step": "0", "action": "next", "network_check": str(check.pk)}
    page = client.post(NEW, data).text

    assert (carried(str(check.pk)) in page, 'name="step" value="1"' in page) == (True, True)


def test_wizard_back_carries_check(client, check):
    page = client.post(NEW, {"step": "2", "action": "back", "network_check": str(check.pk)}).text

    assert carried(str(check.pk)) in page


def test_wizard_htmx_step_carries_check(client, check):
    page = client.post(
        NEW,
        {"step": "0", "action": "goto-3", "network_check": str(check.pk)},
        headers={"HX-Request": "true"},
    ).text

    assert carried(str(check.pk)) in page


def test_finish_links_check_to_revision(linked, check):
    assert linked.latest.network_check == check


def test_finish_without_check_links_nothing(client, chat_answers, catalogue):
    finish(client, chat_answers, "", step=last_step(catalogue))

    assert Assessment.objects.get().latest.network_check is None


@pytest.mark.parametrize("bad", ["not-a-uuid", str(uuid.uuid4()), "x" * 5000])
def test_finish_with_bad_check_saves_nothing(client, chat_answers, catalogue, bad):
    response = finish(client, chat_answers, bad, step=last_step(catalogue))

    assert (response.status_code, Assessment.objects.count()) == (200, 0)


def test_finish_with_unknown_check_shows_inline_error(client, chat_answers, catalogue):
    page = finish(client, chat_answers, str(uuid.uuid4()), step=last_step(catalogue)).text

    assert missing(page, escape(UNKNOWN_NETWORK_CHECK), 'role="alert"', carried("")) == []


def test_finish_with_unknown_check_stays_on_the_step(client, chat_answers, catalogue):
    page = finish(client, chat_answers, str(uuid.uuid4()), step=last_step(catalogue)).text

    assert f'name="step" value="{last_step(catalogue)}"' in page


def test_finish_again_after_the_error_saves_without_check(client, chat_answers, catalogue):
    finish(client, chat_answers, str(uuid.uuid4()), step=last_step(catalogue))
    finish(client, chat_answers, "", step=last_step(catalogue))

    assert Assessment.objects.get().latest.network_check is None


def test_next_with_unknown_check_shows_error_on_next_step(client, chat_answers):
    data = {**chat_answers, "step": "0", "action": "next", "network_check": str(uuid.uuid4())}
    page = client.post(NEW, data).text

    assert missing(page, 'name="step" value="1"', escape(UNKNOWN_NETWORK_CHECK)) == []


# --- Editing -------------------------------------------------------------------------


def test_edit_carries_latest_check(client, linked, check):
    assert carried(str(check.pk)) in client.get(f"/assessments/{linked.pk}/edit/").text


def test_edit_finish_keeps_check(client, linked, check, chat_answers, catalogue):
    finish(
        client,
        chat_answers,
        str(check.pk),
        url=f"/assessments/{linked.pk}/edit/",
        step=last_step(catalogue),
    )

    assert [r.network_check for r in linked.revisions.all()] == [check, check]


def test_edit_with_new_check_replaces_it(
    client, linked, check, open_check, chat_answers, catalogue
):
    finish(
        client,
        chat_answers,
        str(open_check.pk),
        url=f"/assessments/{linked.pk}/edit/",
        step=last_step(catalogue),
    )

    assert [r.network_check for r in linked.revisions.all()] == [check, open_check]


def test_edit_with_unknown_check_adds_no_revision(client, linked, chat_answers, catalogue):
    finish(
        client,
        chat_answers,
        str(uuid.uuid4()),
        url=f"/assessments/{linked.pk}/edit/",
        step=last_step(catalogue),
    )

    assert linked.revisions.count() == 1


# --- Starting from a check -------------------------------------------------------------


def test_new_from_check_links_it(client, check):
    assert carried(str(check.pk)) in client.get(f"{NEW}?network_check={check.pk}").text


def test_new_from_check_ticks_suggested_answers(client, check, catalogue):
    page = client.get(f"{NEW}?network_check={check.pk}").text
    expected = [hidden("middleboxes", "strict"), hidden("http_version", "http2")]
    if catalogue.question("stream_buffering"):
        expected.append(hidden("stream_buffering", "buffered"))

    assert missing(page, *expected) == []


def test_new_from_check_network_step_shows_suggestions_checked(client, check):
    data = {
        "step": "0",
        "action": "goto-1",
        "middleboxes": "strict",
        "http_version": "http2",
        "network_check": str(check.pk),
    }
    page = client.post(f"{NEW}?network_check={check.pk}", data).text

    assert (
        missing(
            page,
            'name="middleboxes" value="strict" checked',
            'name="http_version" value="http2" checked',
            carried(str(check.pk)),
        )
        == []
    )


def test_new_from_check_says_answers_are_suggested(client, check):
    page = client.get(f"{NEW}?network_check={check.pk}").text

    assert "The answers your network check suggests are ticked" in page


def test_new_from_check_keeps_preset_answers(client, check):
    page = client.get(f"{NEW}?preset=chat&network_check={check.pk}").text

    assert missing(page, hidden("middleboxes", "strict"), hidden("hosting", "long_running")) == []


@pytest.mark.parametrize("bad", ["nope", str(uuid.uuid4())])
def test_new_from_bad_check_shows_inline_error(client, bad):
    response = client.get(f"{NEW}?network_check={bad}")

    assert (response.status_code, missing(response.text, escape(UNKNOWN_NETWORK_CHECK))) == (
        200,
        [],
    )


def test_new_from_bad_check_links_nothing(client):
    assert carried("") in client.get(f"{NEW}?network_check=nope").text


def test_new_from_check_story(client, check, chat_answers, catalogue):
    """Start from the check, accept its answers for the network questions, finish."""
    client.get(f"{NEW}?network_check={check.pk}")
    answers = {**chat_answers, "middleboxes": "strict"}
    finish(
        client,
        answers,
        str(check.pk),
        url=f"{NEW}?network_check={check.pk}",
        step=last_step(catalogue),
    )
    revision = Assessment.objects.get().latest

    assert (revision.network_check, revision.answers["middleboxes"]) == (check, "strict")


# --- The result page -----------------------------------------------------------------


@pytest.fixture
def page(client, linked) -> str:
    return client.get(linked.get_absolute_url()).text


def test_result_shows_evidence_heading_and_browser(page):
    assert missing(page, "Evidence: network check", BROWSER) == []


def test_result_shows_findings(page):
    assert (
        missing(
            page,
            "WebSocket upgrade",
            "Blocked (close code 1006)",
            "SSE delivery",
            "Buffered: 10 of 10 events arrived all at once",
            "Time to first SSE event",
            "HTTP/2 (h2)",
            "Concurrent SSE streams",
            "8 of 8 opened at once",
        )
        == []
    )


def test_result_says_measured_for_this_network(page):
    assert "evidence for users on the same network as this deployment" in page


def test_result_shows_override_with_the_answer_given(page, catalogue):
    open_label = catalogue.question("middleboxes").option("open").label

    assert missing(page, "Overrides the check", escape(open_label)) == []


def test_result_shows_answer_that_follows(page):
    assert "Follows the check" in page


def test_result_counts_followed_answers(page, catalogue):
    total = 3 if catalogue.question("stream_buffering") else 2
    # Chat answers: middleboxes open (overrides strict), http2 (follows); the
    # optional stream_buffering keeps its default "unknown" (overrides buffered).
    assert f"1 of {total} answers follows the check" in page


def test_result_without_check_has_no_evidence(client, chat_answers):
    assessment, _ = Assessment.create_scored("Team chat", chat_answers)

    assert "Evidence: network check" not in client.get(assessment.get_absolute_url()).text


def test_result_evidence_belongs_to_its_revision(client, linked, chat_answers):
    linked.revise("Team chat", chat_answers)
    url = linked.get_absolute_url()

    assert (
        "Evidence: network check" in client.get(f"{url}?revision=1").text,
        "Evidence: network check" in client.get(url).text,
    ) == (True, False)


def test_result_after_check_deleted_still_shows(client, linked, check):
    check.delete()

    assert client.get(linked.get_absolute_url()).status_code == 200


SIMULATED = "Simulated run (blocked): not evidence about your network."


@pytest.fixture
def simulated(chat_answers) -> Assessment:
    check = NetworkCheck.objects.create(
        measurement=measurement(**BLOCKED, simulated=["blocked"]), user_agent=BROWSER
    )
    assessment, _ = Assessment.create_scored("Team chat", chat_answers, network_check=check)
    return assessment


def test_result_labels_simulated_run(client, simulated):
    page = client.get(simulated.get_absolute_url()).text

    # Still shown, for the demonstration, but never passed off as evidence.
    assert missing(page, SIMULATED, "Blocked (close code 1006)") == []


def test_result_real_run_is_not_labelled_simulated(page):
    assert "Simulated run" not in page


def test_result_findings_say_fine_or_attention_in_words(page):
    # Not colour alone: each result starts with a word (and a mark). The
    # evidence partial names what was measured before each result, as the
    # check's panel and the PDF always did.
    shown = strip_tags(page)

    assert (
        missing(
            shown,
            "! Attention WebSocket upgrade: Blocked (close code 1006)",
            "✓ Fine HTTP version: HTTP/2 (h2)",
        )
        == []
    )


# --- The PDF -------------------------------------------------------------------------


@pytest.fixture
def text(client, linked) -> str:
    return pdf_text(client.get(report_url(linked)).content)


def test_report_shows_evidence(text):
    assert (
        missing(
            text,
            "Evidence: network check",
            BROWSER,
            "Blocked (close code 1006)",
            "Buffered: 10 of 10 events arrived all at once",
            "Time to first SSE event: 1.8 s",
            "HTTP/2 (h2)",
            "8 of 8 opened at once",
        )
        == []
    )


def test_report_says_measured_for_this_network(text):
    assert missing(text, "evidence for users on the same network as this deployment") == []


def test_report_shows_follows_and_overrides(text, catalogue):
    open_label = catalogue.question("middleboxes").option("open").label

    assert (
        missing(
            text,
            # The evidence partial's words, as on the result page.
            "Follows the check",
            f"Overrides the check: answered {open_label}",
        )
        == []
    )


def test_report_without_check_has_no_evidence(client, chat_answers):
    assessment, _ = Assessment.create_scored("Team chat", chat_answers)

    assert "Evidence" not in pdf_text(client.get(report_url(assessment)).content)


def test_report_labels_simulated_run(client, simulated):
    text = pdf_text(client.get(report_url(simulated)).content)

    assert missing(text, SIMULATED, "Blocked (close code 1006)") == []


def test_report_real_run_is_not_labelled_simulated(text):
    assert "Simulated run" not in text
