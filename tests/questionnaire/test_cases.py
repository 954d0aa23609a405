"""The case library: its data, the engine held to it, "products like yours" and /cases/.

The agreement figures this module checks are also printed at the end of the
run (tests/questionnaire/conftest.py) and quoted in docs/cases.md.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from django.utils.html import escape

from questionnaire import cases, rescoring
from questionnaire.cases import (
    DOMAINS,
    LIBRARY_DIR,
    agreement,
    agreement_lines,
    case_problems,
    get_library,
    parse_library,
    question_weights,
    similar_cases,
    similarity,
    verdicts,
)
from questionnaire.catalogue import CatalogueError, get_catalogue
from questionnaire.models import Assessment
from questionnaire.scoring import evaluate, validate_answers
from tests.questionnaire.test_report import missing as missing_in_pdf
from tests.questionnaire.test_report import pdf_text, report_url

LIBRARY = get_library()
CATALOGUE = LIBRARY.catalogue
SCORED = [case for case in LIBRARY.cases if case.scored]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "cases.md"
API_FIELDS = {
    "name",
    "transport",
    "similarity",
    "same_answers",
    "compared_answers",
    "wire",
    "exception",
    "differing_answers",
    "source",
}


def _data() -> dict:
    return json.loads((LIBRARY_DIR / f"{LIBRARY.version}.json").read_text(encoding="utf-8"))


# --- The data ---------------------------------------------------------------------------


def test_library_targets_the_newest_catalogue():
    assert (LIBRARY.version, CATALOGUE.version) == (get_catalogue().version,) * 2


def test_library_holds_at_least_forty_real_systems():
    assert len(LIBRARY.cases) >= 40


def test_library_covers_every_domain():
    assert {case.domain for case in LIBRARY.cases} == set(DOMAINS)


def test_library_has_both_transports_fallbacks_hybrids_and_systems_offering_both():
    assert {case.transport for case in LIBRARY.cases} == {"websocket", "sse", "both"}
    assert {case.style for case in LIBRARY.cases} == {"single", "fallback", "hybrid", "both"}


@pytest.mark.parametrize("case", LIBRARY.cases, ids=lambda case: case.slug)
def test_case_answers_are_valid_and_complete_for_its_catalogue(case):
    assert validate_answers(CATALOGUE, dict(case.answers)) == {}
    assert set(case.answers) == {question.slug for question in CATALOGUE.questions}


@pytest.mark.parametrize("case", LIBRARY.cases, ids=lambda case: case.slug)
def test_case_names_what_it_does_how_and_a_source_to_follow(case):
    assert case.summary and case.uses and case.source.title
    assert re.fullmatch(r"https://[^\s<>\"']+", case.source.url)


def test_a_case_with_an_answer_its_catalogue_lacks_is_refused():
    data = _data()
    data["cases"][0]["answers"]["client_messages"] = "sometimes"

    with pytest.raises(CatalogueError, match="slack-socket-mode: client_messages: unknown option"):
        parse_library(data, CATALOGUE)


def test_a_case_that_leaves_out_an_optional_question_is_refused():
    data = _data()
    del data["cases"][0]["answers"]["server_commands"]

    with pytest.raises(CatalogueError, match="no answer to server_commands"):
        parse_library(data, CATALOGUE)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("transport", "grpc", "transport must be one of"),
        ("domain", "space", "unknown domain"),
        ("style", "both", "style must be one of"),
        ("patterns", ["carrier-pigeon"], "unknown patterns carrier-pigeon"),
    ],
)
def test_a_case_with_a_bad_field_is_refused(field, value, message):
    data = _data()
    data["cases"][0][field] = value

    with pytest.raises(CatalogueError, match=message):
        parse_library(data, CATALOGUE)


def test_a_source_without_https_is_refused():
    case = replace(LIBRARY.cases[0], source=replace(LIBRARY.cases[0].source, url="javascript:x"))

    assert "the source needs an https:// address" in case_problems(case, CATALOGUE)


def test_a_library_checked_against_another_catalogue_is_refused():
    with pytest.raises(CatalogueError, match="checked against catalogue 2"):
        parse_library(_data(), get_catalogue("2"))


def test_two_cases_with_one_slug_are_refused():
    data = _data()
    data["cases"].append(copy.deepcopy(data["cases"][0]))

    with pytest.raises(CatalogueError, match="duplicate case"):
        parse_library(data, CATALOGUE)


# --- The library holds the engine ------------------------------------------------------


@pytest.mark.parametrize(
    "verdict",
    [verdict for verdict in verdicts(LIBRARY) if verdict.case.scored],
    ids=lambda verdict: verdict.case.slug,
)
def test_engine_agrees_with_each_case_or_the_case_says_why_not(verdict):
    # An exception the engine now agrees with is stale: its argument must go.
    assert verdict.agrees != bool(verdict.case.exception), (
        f"{verdict.case.name}: chose {verdict.case.transport}, the engine says "
        f"{verdict.result.recommendation} ({verdict.result.pattern.slug})"
    )


def test_systems_offering_both_are_listed_but_not_scored():
    both = [case for case in LIBRARY.cases if case.transport == "both"]

    assert both and not any(case.scored for case in both)
    assert agreement(LIBRARY).scored == len(LIBRARY.cases) - len(both)


def test_agreement_has_no_unexplained_disagreement_and_no_stale_exception():
    summary = agreement(LIBRARY)

    assert (summary.unexplained, summary.stale_exceptions) == ((), ())
    assert summary.agreed + len(summary.exceptions) == summary.scored == len(SCORED)


def test_docs_quote_the_current_agreement_figures():
    text = DOCS.read_text(encoding="utf-8")

    assert [line for line in agreement_lines(agreement(LIBRARY)) if line not in text] == []


@pytest.mark.parametrize("slug", ["ocpp", "slack-socket-mode"])
def test_version_3_fixes_a_device_that_must_answer_commands(slug):
    case = LIBRARY.case(slug)
    version_2 = get_catalogue("2")
    before = evaluate(version_2, cases.comparable_answers(version_2, case.answers))

    assert (before.recommendation, case.exception) == ("sse", "")
    assert evaluate(CATALOGUE, case.answers).recommendation == "websocket"


def test_a_command_channel_is_what_turns_a_charging_station_around():
    answers = {**LIBRARY.case("ocpp").answers, "server_commands": "no"}

    assert evaluate(CATALOGUE, answers).recommendation == "sse"


@pytest.mark.django_db
@pytest.mark.parametrize("preset", [preset.slug for preset in get_catalogue("2").presets])
def test_version_2_answer_sets_rescore_under_version_3_unchanged(preset):
    version_2 = get_catalogue("2")
    assessment, _ = Assessment.create_scored(preset, version_2.preset(preset).answers, version_2)
    view = rescoring.outlook(assessment.latest)

    assert (view.stale, view.unanswered, view.would_change) == (True, (), False)
    assert validate_answers(CATALOGUE, view.result.answers) == {}


def test_calibration_counts_every_scored_case_once():
    calibration = agreement(LIBRARY).calibration

    assert sum(count for count, _ in calibration.values()) == len(SCORED)


def test_strong_verdicts_are_chosen_more_often_than_moderate_ones():
    calibration = agreement(LIBRARY).calibration
    share = {level: chose / count for level, (count, chose) in calibration.items() if count}

    assert share["strong"] > share["moderate"]


def test_the_programs_answer_no_longer_counts_commands_twice():
    clients = CATALOGUE.question("clients")
    programs = clients.option("devices")

    assert "command" not in programs.label.lower()
    assert (
        programs.points["websocket"] - programs.points["sse"]
        < (CATALOGUE.question("server_commands").option("seconds").points["websocket"])
    )


def test_no_case_answers_a_command_question_two_ways():
    # The old label ("must also be commanded") contradicted server_commands=no.
    label = CATALOGUE.question("clients").option("devices").label

    assert label == "Programs or services, not browsers"


# --- Similarity --------------------------------------------------------------------------


def test_a_case_is_the_closest_to_its_own_answers():
    case = LIBRARY.case("ocpp")
    closest = similar_cases(case.answers)[0]

    assert (closest.case, closest.similarity, closest.differences) == (case, 1.0, ())


def test_a_decisive_difference_costs_more_than_a_mild_one():
    case = LIBRARY.case("figma-multiplayer")
    decisive = {**case.answers, "client_messages": "none"}
    mild = {**case.answers, "scale": "small"}

    assert similarity(CATALOGUE, decisive, case).similarity < (
        similarity(CATALOGUE, mild, case).similarity
    )


def test_question_weights_follow_the_points():
    weights = question_weights(CATALOGUE)

    assert weights["client_messages"] > weights["server_commands"] > weights["scale"] > 0


def test_how_many_are_shown_depends_on_how_close_they_are():
    counts = {
        len(similar_cases(case.answers, replace(LIBRARY, cases=_without(case.slug))))
        for case in LIBRARY.cases
    }

    assert counts == {3, 4, 5}


def _without(slug: str) -> tuple:
    return tuple(case for case in LIBRARY.cases if case.slug != slug)


def test_an_interaction_bonus_weighs_only_where_it_applies():
    # Continuous input under a real-time budget makes client_messages decisive
    # (an interaction bonus). Where neither side has it, the question weighs its
    # plain spread, so the same small difference elsewhere costs more.
    live = {**LIBRARY.case("figma-multiplayer").answers, "upstream_latency": "realtime"}
    calm = {**live, "upstream_latency": "relaxed"}

    def cost(answers):
        case = replace(LIBRARY.case("figma-multiplayer"), answers=answers)
        return 1 - similarity(CATALOGUE, {**answers, "scale": "small"}, case).similarity

    assert live["client_messages"] == "frequent"
    assert cost(calm) > cost(live)


def test_a_match_counts_the_answers_that_are_the_same():
    answers = {**LIBRARY.case("ocpp").answers, "clients": "browser", "scale": "small"}
    match = similarity(CATALOGUE, answers, LIBRARY.case("ocpp"))

    assert (match.same, match.compared) == (len(CATALOGUE.questions) - 2, len(CATALOGUE.questions))


def test_three_to_five_cases_are_shown_closest_first():
    shown = similar_cases(CATALOGUE.preset("dashboard").answers)

    assert 3 <= len(shown) <= 5
    assert [match.similarity for match in shown] == sorted(
        (match.similarity for match in shown), reverse=True
    )


def test_differing_answers_name_both_sides():
    answers = {**LIBRARY.case("ocpp").answers, "clients": "browser"}
    match = similar_cases(answers)[0]

    assert match.case.slug == "ocpp"
    assert [
        (d.question.slug, d.yours, d.theirs, d.yours_label, d.theirs_label)
        for d in match.differences
    ] == [
        (
            "clients",
            "browser",
            "devices",
            CATALOGUE.question("clients").option("browser").label,
            CATALOGUE.question("clients").option("devices").label,
        )
    ]


def test_answers_of_version_1_are_compared_with_the_defaults_filled_in():
    answers = dict(get_catalogue("1").preset("chat").answers)
    compared = cases.comparable_answers(CATALOGUE, answers)

    assert (compared["stream_buffering"], compared["server_commands"]) == ("unknown", "no")
    assert 3 <= len(similar_cases(answers)) <= 5


# --- In every result -------------------------------------------------------------------


@pytest.fixture
def ocpp_assessment(db) -> Assessment:
    assessment, _ = Assessment.create_scored("Chargers", LIBRARY.case("ocpp").answers)
    return assessment


@pytest.mark.django_db
def test_api_document_lists_similar_cases_with_their_fields(client, ocpp_assessment):
    document = client.get(f"/api/assessments/{ocpp_assessment.pk}/").json()
    first = document["similar_cases"][0]

    assert 3 <= len(document["similar_cases"]) <= 5
    assert {frozenset(entry) for entry in document["similar_cases"]} == {frozenset(API_FIELDS)}
    assert first == {
        "name": "OCPP 1.6J and 2.0.1 (EV charging stations)",
        "transport": "websocket",
        "similarity": 1.0,
        "same_answers": 16,
        "compared_answers": 16,
        "wire": "",
        "exception": "",
        "differing_answers": [],
        "source": {
            "title": LIBRARY.case("ocpp").source.title,
            "url": "https://openchargealliance.org/protocols/ocpp-protocols/ocpp-1-6/",
        },
    }


@pytest.mark.django_db
def test_api_differing_answers_say_yours_and_theirs(client):
    answers = {**LIBRARY.case("ocpp").answers, "clients": "browser"}
    created = client.post(
        "/api/assessments/",
        json.dumps({"title": "Chargers", "answers": answers}),
        content_type="application/json",
    ).json()

    assert created["similar_cases"][0]["differing_answers"] == [
        {
            "question": "clients",
            "question_text": CATALOGUE.question("clients").text,
            "yours": "browser",
            "yours_label": CATALOGUE.question("clients").option("browser").label,
            "theirs": "devices",
            "theirs_label": CATALOGUE.question("clients").option("devices").label,
        }
    ]


@pytest.mark.django_db
def test_result_page_shows_the_closest_cases_with_their_sources(client, ocpp_assessment):
    html = client.get(ocpp_assessment.get_absolute_url()).text
    section = html[html.index('id="similar-cases"') :]

    assert "Products like yours" in section
    assert escape("OCPP 1.6J and 2.0.1 (EV charging stations)") in section
    assert 'href="https://openchargealliance.org/protocols/ocpp-protocols/ocpp-1-6/"' in section
    assert "16 of 16 answers the same" in section
    assert "% alike" not in section


@pytest.fixture
def library_without_ocpp(monkeypatch):
    # Without itself, OCPP's closest neighbours (MCP, the LLM APIs) chose SSE
    # and are no exceptions, while its own answers score WebSocket.
    library = replace(LIBRARY, cases=_without("ocpp"))
    monkeypatch.setattr(cases, "get_library", lambda version=None: library)
    return library


@pytest.mark.django_db
def test_result_page_says_plainly_when_the_closest_mostly_chose_the_other(
    client, library_without_ocpp
):
    assessment, _ = Assessment.create_scored("Chargers", LIBRARY.case("ocpp").answers)
    html = client.get(assessment.get_absolute_url()).text

    assert assessment.latest.result["recommendation"] == "websocket"
    assert "Most of the closest real systems chose SSE, not WebSocket:" in html


@pytest.mark.django_db
def test_documented_exceptions_do_not_make_the_notice_and_are_named_apart(client):
    # Grafana Live's answers score SSE; its WebSocket neighbours (itself, Nostr,
    # Vite) are all documented exceptions, which must not read as "most chose".
    assessment, _ = Assessment.create_scored("Panels", LIBRARY.case("grafana-live").answers)
    html = client.get(assessment.get_absolute_url()).text

    assert assessment.latest.result["recommendation"] == "sse"
    assert "Most of the closest real systems chose" not in html
    assert "3 close systems are documented exceptions to the advice" in html
    assert "Vite hot module replacement (WebSocket)" in html


def test_the_notice_counts_only_cases_that_are_no_exceptions():
    grafana, vite, nostr, mercure = (
        cases.Match(LIBRARY.case(slug), 0.9, ())
        for slug in ("grafana-live", "vite-hmr", "nostr-relays", "mercure")
    )
    evidence = cases.Evidence((grafana, vite, nostr, mercure), "sse", LIBRARY.version)

    assert (evidence.mostly_other, evidence.other_count, len(evidence.exceptions)) == (
        False,
        0,
        3,
    )


@pytest.mark.django_db
def test_result_page_shows_how_a_stream_that_is_neither_is_counted(client):
    assessment, _ = Assessment.create_scored("Watch", LIBRARY.case("kubernetes-watch").answers)
    html = client.get(assessment.get_absolute_url()).text
    section = html[html.index('id="similar-cases"') :]

    assert "Wire: JSON objects over a chunked HTTP response" in section


@pytest.mark.django_db
def test_api_similar_cases_carry_wire_and_exception(client):
    assessment, _ = Assessment.create_scored("Panels", LIBRARY.case("grafana-live").answers)
    entries = client.get(f"/api/assessments/{assessment.pk}/").json()["similar_cases"]
    grafana = next(entry for entry in entries if entry["name"] == "Grafana Live")

    assert grafana["exception"] == LIBRARY.case("grafana-live").exception != ""
    assert grafana["wire"] == ""


@pytest.mark.django_db
def test_a_version_2_assessment_says_a_newer_question_was_not_asked(client):
    version_2 = get_catalogue("2")
    assessment, _ = Assessment.create_scored(
        "Chargers", cases.comparable_answers(version_2, LIBRARY.case("ocpp").answers), version_2
    )
    html = client.get(assessment.get_absolute_url()).text
    section = html[html.index('id="similar-cases"') :]

    assert "(yours: not asked (counted as the default))" in section
    assert "(yours: No: the server only sends updates)" not in section


@pytest.mark.django_db
def test_result_page_says_nothing_of_the_kind_when_they_agree(client, ocpp_assessment):
    assert "Most of the closest real systems chose" not in (
        client.get(ocpp_assessment.get_absolute_url()).text
    )


@pytest.mark.django_db
def test_library_text_is_escaped_on_the_page(client, ocpp_assessment, monkeypatch):
    hostile = replace(LIBRARY.case("ocpp"), name="<script>alert(1)</script>")
    library = replace(LIBRARY, cases=(hostile, *LIBRARY.cases[1:]))
    monkeypatch.setattr(cases, "get_library", lambda version=None: library)

    html = client.get(ocpp_assessment.get_absolute_url()).text

    assert "<script>alert(1)</script>" not in html
    assert escape("<script>alert(1)</script>") in html


@pytest.mark.django_db
def test_a_version_2_assessment_keeps_its_saved_result_and_gains_the_cases(client):
    version_2 = get_catalogue("2")
    assessment, _ = Assessment.create_scored("Chat", version_2.preset("chat").answers, version_2)
    saved = copy.deepcopy(assessment.latest.result)
    document = client.get(f"/api/assessments/{assessment.pk}/").json()

    assert {key: document[key] for key in saved} == saved
    assert len(document["similar_cases"]) >= 3


@pytest.mark.django_db
def test_pdf_summary_says_when_the_closest_mostly_chose_the_other(client, library_without_ocpp):
    assessment, _ = Assessment.create_scored("Chargers", LIBRARY.case("ocpp").answers)
    first_page = pdf_text(client.get(report_url(assessment)).content).split("2. Score")[0]

    assert (
        missing_in_pdf(first_page, "Most of the closest real systems chose SSE, not WebSocket")
        == []
    )


@pytest.mark.django_db
def test_pdf_summary_names_the_close_documented_exceptions_as_the_page_does(client):
    assessment, _ = Assessment.create_scored("Panels", LIBRARY.case("grafana-live").answers)
    first_page = pdf_text(client.get(report_url(assessment)).content).split("2. Score")[0]

    assert missing_in_pdf(first_page, "3 close systems are documented exceptions") == []
    assert "Most of the closest real systems" not in first_page


@pytest.mark.django_db
def test_pdf_lists_the_closest_cases(client, ocpp_assessment):
    text = pdf_text(client.get(report_url(ocpp_assessment)).content)

    assert (
        missing_in_pdf(
            text, "Products like yours", "OCPP 1.6J and 2.0.1", "16 of 16 answers the same"
        )
        == []
    )


# --- /cases/ -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_cases_page_lists_every_case_with_its_source_and_a_start_link(client):
    html = client.get("/cases/").text

    assert html.count('class="card case"') == len(LIBRARY.cases)
    assert 'href="https://api.slack.com/apis/socket-mode"' in html
    assert 'href="/assessments/new/?case=ocpp"' in html


@pytest.mark.django_db
def test_cases_page_filters_by_transport_and_domain(client):
    html = client.get("/cases/", {"transport": "sse", "domain": "llm"}).text
    expected = [c for c in LIBRARY.cases if c.transport == "sse" and c.domain == "llm"]

    assert html.count('class="card case"') == len(expected) > 0
    assert "Anthropic Messages API streaming" in html
    assert "OpenAI Realtime API" not in html


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value"), [("transport", "grpc"), ("domain", "space")])
def test_cases_page_refuses_an_unknown_filter_naming_it(client, field, value):
    response = client.get("/cases/", {field: value})

    assert response.status_code == 400
    assert f'id="err-{field}" role="alert">Unknown {field}' in response.text
    assert 'class="card case"' not in response.text


@pytest.mark.django_db
def test_starting_from_a_case_fills_in_its_answers(client):
    html = client.get("/assessments/new/", {"case": "ocpp"}).text

    assert "New assessment: OCPP 1.6J and 2.0.1 (EV charging stations)" in html
    assert 'name="client_messages" value="occasional" checked' in html
    assert 'name="server_commands" value="seconds" checked' in html


@pytest.mark.django_db
def test_starting_from_an_unknown_case_is_a_blank_assessment(client):
    html = client.get("/assessments/new/", {"case": "no-such-case"}).text

    assert "<h1>New assessment</h1>" in html


def test_closest_cases_are_kept_per_library_and_answer_set(chat_answers, dashboard_answers):
    library = cases.get_library()
    fresh = replace(library, cases=library.cases)  # same cases, nothing kept yet
    first = similar_cases(chat_answers, fresh)
    # The same answers, in another order: the kept answer, computed once.
    assert similar_cases(dict(reversed(list(chat_answers.items()))), fresh) is first
    assert similar_cases(dashboard_answers, fresh) != first
    # A library of other cases keeps its own: nothing of the first one's.
    closest = first[0].case.slug
    fewer = replace(library, cases=tuple(c for c in library.cases if c.slug != closest))
    assert closest not in {match.case.slug for match in similar_cases(chat_answers, fewer)}
