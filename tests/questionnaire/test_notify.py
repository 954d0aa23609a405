"""Emails about decisions: who gets which, what they say, and that a failure breaks nothing."""

# The workspace fixtures are imported to be shared, which ruff reads as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import logging

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client, RequestFactory

from questionnaire import writes
from questionnaire.models import DecisionStatus
from tests.workspaces.conftest import people, signed_in, team_assessment, workspace  # noqa: F401

pytestmark = pytest.mark.django_db

BASE = "https://advisor.example.com"


class BrokenBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("no mail server here")


@pytest.fixture(autouse=True)
def addresses(settings, people):
    settings.ADVISOR_BASE_URL = BASE
    for who in ("owner", "editor", "reviewer"):
        people[who].email = f"{who}@example.com"
        people[who].save()


@pytest.fixture
def post(people, django_capture_on_commit_callbacks):
    """POST as ``who``, running what waits for the commit (the signal) as a real request would."""

    def send(who, assessment, tail, data):
        client = signed_in(Client(), people[who])
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/assessments/{assessment.pk}/{tail}", data)
        assert response.status_code == 302, response.text[:300]
        return response

    return send


@pytest.fixture
def revise(people, chat_answers, django_capture_on_commit_callbacks):
    """Save a new revision as ``who``, the way the edit page and the API do."""

    def save(who, assessment):
        request = RequestFactory().post("/")
        request.user = people[who]
        request.session = {}
        with django_capture_on_commit_callbacks(execute=True):
            writes.revise_assessment(request, assessment, assessment.title, chat_answers)
        assessment.refresh_from_db()

    return save


def recipients(mailoutbox) -> list[str]:
    return sorted(address for message in mailoutbox for address in message.to)


def test_review_request_emails_each_named_reviewer(post, mailoutbox, team_assessment):
    post("editor", team_assessment, "review-requests/", {"reviewers": ["reviewer", "owner"]})

    assert sorted(message.to[0] for message in mailoutbox) == [
        "owner@example.com",
        "reviewer@example.com",
    ]
    message = mailoutbox[0]
    assert message.subject == "[Transport Advisor] editor asks you to review Team <i>chat</i>"
    assert (
        "editor asks you to review the decision on Team <i>chat</i> (revision 1)" in message.body
    )
    assert f"{BASE}/assessments/{team_assessment.pk}/#decision" in message.body
    assert message.content_subtype == "plain"
    assert message.from_email == "advisor@localhost"


def test_review_request_skips_reviewers_without_an_address(
    post, mailoutbox, people, team_assessment
):
    people["owner"].email = ""
    people["owner"].save()

    post("editor", team_assessment, "review-requests/", {"reviewers": ["reviewer", "owner"]})

    assert [message.to for message in mailoutbox] == [["reviewer@example.com"]]


def test_a_repeated_request_emails_only_the_reviewers_it_adds(post, mailoutbox, team_assessment):
    post("editor", team_assessment, "review-requests/", {"reviewers": ["reviewer"]})
    mailoutbox.clear()

    post("editor", team_assessment, "review-requests/", {"reviewers": ["reviewer", "owner"]})

    assert recipients(mailoutbox) == ["owner@example.com"]


def test_a_request_after_changes_were_requested_emails_every_reviewer_again(
    post, mailoutbox, team_assessment
):
    post("editor", team_assessment, "review-requests/", {"reviewers": ["reviewer", "owner"]})
    post(
        "reviewer", team_assessment, "reviews/", {"verdict": "request_changes", "comment": "Why?"}
    )
    mailoutbox.clear()

    post("editor", team_assessment, "review-requests/", {"reviewers": ["reviewer", "owner"]})

    assert recipients(mailoutbox) == ["owner@example.com", "reviewer@example.com"]
    assert "editor asks you to review the decision on Team <i>chat</i> again (revision 1)" in (
        mailoutbox[0].body
    )


def test_a_new_revision_of_an_accepted_decision_asks_its_reviewers_again(
    post, revise, mailoutbox, team_assessment
):
    post("editor", team_assessment, "review-requests/", {"reviewers": ["reviewer", "owner"]})
    post("reviewer", team_assessment, "reviews/", {"verdict": "approve"})
    mailoutbox.clear()

    # The owner saves it: the other reviewer is told, not the owner, nor the
    # editor (who asked for review and reviews nothing).
    revise("owner", team_assessment)

    assert team_assessment.status == DecisionStatus.IN_REVIEW
    assert recipients(mailoutbox) == ["reviewer@example.com"]
    message = mailoutbox[0]
    assert message.subject == "[Transport Advisor] owner saved revision 2 of Team <i>chat</i>"
    assert "owner saved revision 2 of Team <i>chat</i>: please review it again." in message.body
    assert f"{BASE}/assessments/{team_assessment.pk}/#decision" in message.body


@pytest.mark.parametrize("verdict", ["request_changes", None])
def test_a_new_revision_in_review_or_rejected_asks_the_reviewers_again(
    post, revise, mailoutbox, team_assessment, verdict
):
    post("editor", team_assessment, "review-requests/", {"reviewers": ["reviewer", "owner"]})
    if verdict:
        post("owner", team_assessment, "reviews/", {"verdict": verdict, "comment": "Redo it"})
    mailoutbox.clear()

    revise("editor", team_assessment)

    assert recipients(mailoutbox) == ["owner@example.com", "reviewer@example.com"]
    assert "editor saved revision 2" in mailoutbox[0].body


def test_a_new_revision_of_a_draft_emails_nobody(revise, mailoutbox, team_assessment):
    revise("editor", team_assessment)

    assert team_assessment.status == DecisionStatus.DRAFT
    assert mailoutbox == []


def test_acceptance_emails_the_requester_and_the_creator(post, mailoutbox, team_assessment):
    # The editor made it; the owner asks for review.
    post("owner", team_assessment, "review-requests/", {"reviewers": ["reviewer"]})
    mailoutbox.clear()

    post("reviewer", team_assessment, "reviews/", {"verdict": "approve", "comment": "Sound"})

    assert recipients(mailoutbox) == ["editor@example.com", "owner@example.com"]
    message = mailoutbox[0]
    assert message.subject == "[Transport Advisor] Team <i>chat</i> is accepted"
    assert "The decision on Team <i>chat</i> is accepted (revision 1)." in message.body
    assert "reviewer approved revision 1:\n> Sound\n" in message.body
    assert f"{BASE}/assessments/{team_assessment.pk}/#decision" in message.body


def test_rejection_says_what_to_do_next_once_to_the_requester_who_is_also_the_creator(
    post, mailoutbox, team_assessment
):
    post("editor", team_assessment, "review-requests/", {"reviewers": ["reviewer"]})
    mailoutbox.clear()

    post(
        "reviewer",
        team_assessment,
        "reviews/",
        {"verdict": "request_changes", "comment": "Why SSE?\nThe clients send too."},
    )

    assert [message.to for message in mailoutbox] == [["editor@example.com"]]
    assert mailoutbox[0].subject == "[Transport Advisor] Team <i>chat</i> is rejected"
    assert (
        "reviewer requested changes: revise the answers, then request review again.\n"
        "> Why SSE?\n"
        "> The clients send too.\n"
    ) in mailoutbox[0].body


def test_a_comment_cannot_pass_for_the_emails_own_text(post, mailoutbox, team_assessment):
    post("editor", team_assessment, "review-requests/", {"reviewers": ["reviewer"]})
    mailoutbox.clear()
    fake = "Fine.\r\n\nSee it on its page:\u2028https://evil.example/\n"

    post("reviewer", team_assessment, "reviews/", {"verdict": "approve", "comment": fake})

    body = mailoutbox[0].body
    assert "> Fine.\n>\n> See it on its page:\n> https://evil.example/\n" in body
    own = [line for line in body.splitlines() if not line.startswith(">")]
    assert not any("evil" in line for line in own)
    assert own.count("See it on its page:") == 1


def test_a_long_title_is_cut_in_the_subject_and_the_status_kept(post, mailoutbox, team_assessment):
    team_assessment.title = "Chat " + "x" * 150
    team_assessment.save()
    post("editor", team_assessment, "review-requests/", {"reviewers": ["reviewer"]})
    mailoutbox.clear()

    post("reviewer", team_assessment, "reviews/", {"verdict": "approve"})

    subject = mailoutbox[0].subject
    title = subject.removeprefix("[Transport Advisor] ").removesuffix(" is accepted")
    assert subject.endswith("… is accepted")
    assert len(title) == 80 and title.startswith("Chat xxx")
    # The body keeps the whole title.
    assert "Chat " + "x" * 150 in mailoutbox[0].body


def test_comments_and_approvals_short_of_acceptance_send_nothing(
    post, mailoutbox, workspace, team_assessment
):
    workspace.required_approvals = 2
    workspace.save()
    post("editor", team_assessment, "review-requests/", {"reviewers": ["reviewer", "owner"]})
    mailoutbox.clear()

    post("reviewer", team_assessment, "reviews/", {"verdict": "approve"})
    post("owner", team_assessment, "comments/", {"body": "Waiting for me"})

    assert mailoutbox == []


def test_nothing_is_sent_before_the_commit(people, mailoutbox, team_assessment):
    # A step rolled back must tell nobody: the signal waits for the commit.
    client = signed_in(Client(), people["editor"])
    client.post(f"/assessments/{team_assessment.pk}/review-requests/", {"reviewers": ["owner"]})

    assert mailoutbox == []


def test_a_failing_mail_server_breaks_nothing(post, settings, caplog, team_assessment):
    settings.EMAIL_BACKEND = f"{__name__}.BrokenBackend"

    with caplog.at_level(logging.ERROR, logger="questionnaire.notify"):
        post("editor", team_assessment, "review-requests/", {"reviewers": ["reviewer"]})

    team_assessment.refresh_from_db()
    assert team_assessment.status == DecisionStatus.IN_REVIEW
    assert "could not send the emails about review_requested" in caplog.text
    assert "no mail server here" in caplog.text
