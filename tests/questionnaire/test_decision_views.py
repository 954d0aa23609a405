"""The decision forms of the result page: allowed, refused inline (nothing changed), htmx."""

# The workspace fixtures are imported to be shared, which ruff reads as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import re

import pytest
from django.test import Client

from questionnaire.models import (
    COMMENT_MAX_LENGTH,
    Assessment,
    Comment,
    DecisionStatus,
    Review,
    Reviewer,
    ShareLink,
)
from tests.workspaces.conftest import people, signed_in, team_assessment, workspace  # noqa: F401
from workspaces.models import AuditAction, AuditEvent, Membership, Role, Workspace

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "decision"}


def url(assessment, tail=""):
    return f"/assessments/{assessment.pk}/{tail}"


def as_(people, who) -> Client:
    return signed_in(Client(), people[who])


def state(assessment) -> tuple:
    """What a refused form must leave as it was."""
    assessment.refresh_from_db()
    return (
        assessment.status,
        assessment.superseded_by_id,
        list(Reviewer.objects.values_list("assessment_id", "user_id").order_by("pk")),
        Review.objects.count(),
        Comment.objects.count(),
        # Signing in (a client of the test) is logged too, and is no change.
        AuditEvent.objects.exclude(action=AuditAction.SIGN_IN).count(),
    )


def in_review(people, assessment, *reviewers, by="editor"):
    response = as_(people, by).post(
        url(assessment, "review-requests/"), {"reviewers": list(reviewers)}
    )
    assert response.status_code == 302
    assessment.refresh_from_db()
    assert assessment.status == DecisionStatus.IN_REVIEW


def accepted(people, assessment):
    in_review(people, assessment, "reviewer")
    as_(people, "reviewer").post(
        url(assessment, "reviews/"), {"verdict": "approve", "revision": "1"}
    )
    assessment.refresh_from_db()
    assert assessment.status == DecisionStatus.ACCEPTED


def form_ids(page: str) -> set[str]:
    return set(re.findall(r'<form class="decision-form" id="([a-z-]+)"', page))


def inline_error(page: str, form: str) -> str:
    found = re.search(rf'id="err-{form}" role="alert">([^<]*)<', page)
    assert found, f"no inline error for {form}"
    return found.group(1)


# --- Which forms whom ----------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("owner", {"review-request-form", "comment-form"}),
        ("editor", {"review-request-form", "comment-form"}),
        ("reviewer", {"comment-form"}),
        ("viewer", set()),
    ],
)
def test_forms_of_a_draft_by_role(people, team_assessment, who, expected):
    page = as_(people, who).get(url(team_assessment)).text

    assert form_ids(page) == expected


def test_review_form_only_for_named_reviewers_not_the_requester(people, team_assessment):
    in_review(people, team_assessment, "reviewer", "owner")
    Membership.objects.create(
        workspace=team_assessment.workspace,
        user=type(people["owner"]).objects.create_user("unnamed"),
        role=Role.REVIEWER,
    )

    assert "review-form" in form_ids(as_(people, "reviewer").get(url(team_assessment)).text)
    assert "review-form" in form_ids(as_(people, "owner").get(url(team_assessment)).text)
    # The editor asked for it; self-approval is off.
    assert "review-form" not in form_ids(as_(people, "editor").get(url(team_assessment)).text)
    unnamed = signed_in(Client(), type(people["owner"]).objects.get(username="unnamed"))
    assert "review-form" not in form_ids(unnamed.get(url(team_assessment)).text)


def test_reviewer_choices_leave_out_the_requester_and_viewers(people, team_assessment):
    page = as_(people, "editor").get(url(team_assessment)).text

    offered = set(re.findall(r'name="reviewers" value="([^"]+)"', page))
    assert offered == {"owner", "reviewer"}


def test_reviewer_choices_include_oneself_where_self_approval_is_allowed(people, team_assessment):
    Workspace.objects.filter(pk=team_assessment.workspace_id).update(allow_self_approval=True)

    page = as_(people, "editor").get(url(team_assessment)).text

    assert 'name="reviewers" value="editor"' in page


def test_supersede_form_only_on_an_accepted_decision(people, team_assessment, chat_answers):
    newer, _ = Assessment.create_scored(
        "Newer chat", chat_answers, workspace=team_assessment.workspace
    )
    Assessment.create_scored("Draft chat", chat_answers, workspace=team_assessment.workspace)
    Assessment.objects.filter(pk=newer.pk).update(status=DecisionStatus.ACCEPTED)
    assert "supersede-form" not in form_ids(as_(people, "editor").get(url(team_assessment)).text)

    accepted(people, team_assessment)
    page = as_(people, "editor").get(url(team_assessment)).text

    assert "supersede-form" in form_ids(page)
    assert "request-review-form" not in form_ids(page)
    # Only a decision that stands replaces one: a draft is not offered.
    assert "Newer chat (accepted)" in page
    assert "Draft chat" not in page


def test_share_link_page_has_no_decision_forms(client, team_assessment):
    _, secret = ShareLink.issue(team_assessment)

    page = client.get(f"/shared/{secret}/").text

    assert 'id="decision"' in page
    assert form_ids(page) == set()


def test_share_link_page_names_no_other_assessment(client, people, team_assessment, chat_answers):
    newer, _ = Assessment.create_scored(
        "Secret successor", chat_answers, workspace=team_assessment.workspace
    )
    Assessment.objects.filter(pk=newer.pk).update(status=DecisionStatus.ACCEPTED)
    accepted(people, team_assessment)
    as_(people, "editor").post(
        url(team_assessment, "supersede/"), {"superseded_by": str(newer.pk)}
    )
    _, old_secret = ShareLink.issue(team_assessment)
    _, new_secret = ShareLink.issue(newer)

    old_page = client.get(f"/shared/{old_secret}/").text
    new_page = client.get(f"/shared/{new_secret}/").text

    assert "Superseded by another decision of this workspace" in old_page
    assert "Supersedes an earlier decision of this workspace" in new_page
    assert "Secret successor" not in old_page and str(newer.pk) not in old_page
    assert str(team_assessment.pk) not in new_page


def test_every_decision_form_carries_csrf(people, team_assessment, chat_answers):
    Workspace.objects.filter(pk=team_assessment.workspace_id).update(allow_self_approval=True)
    in_review(people, team_assessment, "editor")
    page = as_(people, "editor").get(url(team_assessment)).text
    forms = re.findall(r'<form class="decision-form".*?</form>', page, re.S)

    assert len(forms) == 3  # review, request review again, comment
    assert all('name="csrfmiddlewaretoken"' in form for form in forms)


@pytest.mark.parametrize(
    ("tail", "data"),
    [
        ("review-requests/", {"reviewers": ["reviewer"]}),
        ("comments/", {"body": "Looks right"}),
        ("reviews/", {"verdict": "approve"}),
        ("supersede/", {"superseded_by": ""}),
    ],
)
def test_decision_forms_need_csrf(people, team_assessment, tail, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["owner"])
    before = state(team_assessment)

    assert client.post(url(team_assessment, tail), data).status_code == 403
    assert state(team_assessment) == before


# --- Request review ------------------------------------------------------------


def test_request_review(people, team_assessment):
    response = as_(people, "editor").post(
        url(team_assessment, "review-requests/"), {"reviewers": ["reviewer", "owner"]}
    )

    assert response.status_code == 302
    assert response["Location"] == url(team_assessment) + "#decision"
    team_assessment.refresh_from_db()
    assert team_assessment.status == DecisionStatus.IN_REVIEW
    assert team_assessment.review_requested_by == people["editor"]
    page = as_(people, "editor").get(url(team_assessment)).text
    assert 'Decision: <span class="decision-status">In review</span>' in page
    assert '<ul class="reviewers"><li>owner</li><li>reviewer</li></ul>' in page


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([], "Name at least one reviewer."),
        (
            ["viewer", "owner"],
            "Not a reviewer, editor or owner of Team &lt;b&gt;One&lt;/b&gt;: viewer.",
        ),
        (
            ["outsider"],
            "Not a reviewer, editor or owner of Team &lt;b&gt;One&lt;/b&gt;: outsider.",
        ),
        (["editor"], "You cannot review a decision you put up for review"),
    ],
)
def test_request_review_refused_inline(people, team_assessment, names, message):
    before = state(team_assessment)

    response = as_(people, "editor").post(
        url(team_assessment, "review-requests/"), {"reviewers": names}
    )

    assert response.status_code == 400
    assert inline_error(response.text, "review-request").startswith(message)
    # The page, with the choices made kept.
    assert "<h1>Team &lt;i&gt;chat&lt;/i&gt;</h1>" in response.text
    if "owner" in names:
        assert 'value="owner" checked' in response.text
    assert state(team_assessment) == before


def test_request_review_of_an_accepted_decision_refused(people, team_assessment):
    accepted(people, team_assessment)
    before = state(team_assessment)

    response = as_(people, "editor").post(
        url(team_assessment, "review-requests/"), {"reviewers": ["owner"]}
    )

    assert response.status_code == 400
    assert "revise it to take it back to review" in inline_error(response.text, "review-request")
    assert state(team_assessment) == before


@pytest.mark.parametrize(
    ("who", "expected"), [("reviewer", 403), ("viewer", 403), ("outsider", 404)]
)
def test_request_review_by_role(people, team_assessment, who, expected):
    before = state(team_assessment)

    response = as_(people, who).post(
        url(team_assessment, "review-requests/"), {"reviewers": ["owner"]}
    )

    assert response.status_code == expected
    assert state(team_assessment) == before


def test_request_review_again_after_changes_requested(people, team_assessment):
    in_review(people, team_assessment, "reviewer")
    as_(people, "reviewer").post(
        url(team_assessment, "reviews/"), {"verdict": "request_changes", "comment": "Why?"}
    )
    team_assessment.refresh_from_db()
    assert team_assessment.status == DecisionStatus.REJECTED

    page = as_(people, "editor").get(url(team_assessment)).text
    # Those named before are ticked already: one click asks them again.
    assert 'value="reviewer" checked' in page
    in_review(people, team_assessment, "reviewer")


# --- Review --------------------------------------------------------------------


def test_review_approves_and_accepts(people, team_assessment):
    in_review(people, team_assessment, "reviewer")

    response = as_(people, "reviewer").post(
        url(team_assessment, "reviews/"), {"verdict": "approve", "comment": "Fine by me"}
    )

    assert response.status_code == 302
    assert response["Location"] == url(team_assessment) + "#decision"
    team_assessment.refresh_from_db()
    assert team_assessment.status == DecisionStatus.ACCEPTED
    page = as_(people, "viewer").get(url(team_assessment)).text
    assert "<strong>reviewer</strong> approved revision 1" in page
    assert "Fine by me" in page


def test_review_requests_changes(people, team_assessment):
    in_review(people, team_assessment, "reviewer")

    as_(people, "reviewer").post(
        url(team_assessment, "reviews/"), {"verdict": "request_changes", "comment": "Add a check"}
    )

    team_assessment.refresh_from_db()
    assert team_assessment.status == DecisionStatus.REJECTED


@pytest.mark.parametrize(
    ("who", "data", "status", "message"),
    [
        ("editor", {"verdict": "approve"}, 403, "You requested this review"),
        ("owner", {"verdict": "approve"}, 403, "You are not a named reviewer of this decision"),
        (
            "reviewer",
            {"verdict": "maybe"},
            400,
            "Use &quot;approve&quot; or &quot;request_changes&quot;",
        ),
        (
            "reviewer",
            {"verdict": "approve", "comment": "x" * (COMMENT_MAX_LENGTH + 1)},
            400,
            f"The comment must be at most {COMMENT_MAX_LENGTH} characters",
        ),
        (
            "reviewer",
            {"verdict": "request_changes", "comment": "bell\x07"},
            400,
            "The comment must not contain control characters",
        ),
    ],
)
def test_review_refused_inline(people, team_assessment, who, data, status, message):
    # The editor named themselves while self-approval was allowed; it is not any more.
    rules = Workspace.objects.filter(pk=team_assessment.workspace_id)
    rules.update(allow_self_approval=True)
    in_review(people, team_assessment, "reviewer", "editor", by="editor")
    rules.update(allow_self_approval=False)
    before = state(team_assessment)

    response = as_(people, who).post(url(team_assessment, "reviews/"), data)

    assert response.status_code == status
    assert inline_error(response.text, "review").startswith(message)
    assert state(team_assessment) == before


def test_review_refused_keeps_what_was_typed(people, team_assessment):
    in_review(people, team_assessment, "reviewer")
    typed = "y" * (COMMENT_MAX_LENGTH + 1)

    response = as_(people, "reviewer").post(
        url(team_assessment, "reviews/"), {"verdict": "request_changes", "comment": typed}
    )

    assert response.status_code == 400
    assert f">{typed}</textarea>" in response.text
    assert 'value="request_changes" checked' in response.text


def test_review_of_a_draft_refused(people, team_assessment):
    Reviewer.objects.create(assessment=team_assessment, user=people["reviewer"])
    before = state(team_assessment)

    response = as_(people, "reviewer").post(
        url(team_assessment, "reviews/"), {"verdict": "approve"}
    )

    assert response.status_code == 400
    assert inline_error(response.text, "review") == "The decision is draft, not in review."
    assert state(team_assessment) == before


@pytest.mark.parametrize(("who", "expected"), [("viewer", 403), ("outsider", 404)])
def test_review_by_role(people, team_assessment, who, expected):
    in_review(people, team_assessment, "reviewer")
    before = state(team_assessment)

    response = as_(people, who).post(url(team_assessment, "reviews/"), {"verdict": "approve"})

    assert response.status_code == expected
    assert state(team_assessment) == before


# --- Comments ------------------------------------------------------------------


def test_comment_is_shown_as_text(people, team_assessment):
    body = '<script>alert("x")</script> & <b>bold</b>'

    response = as_(people, "reviewer").post(url(team_assessment, "comments/"), {"body": body})

    assert response.status_code == 302
    page = as_(people, "viewer").get(url(team_assessment)).text
    assert "<script>alert" not in page
    assert "<b>bold</b>" not in page
    assert (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    )
    assert "<strong>reviewer</strong>" in page


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("   ", "Write a comment."),
        ("z" * (COMMENT_MAX_LENGTH + 1), f"The comment must be at most {COMMENT_MAX_LENGTH}"),
        ("nul\x00", "The comment must not contain control characters other than line breaks"),
    ],
)
def test_comment_refused_inline_keeps_the_text(people, team_assessment, body, message):
    before = state(team_assessment)

    response = as_(people, "editor").post(url(team_assessment, "comments/"), {"body": body})

    assert response.status_code == 400
    assert inline_error(response.text, "comment").startswith(message)
    if body.strip() and "\x00" not in body:
        assert f">{body}</textarea>" in response.text
    assert state(team_assessment) == before


@pytest.mark.parametrize(("who", "expected"), [("viewer", 403), ("outsider", 404)])
def test_comment_by_role(people, team_assessment, who, expected):
    before = state(team_assessment)

    response = as_(people, who).post(url(team_assessment, "comments/"), {"body": "Hello"})

    assert response.status_code == expected
    assert state(team_assessment) == before


# --- Supersede -----------------------------------------------------------------


def test_supersede_links_both_ways(people, team_assessment, chat_answers):
    newer, _ = Assessment.create_scored(
        "Newer chat", chat_answers, workspace=team_assessment.workspace
    )
    Assessment.objects.filter(pk=newer.pk).update(status=DecisionStatus.ACCEPTED)
    accepted(people, team_assessment)

    response = as_(people, "editor").post(
        url(team_assessment, "supersede/"), {"superseded_by": str(newer.pk)}
    )

    assert response.status_code == 302
    team_assessment.refresh_from_db()
    assert team_assessment.status == DecisionStatus.SUPERSEDED
    assert team_assessment.superseded_by == newer
    old_page = as_(people, "viewer").get(url(team_assessment)).text
    assert f'Superseded by <a href="{url(newer)}">Newer chat</a>' in old_page
    new_page = as_(people, "viewer").get(url(newer)).text
    assert (
        f'Supersedes <a href="{url(team_assessment)}">Team &lt;i&gt;chat&lt;/i&gt;</a>' in new_page
    )


def test_supersede_refused_inline(people, team_assessment, chat_answers):
    newer, _ = Assessment.create_scored(
        "Newer chat", chat_answers, workspace=team_assessment.workspace
    )
    before = state(team_assessment)

    draft = as_(people, "editor").post(
        url(team_assessment, "supersede/"), {"superseded_by": str(newer.pk)}
    )
    accepted(people, team_assessment)
    accepted_state = state(team_assessment)
    unchosen = as_(people, "editor").post(
        url(team_assessment, "supersede/"), {"superseded_by": ""}
    )
    itself = as_(people, "editor").post(
        url(team_assessment, "supersede/"), {"superseded_by": str(team_assessment.pk)}
    )

    assert draft.status_code == 400
    assert inline_error(draft.text, "supersede").startswith(
        "Only an accepted decision can be superseded"
    )
    assert unchosen.status_code == 400
    assert inline_error(unchosen.text, "supersede") == (
        "Choose the assessment that supersedes this one."
    )
    assert itself.status_code == 400
    assert inline_error(itself.text, "supersede") == "A decision cannot supersede itself."
    assert before[0] == DecisionStatus.DRAFT
    assert state(team_assessment) == accepted_state


def test_supersede_by_another_workspaces_assessment_is_404(people, team_assessment, chat_answers):
    elsewhere = Workspace.objects.get(slug="elsewhere")
    foreign, _ = Assessment.create_scored("Theirs", chat_answers, workspace=elsewhere)
    Membership.objects.create(workspace=elsewhere, user=people["editor"], role=Role.EDITOR)
    accepted(people, team_assessment)
    before = state(team_assessment)

    response = as_(people, "editor").post(
        url(team_assessment, "supersede/"), {"superseded_by": str(foreign.pk)}
    )

    assert response.status_code == 404
    assert state(team_assessment) == before


@pytest.mark.parametrize(
    ("who", "expected"), [("reviewer", 403), ("viewer", 403), ("outsider", 404)]
)
def test_supersede_by_role(people, team_assessment, chat_answers, who, expected):
    newer, _ = Assessment.create_scored("Newer", chat_answers, workspace=team_assessment.workspace)
    accepted(people, team_assessment)
    before = state(team_assessment)

    response = as_(people, who).post(
        url(team_assessment, "supersede/"), {"superseded_by": str(newer.pk)}
    )

    assert response.status_code == expected
    assert state(team_assessment) == before


def test_decision_of_an_anonymous_assessment_refused(people, chat_answers):
    anonymous, _ = Assessment.create_scored("Mine", chat_answers)

    response = as_(people, "editor").post(url(anonymous, "comments/"), {"body": "Hello"})

    assert response.status_code == 403
    assert not Comment.objects.exists()


# --- htmx ----------------------------------------------------------------------


def test_htmx_comment_answers_with_the_panel(people, team_assessment):
    response = as_(people, "editor").post(
        url(team_assessment, "comments/"), {"body": "Ship it"}, headers=HTMX
    )

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="decision"')
    assert "<html" not in response.text
    assert "Ship it</p>" in response.text
    # The form comes back empty, ready for the next comment.
    assert 'name="body" rows="3" maxlength="4000" required></textarea>' in response.text


def test_htmx_refusal_answers_with_the_panel_and_its_error(people, team_assessment):
    response = as_(people, "editor").post(
        url(team_assessment, "comments/"), {"body": " "}, headers=HTMX
    )

    assert response.status_code == 400
    assert response.text.lstrip().startswith('<section id="decision"')
    assert inline_error(response.text, "comment") == "Write a comment."


def test_htmx_review_answers_with_the_accepted_panel(people, team_assessment):
    in_review(people, team_assessment, "reviewer")

    response = as_(people, "reviewer").post(
        url(team_assessment, "reviews/"), {"verdict": "approve"}, headers=HTMX
    )

    assert response.status_code == 200
    assert 'class="decision-status">Accepted</span>' in response.text
    assert "review-form" not in form_ids(response.text)


def test_forms_post_to_the_panel_with_htmx(people, team_assessment):
    page = as_(people, "editor").get(url(team_assessment)).text

    for tail in ("review-requests/", "comments/"):
        action = url(team_assessment, tail)
        assert (
            f'method="post" action="{action}"\n        hx-post="{action}" hx-target="#decision" '
            'hx-swap="outerHTML"'
        ) in page


def test_decision_partial_has_the_forms_of_its_reader(people, team_assessment):
    editor = as_(people, "editor").get(url(team_assessment, "decision/")).text
    viewer = as_(people, "viewer").get(url(team_assessment, "decision/")).text

    assert form_ids(editor) == {"review-request-form", "comment-form"}
    assert form_ids(viewer) == set()


def test_a_page_showing_an_older_revision_offers_no_review_of_it(
    people, team_assessment, chat_answers
):
    in_review(people, team_assessment, "reviewer")
    Assessment.objects.get(pk=team_assessment.pk).revise("Swapped", chat_answers)
    reviewer = as_(people, "reviewer")

    old = reviewer.get(url(team_assessment) + "?revision=1").text
    panel = reviewer.get(url(team_assessment, "decision/?seen=1")).text
    latest = reviewer.get(url(team_assessment)).text

    for page in (old, panel):
        assert "review-form" not in form_ids(page)
        assert "Revision 2 was saved after the revision shown on this page (1)" in page
    assert "review-form" in form_ids(latest)
    assert 'name="revision" value="2"' in latest
    # The live partial keeps asking for the revision the page shows.
    assert f'data-decision-url="{url(team_assessment)}decision/?seen=1"' in panel


# --- The decision on the result page: where it stands and what is said first -------------------


def summary(page: str) -> str:
    """The one line under the title, its tags and spacing taken out."""
    found = re.search(r'<p id="decision-summary"[^>]*>(.*?)</p>', page, re.S)
    assert found, "no decision summary"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_result_header_says_where_the_decision_stands(people, team_assessment):
    in_review(people, team_assessment, "reviewer")

    page = as_(people, "viewer").get(url(team_assessment)).text

    header = page.split("</header>", 2)[1]
    assert summary(header) == "In review 0 of 1 approval · jump to the decision"
    assert '<a href="#decision">jump to the decision</a>' in header


def test_result_header_says_superseded_near_the_title(people, team_assessment, chat_answers):
    newer, _ = Assessment.create_scored(
        "Newer chat", chat_answers, workspace=team_assessment.workspace
    )
    Assessment.objects.filter(pk=newer.pk).update(status=DecisionStatus.ACCEPTED)
    Assessment.objects.filter(pk=team_assessment.pk).update(
        status=DecisionStatus.SUPERSEDED, superseded_by=newer
    )

    page = as_(people, "viewer").get(url(team_assessment)).text

    title_to_summary = page.split("<h1>", 1)[1].split('<p class="placement">', 1)[0]
    assert summary(title_to_summary) == "Superseded by Newer chat · jump to the decision"


def test_result_page_reads_verdict_and_reasons_before_the_decision_forms(people, team_assessment):
    page = as_(people, "editor").get(url(team_assessment)).text

    verdict = page.index('id="verdict-heading"')
    reasons = page.index('id="reasons-heading"')
    panel = page.index('id="decision"')
    assert verdict < reasons < panel < page.index('id="review-request-form"')
    assert page.index('id="decision-summary"') < verdict
    assert page.count('id="decision-summary"') == 1


def test_panel_swap_brings_the_header_line_along(people, team_assessment):
    response = as_(people, "editor").post(
        url(team_assessment, "review-requests/"),
        {"reviewers": ["reviewer"], "revision": "1"},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert '<p id="decision-summary" class="decision-summary" hx-swap-oob="true">' in (
        response.text
    )
    assert summary(response.text).startswith("In review 0 of 1 approval")
    assert 'id="decision-heading" tabindex="-1"' in response.text


def test_decision_forms_keep_to_the_write_rate(settings, people, team_assessment):
    settings.ADVISOR_WRITES_PER_SECOND = 0.01
    settings.ADVISOR_WRITE_BURST = 2
    editor = as_(people, "editor")
    for text in ("One", "Two"):
        assert editor.post(url(team_assessment, "comments/"), {"body": text}).status_code == 302
    before = state(team_assessment)

    response = editor.post(url(team_assessment, "comments/"), {"body": "Three"})

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 100
    assert "nothing was saved" in inline_error(response.text, "comment")
    assert ">Three</textarea>" in response.text
    assert state(team_assessment) == before


@pytest.mark.parametrize("typed", ["x", "", "-1", "1.0"])
def test_a_review_with_an_unreadable_revision_is_refused(people, team_assessment, typed):
    in_review(people, team_assessment, "reviewer")
    before = state(team_assessment)

    response = as_(people, "reviewer").post(
        url(team_assessment, "reviews/"), {"verdict": "approve", "revision": typed}
    )

    assert response.status_code == 400
    assert "revision" in inline_error(response.text, "review")
    assert state(team_assessment) == before
