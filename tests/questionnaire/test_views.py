from __future__ import annotations

import json
import re
import uuid

import pytest
from django.test import Client
from django.utils.html import escape

from questionnaire.catalogue import get_catalogue
from questionnaire.models import Assessment, Revision
from questionnaire.wizard import INVALID_ANSWER, MISSING_ANSWER
from tests.seed import PRESETS
from workspaces import bearer
from workspaces.access import ANONYMOUS_KEY

pytestmark = pytest.mark.django_db

NEW = "/assessments/new/"
LEANING = "/assessments/leaning/"
HTMX = {"HX-Request": "true"}
LAST_STEP = "3"
FIRST_STEP = ["client_messages", "upstream_latency", "interaction_pattern"]


def finish_data(answers: dict[str, str], *, title: str = "", step: str = LAST_STEP) -> dict:
    return {**answers, "title": title, "step": step, "action": "finish"}


def step_data(answers: dict[str, str], *, step: str, action: str, title: str = "") -> dict:
    return {**answers, "title": title, "step": step, "action": action}


def checked(slug: str, value: str) -> str:
    return f'name="{slug}" value="{value}" checked'


def hidden(slug: str, value: str) -> str:
    return f'<input type="hidden" name="{slug}" value="{value}">'


def shown_step(response) -> str:
    return re.search(r'<input type="hidden" name="step" value="(\d+)">', response.text)[1]


def missing(page: str, *snippets: str) -> list[str]:
    """The snippets that ``page`` lacks: comparing with [] names them on failure."""
    return [snippet for snippet in snippets if snippet not in page]


def labels(catalogue, slug: str, *values: str) -> list[str]:
    question = catalogue.question(slug)
    return [question.option(value).label for value in values]


def session_owner(client) -> dict:
    """The placement of an anonymous assessment made by ``client``'s browser session."""
    session = client.session
    session.setdefault(ANONYMOUS_KEY, "this-browser")
    session.save()
    return {"anonymous_owner": bearer.digest(session[ANONYMOUS_KEY])}


@pytest.fixture
def saved(client, chat_answers) -> Assessment:
    """Made anonymously by the test's client, which may therefore edit it."""
    assessment, _ = Assessment.create_scored("Team chat", chat_answers, **session_owner(client))
    return assessment


@pytest.fixture
def edited(client, saved, chat_answers) -> Assessment:
    """The chat assessment edited so that clients never send: the verdict turns to SSE."""
    answers = {**chat_answers, "client_messages": "none"}
    client.post(f"/assessments/{saved.pk}/edit/", finish_data(answers, title="Team chat"))
    saved.refresh_from_db()
    return saved


# --- Home ----------------------------------------------------------------------


def test_home_ok(client):
    assert client.get("/").status_code == 200


def test_home_links_every_preset(client):
    page = client.get("/").text

    assert missing(page, *(f'href="{NEW}?preset={slug}"' for slug in PRESETS)) == []


def test_home_links_only_presets(client):
    page = client.get("/").text

    assert page.count(f'href="{NEW}?preset=') == len(PRESETS)


def test_home_shows_preset_titles(client, catalogue):
    page = client.get("/").text

    assert missing(page, *(escape(preset.title) for preset in catalogue.presets)) == []


def test_home_recent_empty_for_new_visitor(client):
    assert "Assessments you complete in this browser are listed here." in client.get("/").text


def test_home_recent_lists_own_assessment(client, chat_answers):
    response = client.post(NEW, finish_data(chat_answers, title="Our chat"))

    assert f'<a href="{response["Location"]}">Our chat</a>' in client.get("/").text


def test_home_recent_hides_other_sessions_assessments(client, chat_answers):
    Client().post(NEW, finish_data(chat_answers, title="Somebody else's chat"))

    assert escape("Somebody else's chat") not in client.get("/").text


def test_home_recent_hides_api_created_assessments(client, chat_answers):
    client.post(
        "/api/assessments/",
        json.dumps({"title": "From a script", "answers": chat_answers}),
        content_type="application/json",
    )

    assert "From a script" not in client.get("/").text


def test_home_recent_newest_first(client, chat_answers, dashboard_answers):
    client.post(NEW, finish_data(chat_answers, title="Older app"))
    client.post(NEW, finish_data(dashboard_answers, title="Newer app"))

    page = client.get("/").text
    assert page.index(">Newer app</a>") < page.index(">Older app</a>")


def test_home_recent_shows_recommendation(client, dashboard_answers):
    client.post(NEW, finish_data(dashboard_answers, title="Ops"))

    assert '<span class="badge badge-sse">Server-Sent Events</span>' in client.get("/").text


def test_home_recent_includes_assessments_edited_here(client, saved, chat_answers):
    client.post(f"/assessments/{saved.pk}/edit/", finish_data(chat_answers, title="Team chat"))

    assert f'<a href="/assessments/{saved.pk}/">Team chat</a>' in client.get("/").text


# --- Wizard: new assessment ------------------------------------------------------


def test_new_get_ok(client):
    assert client.get(NEW).status_code == 200


def test_new_get_shows_first_step(client):
    response = client.get(NEW)

    assert shown_step(response) == "0"
    assert '<h2 tabindex="-1">Interactivity</h2>' in response.text


def test_new_get_has_title_field(client):
    assert 'id="id_title" type="text" name="title"' in client.get(NEW).text


def test_new_get_without_preset_checks_only_the_optional_default(client):
    checked_now = re.findall(r'name="(\w+)" value="(\w+)" checked', client.get(NEW).text)

    assert checked_now == [("server_commands", "no")]


def test_new_preset_checks_answers_of_first_step(client, chat_answers):
    page = client.get(NEW, {"preset": "chat"}).text

    assert missing(page, *(checked(slug, chat_answers[slug]) for slug in FIRST_STEP)) == []


def test_new_preset_carries_other_answers_as_hidden_inputs(client, chat_answers):
    page = client.get(NEW, {"preset": "chat"}).text
    others = [slug for slug in chat_answers if slug not in FIRST_STEP]

    assert missing(page, *(hidden(slug, chat_answers[slug]) for slug in others)) == []


def test_new_preset_fills_title(client):
    page = client.get(NEW, {"preset": "chat"}).text

    assert 'name="title" value="Real-time messaging and chat"' in page


def test_new_preset_names_use_case(client):
    page = client.get(NEW, {"preset": "dashboard"}).text

    assert "<h1>New assessment: Real-time dashboard</h1>" in page


def test_new_unknown_preset_ignored(client):
    response = client.get(NEW, {"preset": "carrier-pigeon"})

    assert response.status_code == 200
    assert "<h1>New assessment</h1>" in response.text
    assert re.findall(r"value=\"(\w+)\" checked", response.text) == ["no"]


def test_new_preset_shows_leaning(client):
    page = client.get(NEW, {"preset": "dashboard"}).text

    assert '<span class="badge badge-sse">Server-Sent Events (SSE)</span>' in page


def test_new_next_with_missing_answers_shows_error(client):
    response = client.post(NEW, step_data({"client_messages": "none"}, step="0", action="next"))

    assert response.status_code == 200
    assert MISSING_ANSWER in response.text


def test_new_next_with_missing_answers_stays_on_step(client):
    response = client.post(NEW, step_data({"client_messages": "none"}, step="0", action="next"))

    assert shown_step(response) == "0"


def test_new_next_with_missing_answers_marks_question(client):
    response = client.post(NEW, step_data({"client_messages": "none"}, step="0", action="next"))

    assert (
        missing(
            response.text,
            'id="q-upstream_latency" class="question has-error" aria-invalid="true"',
            'id="q-interaction_pattern" class="question has-error" aria-invalid="true"',
        )
        == []
    )
    assert 'id="q-client_messages" class="question"' in response.text


def test_new_next_with_missing_answers_saves_nothing(client):
    client.post(NEW, step_data({}, step="0", action="next"))

    assert Assessment.objects.count() == 0


def test_new_next_moves_to_next_step(client, chat_answers):
    response = client.post(NEW, step_data(chat_answers, step="0", action="next"))

    assert shown_step(response) == "1"
    assert MISSING_ANSWER not in response.text


def test_new_next_carries_title(client, chat_answers):
    response = client.post(NEW, step_data(chat_answers, step="0", action="next", title="Ops"))

    assert hidden("title", "Ops") in response.text


def test_new_post_without_action_means_next(client, chat_answers):
    response = client.post(NEW, {**chat_answers, "step": "0"})

    assert shown_step(response) == "1"


def test_new_post_renders_full_page_without_htmx(client, chat_answers):
    response = client.post(NEW, step_data(chat_answers, step="0", action="next"))

    assert "<html" in response.text


def test_new_htmx_post_renders_only_wizard(client, chat_answers):
    response = client.post(NEW, step_data(chat_answers, step="0", action="next"), headers=HTMX)

    assert "<html" not in response.text
    assert response.text.strip().startswith('<div id="wizard"')


def test_new_htmx_post_with_error_renders_only_wizard(client):
    response = client.post(NEW, step_data({}, step="0", action="next"), headers=HTMX)

    assert "<html" not in response.text
    assert MISSING_ANSWER in response.text


def test_new_back_keeps_answers_of_step_left(client, chat_answers):
    response = client.post(NEW, step_data(chat_answers, step="1", action="back"))
    network = ["middleboxes", "http_version", "hosting", "load_balancer"]

    assert missing(response.text, *(hidden(slug, chat_answers[slug]) for slug in network)) == []


def test_new_back_checks_answers_of_step_returned_to(client, chat_answers):
    response = client.post(NEW, step_data(chat_answers, step="1", action="back"))

    assert checked("client_messages", chat_answers["client_messages"]) in response.text


def test_new_back_shows_previous_step_without_errors(client):
    response = client.post(NEW, step_data({}, step="1", action="back"))

    assert shown_step(response) == "0"
    assert MISSING_ANSWER not in response.text


def test_new_back_keeps_partial_answers(client):
    response = client.post(NEW, step_data({"hosting": "paas"}, step="1", action="back"))

    assert hidden("hosting", "paas") in response.text


def test_new_goto_jumps_to_step(client):
    response = client.post(NEW, step_data({}, step="0", action="goto-2"))

    assert shown_step(response) == "2"
    assert '<h2 tabindex="-1">Payload</h2>' in response.text


def test_new_goto_superscript_digit_never_500(client):
    response = client.post(NEW, step_data({}, step="0", action="goto-²"))

    assert response.status_code == 200


# int() raises past 4,300 digits: these were 500s.
def test_new_goto_huge_step_stays_on_the_step(client):
    response = client.post(NEW, step_data({}, step="1", action="goto-" + "1" * 5000))

    assert (response.status_code, shown_step(response)) == (200, "1")


def test_edit_goto_huge_step_stays_on_the_step(client, saved):
    response = client.post(
        f"/assessments/{saved.pk}/edit/", step_data({}, step="2", action="goto-" + "2" * 5000)
    )

    assert (response.status_code, shown_step(response)) == (200, "2")


def test_new_huge_step_starts_at_the_first_step(client):
    response = client.post(NEW, step_data({}, step="3" * 5000, action="back"))

    assert (response.status_code, shown_step(response)) == (200, "0")


def test_new_finish_redirects_to_result(client, chat_answers):
    response = client.post(NEW, finish_data(chat_answers))

    assessment = Assessment.objects.get()
    assert (response.status_code, response["Location"]) == (302, f"/assessments/{assessment.pk}/")


def test_new_finish_htmx_redirects_client(client, chat_answers):
    response = client.post(NEW, finish_data(chat_answers), headers=HTMX)

    assessment = Assessment.objects.get()
    assert (response.status_code, response["HX-Redirect"]) == (
        200,
        f"/assessments/{assessment.pk}/",
    )


def test_new_finish_saves_one_assessment_with_one_revision(client, chat_answers):
    client.post(NEW, finish_data(chat_answers))

    assert (Assessment.objects.count(), Revision.objects.count()) == (1, 1)


def test_new_finish_stores_answers(client, chat_answers):
    # The form leaves out the optional questions: they are saved as their defaults.
    client.post(NEW, finish_data(chat_answers))

    assert Revision.objects.get().answers == {
        **chat_answers,
        "server_commands": "no",
        "stream_buffering": "unknown",
    }


def test_new_network_step_ticks_the_optional_default(client, chat_answers):
    response = client.post(NEW, step_data(chat_answers, step="0", action="next"))

    assert checked("stream_buffering", "unknown") in response.text


def test_new_finish_stores_a_chosen_optional_answer(client, dashboard_answers):
    client.post(NEW, finish_data({**dashboard_answers, "stream_buffering": "buffered"}))

    revision = Revision.objects.get()
    assert revision.answers["stream_buffering"] == "buffered"
    assert "sse-buffered" in {caveat["slug"] for caveat in revision.result["caveats"]}


def test_new_finish_stores_title(client, chat_answers):
    client.post(NEW, finish_data(chat_answers, title="  Team chat "))

    assert Assessment.objects.get().title == "Team chat"


def test_new_finish_ignores_extra_fields(client, chat_answers):
    client.post(NEW, {**finish_data(chat_answers), "recommendation": "sse"})

    assert Assessment.objects.get().recommendation == "websocket"


def test_new_finish_with_answer_missing_saves_nothing(client, chat_answers):
    del chat_answers["hosting"]

    client.post(NEW, finish_data(chat_answers))

    assert Assessment.objects.count() == 0


def test_new_finish_with_answer_missing_lands_on_its_step(client, chat_answers):
    del chat_answers["hosting"]

    response = client.post(NEW, finish_data(chat_answers))

    assert response.status_code == 200
    assert shown_step(response) == "1"
    assert '<p class="field-error" id="err-hosting">' + MISSING_ANSWER in response.text


def test_new_finish_with_answer_missing_keeps_the_others(client, chat_answers):
    del chat_answers["hosting"]

    response = client.post(NEW, finish_data(chat_answers))

    assert checked("middleboxes", chat_answers["middleboxes"]) in response.text


def test_new_invalid_option_shows_error(client, chat_answers):
    answers = {**chat_answers, "client_messages": "carrier-pigeon"}

    response = client.post(NEW, step_data(answers, step="0", action="next"))

    assert response.status_code == 200
    assert shown_step(response) == "0"
    assert '<p class="field-error" id="err-client_messages">' + INVALID_ANSWER in response.text


def test_new_invalid_option_on_finish_saves_nothing(client, chat_answers):
    client.post(NEW, finish_data({**chat_answers, "scale": "galactic"}))

    assert Assessment.objects.count() == 0


def test_new_invalid_option_on_finish_lands_on_its_step(client, chat_answers):
    response = client.post(NEW, finish_data({**chat_answers, "scale": "galactic"}))

    assert shown_step(response) == "3"
    assert '<p class="field-error" id="err-scale">' + INVALID_ANSWER in response.text


def test_new_title_too_long_shows_error(client, chat_answers):
    response = client.post(NEW, finish_data(chat_answers, title="x" * 201))

    assert shown_step(response) == "0"
    assert "The title must be at most 200 characters." in response.text


def test_new_title_too_long_saves_nothing(client, chat_answers):
    client.post(NEW, finish_data(chat_answers, title="x" * 201))

    assert Assessment.objects.count() == 0


def test_new_finish_title_with_nul_never_500(chat_answers):
    client = Client(raise_request_exception=False)

    response = client.post(NEW, finish_data(chat_answers, title="Team\x00chat"))

    assert response.status_code < 500


def test_new_put_not_allowed(client):
    assert client.put(NEW).status_code == 405


# --- Leaning panel ---------------------------------------------------------------


def test_leaning_read_only_clients_lean_sse(client):
    response = client.post(LEANING, {"client_messages": "none"})

    assert response.status_code == 200
    assert "Server-Sent Events" in response.text


def test_leaning_chatty_clients_lean_websocket(client):
    answers = {"client_messages": "frequent", "upstream_latency": "realtime"}

    response = client.post(LEANING, answers)

    assert '<span class="badge badge-websocket">WebSocket</span>' in response.text


def test_leaning_counts_answers(client):
    response = client.post(LEANING, {"client_messages": "none", "scale": "small"})

    # The optional questions' defaults count as answered.
    assert "from 4 of 16 answers" in response.text


def test_leaning_with_only_the_optional_default_prompts(client):
    assert "Answer a question" in client.post(LEANING, {"stream_buffering": "unknown"}).text


def test_leaning_with_a_chosen_optional_answer_leans(client):
    response = client.post(LEANING, {"stream_buffering": "buffered"})

    assert '<span class="badge badge-websocket">WebSocket</span>' in response.text


def test_leaning_without_answers_prompts(client):
    assert "Answer a question" in client.post(LEANING, {}).text


def test_leaning_ignores_invalid_values(client):
    assert "Answer a question" in client.post(LEANING, {"client_messages": "pigeon"}).text


def test_leaning_is_a_fragment(client):
    response = client.post(LEANING, {"client_messages": "none"})

    # The panel's content only: the panel itself stays in the page.
    assert "<html" not in response.text
    assert "<aside" not in response.text
    assert response.text.strip().startswith('<h2 id="leaning-heading">')


def test_leaning_get_not_allowed(client):
    assert client.get(LEANING).status_code == 405


# --- Result page -------------------------------------------------------------------


@pytest.fixture
def page(client, saved) -> str:
    return client.get(saved.get_absolute_url()).text


def test_result_ok(client, saved):
    assert client.get(saved.get_absolute_url()).status_code == 200


def test_result_shows_title(page):
    assert "<h1>Team chat</h1>" in page


def test_result_shows_verdict(page):
    assert '<span class="verdict-transport">WebSocket</span>' in page


def test_result_shows_confidence(page, saved):
    assert f"{saved.confidence.capitalize()} confidence" in page


def test_result_shows_scores(page, saved):
    scores = saved.latest.result["scores"]

    assert f"WebSocket scores {scores['websocket']} points against SSE's {scores['sse']}" in page


def test_result_has_inline_svg_chart(page):
    assert '<svg class="score-chart" role="img"' in page


def test_result_chart_has_a_row_per_section_and_total(page, catalogue):
    chart = page[page.index("<svg") : page.index("</svg>")]
    rows = [*(section.title for section in catalogue.sections), "Total"]

    assert missing(chart, *(f">{escape(row)}</text>" for row in rows)) == []


def test_result_shows_every_reasons_question(page, saved):
    reasons = saved.latest.result["reasons"]

    assert (
        missing(page, *(f'<th scope="row">{escape(r["question_text"])}</th>' for r in reasons))
        == []
    )


def test_result_shows_reason_text(page, saved):
    reason = saved.latest.result["reasons"][0]

    assert escape(reason["reason"]) in page


def test_result_shows_pattern_title(page, saved):
    pattern = saved.latest.result["pattern"]["title"]

    assert f"Delivery pattern: {escape(pattern)}" in page


def test_result_shows_caveat_titles(page, saved):
    caveats = [caveat["title"] for caveat in saved.latest.result["caveats"]]

    assert caveats
    assert missing(page, *(f"<strong>{escape(title)}.</strong>" for title in caveats)) == []


def test_result_shows_flip(page, catalogue, chat_answers):
    before, after = labels(catalogue, "client_messages", chat_answers["client_messages"], "none")
    question = escape(catalogue.question("client_messages").text)
    change = f"from <em>{escape(before)}</em> to <strong>{escape(after)}</strong>"

    assert f"“{question}” {change}" in page


def test_result_shows_checklist(page, saved):
    checklist = saved.latest.result["checklist"]
    items = [*checklist["implementation"], *checklist["security"]]

    assert items
    assert missing(page, *(f"<li>{escape(item)}</li>" for item in items)) == []


def test_result_of_fallback_pattern_shows_both_checklists(client, chat_answers, catalogue):
    behind_proxies, _ = Assessment.create_scored(
        "Chat", {**chat_answers, "middleboxes": "corporate"}
    )
    sse = catalogue.checklists["sse"]

    page = client.get(behind_proxies.get_absolute_url()).text

    assert (
        missing(
            page,
            "Checklists for WebSocket and Server-Sent Events (SSE)",
            "<h3>WebSocket, the recommended transport</h3>",
            "<h3>Server-Sent Events (SSE), which this pattern also uses</h3>",
            *(f"<li>{escape(item)}</li>" for item in (*sse.implementation, *sse.security)),
        )
        == []
    )


def test_result_of_single_transport_pattern_shows_one_checklist(page, catalogue):
    assert '<h2 id="checklist-heading">Checklist for WebSocket</h2>' in page
    assert escape(catalogue.checklists["sse"].implementation[0]) not in page


def test_result_shows_what_a_cancelling_answer_gave_each_side(client, chat_answers):
    rare = {**chat_answers, "client_messages": "occasional", "upstream_latency": "realtime"}
    assessment, _ = Assessment.create_scored("Chat", rare)

    page = client.get(assessment.get_absolute_url()).text

    assert "WebSocket +3, SSE +3: they cancel out" in page


def test_result_explains_a_tie(client, chat_answers):
    even = {**chat_answers, "upstream_latency": "relaxed", "load_balancer": "http_only"}
    assessment, _ = Assessment.create_scored("Chat", even)

    page = client.get(assessment.get_absolute_url()).text

    assert "WebSocket and SSE both score 14 points: the tie-break rule gives a tie to SSE" in page
    assert "SSE scores 14 points against WebSocket's 14" not in page


def test_result_shows_share_link(page, saved):
    url = f"http://testserver/assessments/{saved.pk}/"

    assert f'<input id="share-url" type="text" readonly value="{url}">' in page


def test_result_links_to_edit(page, saved):
    assert f'href="/assessments/{saved.pk}/edit/"' in page


def test_result_latest_has_no_earlier_revision_notice(page):
    assert "earlier revision" not in page


def test_result_unknown_assessment_404(client):
    assert client.get(f"/assessments/{uuid.uuid4()}/").status_code == 404


def test_result_renders_stored_snapshot(client, saved):
    revision = saved.latest
    revision.result["pattern"]["title"] = "Pattern from the stored snapshot"
    revision.save()

    page = client.get(saved.get_absolute_url()).text

    assert "Delivery pattern: Pattern from the stored snapshot" in page


def test_result_renders_stored_verdict_not_rescored(client, saved, dashboard_answers):
    revision = saved.latest
    revision.answers = dashboard_answers
    revision.save()

    page = client.get(saved.get_absolute_url()).text

    assert '<span class="verdict-transport">WebSocket</span>' in page


def test_result_with_withdrawn_catalogue_version_still_renders(client, saved):
    Revision.objects.filter(pk=saved.latest.pk).update(catalogue_version="0.1")

    response = client.get(saved.get_absolute_url())

    assert response.status_code == 200
    assert "catalogue v0.1" in response.text


def test_result_unknown_revision_404(client, saved):
    assert client.get(saved.get_absolute_url(), {"revision": "9"}).status_code == 404


def test_result_malformed_revision_404(client, saved):
    assert client.get(saved.get_absolute_url(), {"revision": "abc"}).status_code == 404


@pytest.mark.parametrize("revision", ["1" * 10, "1" * 5000, "1" * 5000 + "x", "-1", "²"])
def test_result_huge_or_malformed_revision_404(client, saved, revision):
    assert client.get(saved.get_absolute_url(), {"revision": revision}).status_code == 404


def test_result_share_link_behind_tls_proxy_is_https(client, settings, saved):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # A proxy passes on the browser's Host along with the protocol.
    through_tls_proxy = {"Host": "testserver", "X-Forwarded-Proto": "https"}

    page = client.get(saved.get_absolute_url(), headers=through_tls_proxy).text

    assert f'value="https://testserver/assessments/{saved.pk}/"' in page


def test_result_get_only(client, saved):
    assert client.post(saved.get_absolute_url()).status_code == 405


# --- Editing and revisions ---------------------------------------------------------


def test_edit_get_ok(client, saved):
    assert client.get(f"/assessments/{saved.pk}/edit/").status_code == 200


def test_edit_get_checks_current_answers(client, saved, chat_answers):
    page = client.get(f"/assessments/{saved.pk}/edit/").text

    assert missing(page, *(checked(slug, chat_answers[slug]) for slug in FIRST_STEP)) == []


def test_edit_get_carries_other_answers(client, saved, chat_answers):
    page = client.get(f"/assessments/{saved.pk}/edit/").text
    others = [slug for slug in chat_answers if slug not in FIRST_STEP]

    assert missing(page, *(hidden(slug, chat_answers[slug]) for slug in others)) == []


def test_edit_get_fills_title(client, saved):
    assert 'name="title" value="Team chat"' in client.get(f"/assessments/{saved.pk}/edit/").text


def test_edit_get_announces_next_revision(client, saved):
    page = client.get(f"/assessments/{saved.pk}/edit/").text

    assert "Saving creates revision 2" in page


def test_edit_get_uses_latest_revision(client, saved, dashboard_answers):
    saved.revise("Team chat", dashboard_answers)

    page = client.get(f"/assessments/{saved.pk}/edit/").text

    assert checked("client_messages", dashboard_answers["client_messages"]) in page


def test_edit_get_drops_answers_to_questions_no_longer_asked(client, saved):
    revision = saved.latest
    revision.answers["retired_question"] = "yes"
    revision.save()

    page = client.get(f"/assessments/{saved.pk}/edit/").text

    assert 'name="retired_question"' not in page


@pytest.fixture
def saved_with_first_catalogue(client, chat_answers) -> Assessment:
    assessment, _ = Assessment.create_scored(
        "Team chat", chat_answers, get_catalogue("1"), **session_owner(client)
    )
    return assessment


def test_edit_of_first_catalogue_revision_carries_the_optional_default(
    client, saved_with_first_catalogue
):
    page = client.get(f"/assessments/{saved_with_first_catalogue.pk}/edit/").text

    assert hidden("stream_buffering", "unknown") in page


def test_edit_of_first_catalogue_revision_saves_with_the_current_one(
    client, saved_with_first_catalogue, chat_answers
):
    client.post(f"/assessments/{saved_with_first_catalogue.pk}/edit/", finish_data(chat_answers))

    revisions = Revision.objects.filter(assessment=saved_with_first_catalogue)
    assert [(r.catalogue_version, r.answers.get("stream_buffering")) for r in revisions] == [
        ("1", None),
        (get_catalogue().version, "unknown"),
    ]


def test_edit_unknown_assessment_404(client):
    assert client.get(f"/assessments/{uuid.uuid4()}/edit/").status_code == 404


def test_edit_finish_redirects_to_result(client, saved, chat_answers):
    response = client.post(f"/assessments/{saved.pk}/edit/", finish_data(chat_answers))

    assert (response.status_code, response["Location"]) == (302, f"/assessments/{saved.pk}/")


def test_edit_finish_creates_revision_2(edited):
    assert list(edited.revisions.values_list("number", flat=True)) == [1, 2]


def test_edit_finish_creates_no_new_assessment(edited):
    assert Assessment.objects.count() == 1


def test_edit_finish_updates_recommendation(edited):
    assert edited.recommendation == "sse"


def test_edit_finish_keeps_first_revision(edited, chat_answers):
    first = edited.revisions.get(number=1)

    assert (first.answers, first.result["recommendation"]) == (
        {**chat_answers, "server_commands": "no", "stream_buffering": "unknown"},
        "websocket",
    )


def test_edit_with_missing_answer_saves_no_revision(client, saved, chat_answers):
    del chat_answers["scale"]

    client.post(f"/assessments/{saved.pk}/edit/", finish_data(chat_answers))

    assert saved.revisions.count() == 1


def test_result_lists_both_revisions(client, edited):
    page = client.get(edited.get_absolute_url()).text

    assert missing(page, *(f'?revision={n}">Revision {n}</a>' for n in (1, 2))) == []


def test_result_lists_changed_answer(client, edited, catalogue, chat_answers):
    before, after = labels(catalogue, "client_messages", chat_answers["client_messages"], "none")
    question = escape(catalogue.question("client_messages").text)

    page = client.get(edited.get_absolute_url()).text

    assert f"{question}: <del>{escape(before)}</del> → <ins>{escape(after)}</ins>" in page


def test_result_lists_only_changed_answers(client, edited):
    page = client.get(edited.get_absolute_url()).text

    assert page.count("<del>") == 1


def test_result_says_verdict_changed(client, edited):
    assert "Verdict changed" in client.get(edited.get_absolute_url()).text


def test_result_verdict_unchanged_not_flagged(client, saved, chat_answers):
    client.post(f"/assessments/{saved.pk}/edit/", finish_data(chat_answers, title="Renamed"))

    page = client.get(saved.get_absolute_url()).text

    assert "Verdict changed" not in page
    assert "No answers changed." in page


def test_result_after_edit_shows_new_verdict(client, edited):
    page = client.get(edited.get_absolute_url()).text

    assert '<span class="verdict-transport">Server-Sent Events (SSE)</span>' in page


def test_result_first_revision_shows_old_verdict(client, edited):
    page = client.get(edited.get_absolute_url(), {"revision": "1"}).text

    assert '<span class="verdict-transport">WebSocket</span>' in page


def test_result_first_revision_shows_earlier_revision_notice(client, edited):
    page = client.get(edited.get_absolute_url(), {"revision": "1"}).text

    assert "You are looking at an earlier revision." in page


def test_result_latest_revision_by_number_has_no_notice(client, edited):
    page = client.get(edited.get_absolute_url(), {"revision": "2"}).text

    assert "earlier revision" not in page


@pytest.fixture
def renamed(client, saved, chat_answers) -> Assessment:
    """The chat assessment edited under a new title, its answers unchanged."""
    client.post(f"/assessments/{saved.pk}/edit/", finish_data(chat_answers, title="Renamed chat"))
    saved.refresh_from_db()
    return saved


def test_result_first_revision_keeps_its_title(client, renamed):
    page = client.get(renamed.get_absolute_url(), {"revision": "1"}).text

    assert missing(page, "<h1>Team chat</h1>", "<title>Team chat: ") == []
    assert "Renamed chat" not in page


def test_result_after_rename_shows_new_title(client, renamed):
    page = client.get(renamed.get_absolute_url()).text

    assert missing(page, "<h1>Renamed chat</h1>", "<title>Renamed chat: ") == []


def test_edit_get_fills_latest_revisions_title(client, renamed):
    page = client.get(f"/assessments/{renamed.pk}/edit/").text

    assert 'name="title" value="Renamed chat"' in page


def test_home_recent_shows_latest_title(client, renamed):
    assert "Renamed chat" in client.get("/").text


def test_result_after_edit_unknown_revision_404(client, edited):
    assert client.get(edited.get_absolute_url(), {"revision": "9"}).status_code == 404


# --- Admin -------------------------------------------------------------------------


def test_admin_list_shows_title_and_recommendation(admin_client, saved):
    page = admin_client.get("/admin/questionnaire/assessment/").text

    assert "Team chat" in page
    assert '<td class="field-recommendation">WebSocket</td>' in page


def test_admin_list_counts_revisions(admin_client, saved, dashboard_answers):
    saved.revise("Team chat", dashboard_answers)

    page = admin_client.get("/admin/questionnaire/assessment/").text

    assert '<td class="field-revision_count">2</td>' in page


def test_admin_search_by_title(admin_client, saved, dashboard_answers):
    Assessment.create_scored("Ops dashboard", dashboard_answers)

    page = admin_client.get("/admin/questionnaire/assessment/", {"q": "chat"}).text

    assert "Team chat" in page
    assert "Ops dashboard" not in page


def test_admin_change_page_opens(admin_client, saved):
    response = admin_client.get(f"/admin/questionnaire/assessment/{saved.pk}/change/")

    assert response.status_code == 200
    assert '<div class="readonly">Team chat</div>' in response.text


def test_admin_cannot_rename_an_assessment(admin_client, saved):
    # A title set here would belong to no revision, and the next edit would undo it.
    admin_client.post(
        f"/admin/questionnaire/assessment/{saved.pk}/change/",
        {
            "title": "Renamed in the admin",
            "revisions-TOTAL_FORMS": "1",
            "revisions-INITIAL_FORMS": "1",
            "revisions-0-id": str(saved.latest.pk),
            "revisions-0-assessment": str(saved.pk),
        },
    )

    saved.refresh_from_db()
    assert (saved.title, saved.latest.title) == ("Team chat", "Team chat")


def test_admin_change_page_lists_each_revisions_title(admin_client, saved, chat_answers):
    saved.revise("Renamed chat", chat_answers)

    page = admin_client.get(f"/admin/questionnaire/assessment/{saved.pk}/change/").text

    cells = re.findall(r'<td class="field-title">\s*<p>(.*?)</p>', page)
    assert cells == ["Team chat", "Renamed chat"]


def test_admin_needs_login(client, saved):
    response = client.get("/admin/questionnaire/assessment/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_cannot_add_assessment_without_revision(admin_client):
    # An assessment without a scored revision would break its result page.
    response = admin_client.post(
        "/admin/questionnaire/assessment/add/",
        {
            "title": "Added in the admin",
            "revisions-TOTAL_FORMS": "0",
            "revisions-INITIAL_FORMS": "0",
            "revisions-MIN_NUM_FORMS": "0",
            "revisions-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 403
    assert Assessment.objects.count() == 0
