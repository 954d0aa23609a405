"""The decision over the API: review requests, reviews, comments, the document's decision fields.

Every refusal is checked for its status, the field it names, and that it
changed nothing (status, reviewers, reviews, comments, audit log).
"""

from __future__ import annotations

import json

import pytest

from questionnaire.models import Assessment, Comment, DecisionStatus, Review, Reviewer
from workspaces.models import AuditAction, AuditEvent, Role

pytestmark = pytest.mark.django_db


def url(assessment: Assessment, what: str = "") -> str:
    return f"/api/assessments/{assessment.pk}/{what}"


def post(client, address: str, document: object, headers: dict | None = None):
    body = document if isinstance(document, str) else json.dumps(document)
    return client.post(address, body, content_type="application/json", headers=headers or {})


def state(assessment: Assessment) -> tuple:
    """What a refused request must leave as it was."""
    assessment.refresh_from_db()
    return (
        assessment.status,
        Reviewer.objects.count(),
        Review.objects.count(),
        Comment.objects.count(),
        AuditEvent.objects.count(),
    )


def refused(response, status: int, field: str) -> str:
    assert (response.status_code, list(response.json()["errors"])) == (status, [field]), (
        response.content
    )
    return response.json()["errors"][field]


class Team:
    """A workspace's members by role, each with a token, and an assessment of theirs."""

    def __init__(self, member, token_of, make_assessment, ops):
        self.workspace = ops
        self.users = {role: member(role, username=role) for role in Role.values}
        self.users["second"] = member(Role.REVIEWER, username="second")
        self.tokens = {who: token_of(user, ops) for who, user in self.users.items()}
        self.assessment = make_assessment(ops, created_by=self.users[Role.EDITOR])

    def request_review(self, client, *names: str, by: str = Role.EDITOR):
        return post(
            client,
            url(self.assessment, "review-requests/"),
            {"reviewers": list(names)},
            self.tokens[by],
        )

    def review(self, client, who: str, verdict: str = "approve", comment: str = "Fine."):
        return post(
            client,
            url(self.assessment, "reviews/"),
            {"verdict": verdict, "comment": comment},
            self.tokens[who],
        )


@pytest.fixture
def team(member, token_of, make_assessment, ops) -> Team:
    return Team(member, token_of, make_assessment, ops)


@pytest.fixture
def in_review(client, team) -> Team:
    assert team.request_review(client, "reviewer", "second").status_code == 200
    return team


# --- The assessment document -----------------------------------------------------------------


def test_document_of_a_draft(client, team):
    document = client.get(url(team.assessment), headers=team.tokens[Role.VIEWER]).json()

    assert {key: document[key] for key in DECISION_FIELDS} == {
        "status": "draft",
        "required_approvals": 1,
        "approvals": [],
        "reviewers": [],
        "superseded_by": None,
        "supersedes": [],
    }


DECISION_FIELDS = (
    "status",
    "required_approvals",
    "approvals",
    "reviewers",
    "superseded_by",
    "supersedes",
)


def test_document_outside_a_workspace_has_no_required_approvals(client, chat_answers):
    made = post(client, "/api/assessments/", {"answers": chat_answers}).json()

    assert (made["status"], made["required_approvals"], made["approvals"]) == ("draft", None, [])


def test_document_shows_the_workspace_rule(client, team):
    team.workspace.required_approvals = 3
    team.workspace.save()

    document = client.get(url(team.assessment), headers=team.tokens[Role.VIEWER]).json()

    assert document["required_approvals"] == 3


def test_document_names_supersession_both_ways(client, team, make_assessment):
    newer = make_assessment(team.workspace, "Chat, again")
    Assessment.objects.filter(pk=team.assessment.pk).update(
        superseded_by=newer, status=DecisionStatus.SUPERSEDED
    )
    viewer = team.tokens[Role.VIEWER]

    old = client.get(url(team.assessment), headers=viewer).json()
    new = client.get(url(newer), headers=viewer).json()

    assert (old["status"], old["superseded_by"], new["supersedes"]) == (
        "superseded",
        str(newer.pk),
        [str(team.assessment.pk)],
    )


def test_list_item_has_the_status(client, in_review):
    item = client.get("/api/assessments/", headers=in_review.tokens[Role.VIEWER]).json()

    assert item["results"][0]["status"] == "in_review"


# --- The happy path: draft → in review → accepted ----------------------------------------------


def test_request_review_puts_it_in_review(client, team):
    response = team.request_review(client, "reviewer", "owner")

    document = response.json()
    assert (response.status_code, document["status"], document["reviewers"]) == (
        200,
        "in_review",
        ["owner", "reviewer"],
    )


def test_owner_may_request_review(client, team):
    assert team.request_review(client, "reviewer", by=Role.OWNER).status_code == 200


def test_request_review_is_logged(client, team):
    team.request_review(client, "reviewer")

    event = AuditEvent.objects.get(action=AuditAction.REVIEW_REQUESTED)
    assert event.actor.startswith("editor (token ")
    assert event.detail["reviewers"] == ["reviewer"]


def test_approval_accepts_it(client, in_review):
    response = in_review.review(client, "reviewer", comment="Looks right.")

    document = response.json()
    approval = document["approvals"][0]
    assert (response.status_code, document["status"]) == (200, "accepted")
    assert {key: approval[key] for key in ("reviewer", "revision", "verdict", "comment")} == {
        "reviewer": "reviewer",
        "revision": 1,
        "verdict": "approve",
        "comment": "Looks right.",
    }
    assert approval["counts"] is True and approval["at"]


@pytest.mark.parametrize("who", [Role.OWNER, Role.EDITOR])
def test_owners_and_editors_review_when_named(client, team, who):
    team.request_review(client, who, by=Role.OWNER if who == Role.EDITOR else Role.EDITOR)

    assert team.review(client, who).json()["status"] == "accepted"


def test_two_approvals_needed_when_the_workspace_says_so(client, in_review):
    in_review.workspace.required_approvals = 2
    in_review.workspace.save()

    first = in_review.review(client, "reviewer").json()
    second = in_review.review(client, "second").json()

    assert (first["status"], second["status"]) == ("in_review", "accepted")


def test_request_changes_rejects_it(client, in_review):
    response = in_review.review(client, "reviewer", "request_changes", "Name the proxy.")

    assert response.json()["status"] == "rejected"
    assert response.json()["approvals"][0]["verdict"] == "request_changes"


def test_a_session_reviews_too(client, in_review):
    client.force_login(in_review.users[Role.REVIEWER])

    response = post(client, url(in_review.assessment, "reviews/"), {"verdict": "approve"})

    assert response.json()["status"] == "accepted"


def test_a_session_needs_the_csrf_token(in_review):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(in_review.users[Role.REVIEWER])
    before = state(in_review.assessment)

    response = post(browser, url(in_review.assessment, "reviews/"), {"verdict": "approve"})

    refused(response, 403, "csrf")
    assert state(in_review.assessment) == before


def test_new_revision_shows_the_old_approval_uncounted(client, in_review, dashboard_answers):
    in_review.review(client, "reviewer")
    post(
        client,
        url(in_review.assessment, "revisions/"),
        {"answers": dashboard_answers},
        in_review.tokens[Role.EDITOR],
    )

    document = client.get(url(in_review.assessment), headers=in_review.tokens[Role.VIEWER]).json()

    assert document["status"] == "in_review"
    assert [(each["revision"], each["counts"]) for each in document["approvals"]] == [(1, False)]


# --- Refusals: each names why and changes nothing ----------------------------------------------


def test_requester_may_not_name_themselves(client, team):
    before = state(team.assessment)

    message = refused(team.request_review(client, "editor"), 400, "reviewers")

    assert "self-approval" in message
    assert state(team.assessment) == before


def test_requester_may_not_approve_their_own(client, team):
    team.workspace.allow_self_approval = True
    team.workspace.save()
    team.request_review(client, "editor")
    team.workspace.allow_self_approval = False
    team.workspace.save()
    before = state(team.assessment)

    message = refused(team.review(client, "editor"), 403, "reviewer")

    assert "you requested this review" in message
    assert state(team.assessment) == before


def test_self_approval_when_the_workspace_allows_it(client, team):
    team.workspace.allow_self_approval = True
    team.workspace.save()
    team.request_review(client, "editor")

    assert team.review(client, "editor").json()["status"] == "accepted"


def test_a_reviewer_not_named_is_refused(client, team, member, token_of):
    team.request_review(client, "reviewer")
    before = state(team.assessment)

    message = refused(team.review(client, "second"), 403, "reviewer")

    assert message == "you are not a named reviewer of this decision"
    assert state(team.assessment) == before


@pytest.mark.parametrize("name", ["viewer", "nobody", "outsider"])
def test_naming_someone_who_cannot_review_is_refused(client, team, member, sales, name):
    member(Role.OWNER, sales, username="outsider")
    before = state(team.assessment)

    message = refused(team.request_review(client, "reviewer", name), 400, "reviewers")

    assert message.endswith(f": {name}")
    assert state(team.assessment) == before


def test_review_of_an_accepted_decision_is_refused(client, in_review):
    in_review.review(client, "reviewer")
    before = state(in_review.assessment)

    message = refused(in_review.review(client, "second"), 400, "status")

    assert message == "the decision is accepted, not in review"
    assert state(in_review.assessment) == before


def test_review_request_on_an_accepted_decision_is_refused(client, in_review):
    in_review.review(client, "reviewer")
    before = state(in_review.assessment)

    message = refused(in_review.request_review(client, "second"), 400, "status")

    assert "revise it" in message
    assert state(in_review.assessment) == before


def test_the_same_verdict_twice_is_refused(client, in_review):
    in_review.workspace.required_approvals = 2
    in_review.workspace.save()
    in_review.review(client, "reviewer")
    before = state(in_review.assessment)

    refused(in_review.review(client, "reviewer"), 400, "verdict")
    assert state(in_review.assessment) == before


@pytest.mark.parametrize(
    ("who", "endpoint", "document"),
    [
        (Role.REVIEWER, "review-requests/", {"reviewers": ["second"]}),
        (Role.VIEWER, "review-requests/", {"reviewers": ["second"]}),
        (Role.VIEWER, "reviews/", {"verdict": "approve"}),
        (Role.VIEWER, "comments/", {"body": "Hello"}),
    ],
)
def test_a_role_that_does_not_allow_it_is_403(client, in_review, who, endpoint, document):
    before = state(in_review.assessment)

    response = post(client, url(in_review.assessment, endpoint), document, in_review.tokens[who])

    refused(response, 403, "auth")
    assert state(in_review.assessment) == before


@pytest.mark.parametrize("endpoint", ["review-requests/", "reviews/", "comments/"])
def test_another_workspace_is_404_as_unknown(client, in_review, bearer, sales, endpoint):
    before = state(in_review.assessment)

    response = post(client, url(in_review.assessment, endpoint), {}, bearer("owner", sales))
    unknown = post(
        client,
        f"/api/assessments/00000000-0000-0000-0000-000000000000/{endpoint}",
        {},
        bearer("owner", sales),
    )

    refused(response, 404, "id")
    assert response.json()["errors"]["id"].startswith("no assessment with id")
    assert unknown.status_code == 404
    assert state(in_review.assessment) == before


def test_a_decision_needs_a_workspace(client, chat_answers, django_user_model):
    client.force_login(django_user_model.objects.create_user("loner"))
    made = post(client, "/api/assessments/", {"answers": chat_answers})
    assessment = Assessment.objects.get(pk=made.json()["id"])

    response = post(client, url(assessment, "review-requests/"), {"reviewers": ["loner"]})

    assert "workspace" in refused(response, 403, "auth")


def test_nobody_signed_in_is_401(client, in_review, settings):
    settings.ADVISOR_ANONYMOUS = False

    response = post(client, url(in_review.assessment, "reviews/"), {"verdict": "approve"})

    refused(response, 401, "auth")


# --- Bad input ---------------------------------------------------------------------------------

REVIEW_REQUESTS_BAD = [
    ("not json", "body"),
    ("[]", "body"),
    ({}, "reviewers"),
    ({"reviewers": "reviewer"}, "reviewers"),
    ({"reviewers": [1]}, "reviewers"),
    ({"reviewers": None}, "reviewers"),
    ({"reviewers": []}, "reviewers"),
    ({"reviewers": ["x" * 151]}, "reviewers"),
    ({"reviewers": [f"user{n}" for n in range(21)]}, "reviewers"),
    ({"reviewers": ["reviewer"], "due": "friday"}, "due"),
]


@pytest.mark.parametrize(("document", "field"), REVIEW_REQUESTS_BAD)
def test_review_request_bad_input(client, team, document, field):
    before = state(team.assessment)

    response = post(
        client, url(team.assessment, "review-requests/"), document, team.tokens[Role.EDITOR]
    )

    refused(response, 400, field)
    assert state(team.assessment) == before


REVIEWS_BAD = [
    ("{", "body"),
    ({}, "verdict"),
    ({"verdict": True}, "verdict"),
    ({"verdict": "maybe"}, "verdict"),
    ({"verdict": "approve", "comment": 5}, "comment"),
    ({"verdict": "approve", "comment": "x" * 4001}, "comment"),
    ({"verdict": "approve", "comment": "bell\x07"}, "comment"),
    ({"verdict": "approve", "score": 5}, "score"),
]


@pytest.mark.parametrize(("document", "field"), REVIEWS_BAD)
def test_review_bad_input(client, in_review, document, field):
    before = state(in_review.assessment)

    response = post(
        client, url(in_review.assessment, "reviews/"), document, in_review.tokens[Role.REVIEWER]
    )

    refused(response, 400, field)
    assert state(in_review.assessment) == before


COMMENTS_BAD = [
    ("nope", "body"),
    ({}, "body"),
    ({"body": 3}, "body"),
    ({"body": "   "}, "body"),
    ({"body": "x" * 4001}, "body"),
    ({"body": "nul\x00"}, "body"),
    ({"body": "Hi", "author": "someone else"}, "author"),
]


@pytest.mark.parametrize(("document", "field"), COMMENTS_BAD)
def test_comment_bad_input(client, team, document, field):
    before = state(team.assessment)

    response = post(
        client, url(team.assessment, "comments/"), document, team.tokens[Role.REVIEWER]
    )

    refused(response, 400, field)
    assert state(team.assessment) == before


def test_a_body_too_big_is_413(client, team):
    response = post(
        client,
        url(team.assessment, "comments/"),
        {"body": "x" * (64 * 1024)},
        team.tokens[Role.REVIEWER],
    )

    refused(response, 413, "body")


def test_review_requests_take_post_only(client, team):
    response = client.get(url(team.assessment, "review-requests/"), headers=team.tokens["owner"])

    assert (response.status_code, response["Allow"]) == (405, "POST")


# --- Comments ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", [Role.OWNER, Role.EDITOR, Role.REVIEWER])
def test_comment_is_201_with_the_comment(client, team, who):
    response = post(
        client, url(team.assessment, "comments/"), {"body": "  Why SSE?  "}, team.tokens[who]
    )

    comment = response.json()
    assert response.status_code == 201
    assert response["Location"] == f"http://testserver{url(team.assessment, 'comments/')}"
    assert {key: comment[key] for key in ("author", "body", "revision")} == {
        "author": who,
        "body": "Why SSE?",
        "revision": 1,
    }
    assert set(comment) == {"id", "author", "body", "revision", "at"}


def test_comment_is_logged(client, team):
    post(client, url(team.assessment, "comments/"), {"body": "Noted"}, team.tokens["reviewer"])

    assert AuditEvent.objects.filter(action=AuditAction.DECISION_COMMENTED).count() == 1


def test_comments_are_listed_oldest_first_to_a_viewer(client, team):
    for text in ["first", "<b>second</b>"]:
        post(client, url(team.assessment, "comments/"), {"body": text}, team.tokens["editor"])

    page = client.get(url(team.assessment, "comments/"), headers=team.tokens["viewer"]).json()

    assert [each["body"] for each in page["results"]] == ["first", "<b>second</b>"]
    assert page["count"] == 2


def test_comments_are_paged(client, team):
    author = team.users[Role.EDITOR]
    Comment.objects.bulk_create(
        Comment(
            assessment=team.assessment,
            author=author,
            author_name="editor",
            body=f"n{n}",
            revision_number=1,
        )
        for n in range(21)
    )
    address = url(team.assessment, "comments/")

    second = client.get(f"{address}?page=2", headers=team.tokens["viewer"]).json()
    too_far = client.get(f"{address}?page=3", headers=team.tokens["viewer"])

    assert (second["pages"], [each["body"] for each in second["results"]]) == (2, ["n20"])
    refused(too_far, 404, "page")


def test_comments_of_another_workspace_are_404(client, team, bearer, sales):
    response = client.get(url(team.assessment, "comments/"), headers=bearer("viewer", sales))

    refused(response, 404, "id")


def test_a_review_names_the_revision_it_read(client, in_review, chat_answers):
    team = in_review
    team.assessment.revise("Swapped after the read", chat_answers)
    before = state(team.assessment)
    address = url(team.assessment, "reviews/")

    stale = post(client, address, {"verdict": "approve", "revision": 1}, team.tokens["reviewer"])

    assert "revision 2 was saved since" in refused(stale, 400, "revision")
    assert state(team.assessment) == before
    for bad in ("2", 0, -1, 1.5, True):
        response = post(
            client, address, {"verdict": "approve", "revision": bad}, team.tokens["reviewer"]
        )
        refused(response, 400, "revision")
    current = post(client, address, {"verdict": "approve", "revision": 2}, team.tokens["reviewer"])
    assert current.status_code == 200 and current.json()["status"] == "accepted"


@pytest.mark.parametrize("name", ["reviewer\u0000", "\ud800"])
def test_a_reviewer_name_no_database_holds_is_400(client, team, name):
    before = state(team.assessment)
    response = team.request_review(client, name)
    refused(response, 400, "reviewers")
    assert state(team.assessment) == before
