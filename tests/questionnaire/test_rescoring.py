"""Re-scoring under a newer catalogue: stale detection, the side-by-side comparison, adoption.

Catalogue version 4 is test-only data (tests/questionnaire/catalogues/4.json,
published by the ``catalogue_v4`` fixture): version 3 with mobile clients
weighing 19 points towards SSE instead of 1 (the chat preset turns to SSE),
a required question ``origin`` and a caveat ``replay-window``.
"""

from __future__ import annotations

import copy
import json

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.utils.html import escape

from questionnaire import decisions, rescoring
from questionnaire.catalogue import (
    CatalogueError,
    available_versions,
    get_catalogue,
    parse_catalogue,
)
from questionnaire.models import Assessment, DecisionStatus
from questionnaire.scoring import evaluate
from questionnaire.wizard import MISSING_ANSWER
from tests.conftest import TEST_CATALOGUES
from tests.seed import PRESETS
from workspaces.models import Membership, Role, Workspace

pytestmark = pytest.mark.django_db

MOBILE = "What kind of clients connect?"
TEAM = "How much experience does the team have with persistent connections?"
ORIGIN = "Is the stream served from the page's own origin?"
ADOPT = "Adopt catalogue v4"
STALE = "A newer catalogue (v4) says…"
# The edit form's steps: the new question is on the second, the network.
NETWORK_STEP = "1"
LAST_STEP = "3"


def scored_with(version: str, preset: str, **placement) -> Assessment:
    catalogue = get_catalogue(version)
    assessment, _ = Assessment.create_scored(
        preset, dict(catalogue.preset(preset).answers), catalogue, **placement
    )
    return assessment


@pytest.fixture
def workspace(db) -> Workspace:
    return Workspace.objects.create(slug="team", name="Team")


@pytest.fixture
def people(workspace) -> dict:
    found = {}
    for role in (Role.OWNER, Role.EDITOR, Role.REVIEWER, Role.VIEWER):
        user = get_user_model().objects.create_user(role)
        Membership.objects.create(workspace=workspace, user=user, role=role)
        found[role] = user
    return found


def as_user(user):
    request = RequestFactory().post("/")
    request.user = user
    request.session = {}
    return request


def accepted(assessment: Assessment, people: dict) -> Assessment:
    """The decision put up for review by the editor and approved by the reviewer."""
    decisions.request_review(as_user(people[Role.EDITOR]), assessment, [Role.REVIEWER])
    decisions.review(as_user(people[Role.REVIEWER]), assessment, "approve", "Fine by me.")
    assessment.refresh_from_db()
    assert assessment.status == DecisionStatus.ACCEPTED
    return assessment


def team(preset: str, version: str, workspace, people) -> Assessment:
    return scored_with(version, preset, workspace=workspace, created_by=people[Role.EDITOR])


def page(client, user, assessment: Assessment, query: str = "") -> str:
    client.force_login(user)
    response = client.get(f"{assessment.get_absolute_url()}{query}")
    assert response.status_code == 200
    return response.text


def finish(answers: dict[str, str], title: str) -> dict:
    return {**answers, "title": title, "step": LAST_STEP, "action": "finish"}


# --- The test catalogue and its seam -------------------------------------------


def test_version_4_is_not_published_without_the_fixture():
    assert "4" not in available_versions()
    assert get_catalogue().version == "3"


def test_version_4_is_current_with_the_fixture(catalogue_v4):
    assert (catalogue_v4.version, available_versions()[-1]) == ("4", "4")


def test_version_4_says_what_it_changed(catalogue_v4):
    assert len(catalogue_v4.changelog) == 3
    assert "19 points towards SSE" in catalogue_v4.changelog[0]


def test_the_api_serves_version_4_as_the_current_questionnaire(client, catalogue_v4):
    assert client.get("/api/questions/").json()["version"] == "4"


def test_an_extra_directory_cannot_replace_a_shipped_version(tmp_path, catalogue_v4, monkeypatch):
    data = json.loads((TEST_CATALOGUES / "4.json").read_text(encoding="utf-8"))
    data["version"] = "3"
    (tmp_path / "3.json").write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr("questionnaire.catalogue.EXTRA_CATALOGUE_DIRS", [tmp_path])
    get_catalogue.cache_clear()
    assert get_catalogue("3").question("origin") is None


def test_a_changelog_that_is_not_a_list_of_sentences_is_refused():
    data = json.loads((TEST_CATALOGUES / "4.json").read_text(encoding="utf-8"))
    for bad in ("one sentence", [""], [1]):
        broken = copy.deepcopy(data)
        broken["changelog"] = bad
        with pytest.raises(CatalogueError, match="changelog"):
            parse_catalogue(broken)


@pytest.mark.parametrize("preset", PRESETS)
def test_version_4_turns_only_chat_around(catalogue_v4, preset):
    answers = get_catalogue("3").preset(preset).answers
    before = evaluate(get_catalogue("3"), answers, with_flips=False).recommendation
    after = evaluate(catalogue_v4, answers, with_flips=False).recommendation
    assert (before != after) == (preset == "chat")


# --- Stale or not ----------------------------------------------------------------


def test_a_revision_of_the_current_catalogue_is_not_stale():
    assessment = scored_with("3", "chat")
    assert not rescoring.outlook(assessment.latest).stale
    assert rescoring.compare(assessment.latest) is None


def test_a_revision_scored_with_version_3_is_stale_under_version_4(catalogue_v4):
    view = rescoring.outlook(scored_with("3", "chat").latest)
    assert (view.stale, view.would_change, view.unanswered) == (True, True, ("origin",))


def test_a_revision_scored_with_version_4_is_not_stale(catalogue_v4):
    assert not rescoring.outlook(scored_with("4", "chat").latest).stale


def test_a_stale_revision_whose_verdict_holds_would_not_change(catalogue_v4):
    view = rescoring.outlook(scored_with("3", "dashboard").latest)
    assert (view.stale, view.would_change) == (True, False)


# --- The comparison ----------------------------------------------------------------


@pytest.fixture
def chat_comparison(catalogue_v4) -> rescoring.Comparison:
    return rescoring.compare(scored_with("3", "chat").latest)


def test_comparison_gives_the_verdict_then_and_now(chat_comparison):
    then, now = chat_comparison.then, chat_comparison.now
    assert (then.name, then.confidence, now.name, now.confidence) == (
        "WebSocket",
        "strong",
        "SSE",
        "slight",
    )


def test_comparison_names_only_the_reason_whose_weight_changed(chat_comparison):
    assert [
        (reason.question, reason.answer, reason.before, reason.after)
        for reason in chat_comparison.reasons
    ] == [
        (
            MOBILE,
            "Mobile apps or mobile browsers, on battery",
            "Favours SSE, 1 point",
            "Favours SSE, 19 points",
        )
    ]


def test_comparison_names_the_new_caveat(chat_comparison):
    new = [caveat.slug for caveat in chat_comparison.new_caveats]
    assert "replay-window" in new
    # One that applied under version 3 already is not new.
    assert "mobile-battery" not in new


def test_comparison_names_caveats_that_no_longer_apply(chat_comparison):
    # WebSocket's "build resume yourself" goes with the WebSocket verdict.
    assert any("resume" in title.lower() for title in chat_comparison.dropped_caveats)


def test_comparison_names_the_added_question_as_needing_an_answer(chat_comparison):
    assert [(q.slug, q.text, q.needs_answer) for q in chat_comparison.added] == [
        ("origin", ORIGIN, True)
    ]
    assert chat_comparison.removed == ()


def test_comparison_quotes_the_changelog(chat_comparison, catalogue_v4):
    assert chat_comparison.changelog == catalogue_v4.changelog


def test_comparison_of_unchanged_weights_lists_no_reason(catalogue_v4):
    # The dashboard's clients are desktop browsers, whose weight did not change.
    comparison = rescoring.compare(scored_with("3", "dashboard").latest)
    assert (comparison.reasons, comparison.new_caveats) == ((), ())


def test_comparison_names_a_question_the_newer_catalogue_removed(
    tmp_path, monkeypatch, catalogue_v4
):
    data = json.loads((TEST_CATALOGUES / "4.json").read_text(encoding="utf-8"))
    data["version"] = "5"
    for section in data["sections"]:
        section["questions"] = [q for q in section["questions"] if q["slug"] != "team_experience"]
    for preset in data["presets"]:
        preset["answers"].pop("team_experience")
    (tmp_path / "5.json").write_text(json.dumps(data), encoding="utf-8")
    # Published beside version 4; catalogue_v4 clears the caches again after the test.
    extra = [TEST_CATALOGUES, tmp_path]
    monkeypatch.setattr("questionnaire.catalogue.EXTRA_CATALOGUE_DIRS", extra)
    get_catalogue.cache_clear()
    # An activity feed's team has some experience, a point towards SSE: gone too.
    comparison = rescoring.compare(scored_with("3", "activity-feed").latest)
    assert [q.slug for q in comparison.removed] == ["team_experience"]
    assert (TEAM, "Not asked") in [
        (reason.question, reason.after) for reason in comparison.reasons
    ]


# --- The API document --------------------------------------------------------------


def test_api_document_of_a_stale_assessment_says_what_version_4_would(client, catalogue_v4):
    assessment = scored_with("3", "chat")
    document = client.get(f"/api/assessments/{assessment.pk}/").json()
    assert document["outlook"] == {
        "stale": True,
        "current_catalogue": "4",
        "would_change": True,
        "recommendation": "sse",
        "confidence": "slight",
        "unanswered": ["origin"],
    }
    # The document itself stays what the revision was scored with.
    assert (document["catalogue_version"], document["recommendation"]) == ("3", "websocket")


def test_api_document_of_a_current_assessment_is_not_stale(client):
    assessment = scored_with("3", "chat")
    document = client.get(f"/api/assessments/{assessment.pk}/").json()
    assert document["outlook"] == {
        "stale": False,
        "current_catalogue": "3",
        "would_change": False,
        "recommendation": None,
        "confidence": None,
        "unanswered": [],
    }


# --- The result page -----------------------------------------------------------------


def test_result_page_of_a_stale_assessment_compares_it_for_a_viewer(
    client, catalogue_v4, workspace, people
):
    html = page(client, people[Role.VIEWER], team("chat", "3", workspace, people))
    shown = html[html.index('id="outlook"') :]
    assert STALE in html
    assert [
        snippet
        for snippet in (
            "change the verdict to SSE",
            "Then (v3)",
            "Now (v4)",
            escape(MOBILE),
            "Favours SSE, 19 points",
            "Keep the replay window longer than the longest outage",
            escape(ORIGIN),
            "needs an answer",
            escape(catalogue_v4.changelog[0]),
        )
        if snippet not in shown
    ] == []
    # Catalogue text is escaped like the rest: its apostrophe is never raw.
    assert ORIGIN not in html
    assert ADOPT not in html


def test_result_page_offers_adoption_to_an_editor(client, catalogue_v4, workspace, people):
    assessment = team("chat", "3", workspace, people)
    html = page(client, people[Role.EDITOR], assessment)
    assert f'href="/assessments/{assessment.pk}/edit/?adopt=1">{ADOPT}</a>' in html


def test_result_page_says_adoption_sends_an_accepted_decision_back(
    client, catalogue_v4, workspace, people
):
    assessment = accepted(team("chat", "3", workspace, people), people)
    html = page(client, people[Role.EDITOR], assessment)
    assert "this accepted decision goes back to review" in html


def test_result_page_of_a_current_assessment_has_no_comparison(
    client, catalogue_v4, workspace, people
):
    html = page(client, people[Role.EDITOR], team("chat", "4", workspace, people))
    assert (STALE in html, ADOPT in html) == (False, False)


def test_result_page_without_a_newer_catalogue_has_no_comparison(client, workspace, people):
    html = page(client, people[Role.EDITOR], team("chat", "3", workspace, people))
    assert STALE not in html


def test_an_earlier_revision_has_a_muted_note_only(client, catalogue_v4, workspace, people):
    assessment = team("chat", "3", workspace, people)
    assessment.revise("Team chat", dict(get_catalogue("3").preset("dashboard").answers))
    html = page(client, people[Role.EDITOR], assessment, "?revision=1")
    assert STALE not in html
    assert "Only the latest revision is compared with it." in html


def test_a_share_link_holder_sees_the_comparison_without_the_button(
    client, catalogue_v4, workspace, people
):
    from questionnaire.models import ShareLink

    _, secret = ShareLink.issue(
        team("chat", "3", workspace, people), created_by=people[Role.EDITOR]
    )
    html = client.get(f"/shared/{secret}/").text
    assert (STALE in html, ADOPT in html) == (True, False)


# --- Adoption through the edit form ---------------------------------------------------


def edit_url(assessment: Assessment) -> str:
    return f"/assessments/{assessment.pk}/edit/?adopt=1"


def test_adopting_opens_the_form_on_the_new_question(client, catalogue_v4, workspace, people):
    assessment = team("chat", "3", workspace, people)
    client.force_login(people[Role.EDITOR])
    html = client.get(edit_url(assessment)).text
    assert '<input type="hidden" name="step" value="1">' in html
    assert "Adopting catalogue v4" in html
    assert "New in v4" in html


def test_adoption_without_the_new_answer_is_refused_inline(
    client, catalogue_v4, workspace, people
):
    assessment = team("chat", "3", workspace, people)
    client.force_login(people[Role.EDITOR])
    response = client.post(
        edit_url(assessment), finish(dict(assessment.latest.answers), "Team chat")
    )
    assert response.status_code == 200
    assert '<input type="hidden" name="step" value="1">' in response.text
    assert f'id="err-origin">{MISSING_ANSWER}' in response.text
    assert assessment.revisions.count() == 1


def test_adoption_makes_a_revision_scored_with_version_4(client, catalogue_v4, workspace, people):
    assessment = team("chat", "3", workspace, people)
    client.force_login(people[Role.EDITOR])
    answers = {**assessment.latest.answers, "origin": "same"}
    response = client.post(edit_url(assessment), finish(answers, "Team chat"))
    assert response.status_code == 302
    latest = Assessment.objects.get(pk=assessment.pk).latest
    assert (latest.number, latest.catalogue_version, latest.result["recommendation"]) == (
        2,
        "4",
        "sse",
    )
    assert not rescoring.outlook(latest).stale


def test_adoption_that_changes_the_verdict_sends_an_accepted_decision_back_to_review(
    client, catalogue_v4, workspace, people
):
    assessment = accepted(team("chat", "3", workspace, people), people)
    client.force_login(people[Role.EDITOR])
    answers = {**assessment.latest.answers, "origin": "same"}
    response = client.post(edit_url(assessment), finish(answers, "Team chat"), follow=True)
    assessment.refresh_from_db()
    assert assessment.status == DecisionStatus.IN_REVIEW
    assert (
        "The verdict changed to SSE: the accepted decision went back to review." in response.text
    )
    assert STALE not in response.text


def test_adoption_that_keeps_the_verdict_still_asks_for_review_again(
    client, catalogue_v4, workspace, people
):
    assessment = accepted(team("dashboard", "3", workspace, people), people)
    client.force_login(people[Role.EDITOR])
    answers = {**assessment.latest.answers, "origin": "same"}
    response = client.post(edit_url(assessment), finish(answers, "Dashboard"), follow=True)
    assessment.refresh_from_db()
    assert assessment.status == DecisionStatus.IN_REVIEW
    assert "The accepted decision went back to review for the new revision." in response.text


def test_adopt_on_a_current_assessment_is_the_plain_edit_form(
    client, catalogue_v4, workspace, people
):
    assessment = team("chat", "4", workspace, people)
    client.force_login(people[Role.EDITOR])
    html = client.get(edit_url(assessment)).text
    assert '<input type="hidden" name="step" value="0">' in html
    assert "Adopting catalogue" not in html


def test_a_viewer_cannot_adopt(client, catalogue_v4, workspace, people):
    assessment = team("chat", "3", workspace, people)
    client.force_login(people[Role.VIEWER])
    answers = {**assessment.latest.answers, "origin": "same"}
    assert client.get(edit_url(assessment)).status_code == 403
    response = client.post(edit_url(assessment), finish(answers, "Team chat"))
    assert response.status_code == 403
    assert assessment.revisions.count() == 1
