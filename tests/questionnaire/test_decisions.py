"""The decision lifecycle (questionnaire.decisions): states, sign-off rules, audit, concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import RequestFactory

from questionnaire import decisions, writes
from questionnaire.decisions import Refused
from questionnaire.models import Assessment, DecisionStatus, Review
from workspaces.models import AuditAction, AuditEvent, Membership, Role, Workspace


def as_user(user):
    """A request made by ``user`` (what the services read the actor from)."""
    request = RequestFactory().post("/")
    request.user = user
    request.session = {}
    return request


@pytest.fixture
def team(db):
    workspace = Workspace.objects.create(slug="team", name="Team")
    users = {}
    for name, role in [
        ("erin", Role.EDITOR),
        ("rita", Role.REVIEWER),
        ("otto", Role.OWNER),
        ("vera", Role.VIEWER),
    ]:
        users[name] = get_user_model().objects.create_user(name)
        Membership.objects.create(workspace=workspace, user=users[name], role=role)
    return workspace, users


@pytest.fixture
def decision(team, chat_answers):
    workspace, users = team
    assessment, _ = Assessment.create_scored(
        "Team chat", chat_answers, workspace=workspace, created_by=users["erin"]
    )
    return assessment


def actions(assessment) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_id=str(assessment.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def refusal(call, *args) -> Refused:
    """The Refused that ``call(*args)`` raises."""
    with pytest.raises(Refused) as refused:
        call(*args)
    return refused.value


def test_a_new_workspace_assessment_is_a_draft(decision):
    assert decision.status == DecisionStatus.DRAFT
    assert decisions.panel_context(decision)["decision"]["approval_count"] == 0


def test_one_approval_accepts_by_default_and_each_step_is_audited(team, decision):
    _, users = team
    decisions.request_review(as_user(users["erin"]), decision, ["rita"])
    assert decision.status == DecisionStatus.IN_REVIEW

    decisions.review(as_user(users["rita"]), decision, "approve", "Looks right.")

    assert decision.status == DecisionStatus.ACCEPTED
    assert actions(decision) == [
        AuditAction.REVIEW_REQUESTED,
        AuditAction.DECISION_STATUS_CHANGED,
        AuditAction.REVIEW_APPROVED,
        AuditAction.DECISION_STATUS_CHANGED,
    ]
    accepted = AuditEvent.objects.filter(action=AuditAction.DECISION_STATUS_CHANGED).first()
    assert accepted.detail["to"] == "accepted" and accepted.actor == "rita"


def test_two_required_approvals_wait_for_the_second(team, decision):
    workspace, users = team
    workspace.required_approvals = 2
    workspace.save()
    decisions.request_review(as_user(users["erin"]), decision, ["rita", "otto"])

    decisions.review(as_user(users["rita"]), decision, "approve")
    assert decision.status == DecisionStatus.IN_REVIEW
    decisions.review(as_user(users["otto"]), decision, "approve")
    assert decision.status == DecisionStatus.ACCEPTED


def test_an_approval_of_an_old_revision_is_shown_but_not_counted(team, decision, chat_answers):
    workspace, users = team
    workspace.required_approvals = 2
    workspace.save()
    decisions.request_review(as_user(users["erin"]), decision, ["rita", "otto"])
    decisions.review(as_user(users["rita"]), decision, "approve")

    writes.revise_assessment(as_user(users["erin"]), decision, "Team chat v2", chat_answers)
    decision.refresh_from_db()
    decisions.review(as_user(users["otto"]), decision, "approve")

    # One approval of revision 2 is not two: rita approved revision 1 only.
    assert decision.status == DecisionStatus.IN_REVIEW
    shown = [(a.reviewer, a.label, a.counts) for a in decisions.approvals(decision)]
    assert shown == [
        ("rita", "approved revision 1", False),
        ("otto", "approved revision 2", True),
    ]
    decisions.review(as_user(users["rita"]), decision, "approve")
    assert decision.status == DecisionStatus.ACCEPTED


def test_a_new_revision_sends_an_accepted_decision_back_to_review(team, decision, chat_answers):
    _, users = team
    decisions.request_review(as_user(users["erin"]), decision, ["rita"])
    decisions.review(as_user(users["rita"]), decision, "approve")

    writes.revise_assessment(as_user(users["erin"]), decision, "Team chat", chat_answers)

    decision.refresh_from_db()
    assert decision.status == DecisionStatus.IN_REVIEW
    assert decisions.approval_count(decision) == 0
    assert decisions.waiting_ids(users["rita"]) == [decision.pk]


def test_a_draft_stays_a_draft_when_revised(team, decision, chat_answers):
    _, users = team
    writes.revise_assessment(as_user(users["erin"]), decision, "Team chat", chat_answers)
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.DRAFT
    assert AuditAction.DECISION_STATUS_CHANGED not in actions(decision)


def test_changes_requested_reject_until_review_is_requested_again(team, decision):
    _, users = team
    decisions.request_review(as_user(users["erin"]), decision, ["rita"])

    decisions.review(as_user(users["rita"]), decision, "request_changes", "Say why not SSE.")
    assert decision.status == DecisionStatus.REJECTED
    assert (
        "not in review"
        in refusal(decisions.review, as_user(users["rita"]), decision, "approve").message
    )

    decisions.request_review(as_user(users["erin"]), decision, ["rita"])
    decisions.review(as_user(users["rita"]), decision, "approve")
    assert decision.status == DecisionStatus.ACCEPTED


def test_a_review_request_records_whom_it_adds_and_the_status_it_came_from(team, decision):
    _, users = team
    decisions.request_review(as_user(users["erin"]), decision, ["rita"])
    decisions.request_review(as_user(users["erin"]), decision, ["rita", "otto"])

    requests = AuditEvent.objects.filter(action=AuditAction.REVIEW_REQUESTED).order_by("id")
    assert [
        (event.detail["reviewers"], event.detail["added"], event.detail["from"])
        for event in requests
    ] == [
        (["rita"], ["rita"], DecisionStatus.DRAFT),
        (["rita", "otto"], ["otto"], DecisionStatus.IN_REVIEW),
    ]


def test_self_approval_is_refused_unless_the_workspace_allows_it(team, decision):
    workspace, users = team
    refused = refusal(decisions.request_review, as_user(users["erin"]), decision, ["erin"])
    assert (refused.status, refused.field) == (400, "reviewers")
    assert decision.status == DecisionStatus.DRAFT

    workspace.allow_self_approval = True
    workspace.save()
    decisions.request_review(as_user(users["erin"]), decision, ["erin"])
    decisions.review(as_user(users["erin"]), decision, "approve")
    assert decision.status == DecisionStatus.ACCEPTED


def test_whoever_asked_for_review_cannot_be_named_by_someone_else(team, decision):
    """Asking a colleague to name you does not get round the rule."""
    _, users = team
    decisions.request_review(as_user(users["erin"]), decision, ["rita"])

    refused = refusal(decisions.request_review, as_user(users["otto"]), decision, ["erin"])

    assert refused.status == 400 and "erin asked for review" in refused.message
    assert list(decision.reviewers.values_list("user__username", flat=True)) == ["rita"]


def test_the_requester_named_earlier_cannot_approve_when_self_approval_is_off(team, decision):
    workspace, users = team
    workspace.allow_self_approval = True
    workspace.save()
    decisions.request_review(as_user(users["erin"]), decision, ["erin", "rita"])
    workspace.allow_self_approval = False
    workspace.save()
    decision.refresh_from_db()

    refused = refusal(decisions.review, as_user(users["erin"]), decision, "approve")

    assert refused.status == 403 and "your own decision" in refused.message
    assert not Review.objects.exists()


def test_only_named_reviewers_review(team, decision):
    _, users = team
    decisions.request_review(as_user(users["erin"]), decision, ["rita"])
    refused = refusal(decisions.review, as_user(users["otto"]), decision, "approve")
    assert (refused.status, refused.field) == (403, "reviewer")
    assert decision.status == DecisionStatus.IN_REVIEW


@pytest.mark.parametrize(
    "names, message",
    [
        ([], "at least one"),
        (["vera"], "not a reviewer, editor or owner"),  # a viewer
        (["nobody"], "not a reviewer, editor or owner"),
        ([f"user{n}" for n in range(decisions.MAX_REVIEWERS + 1)], "at most"),
    ],
)
def test_reviewers_must_be_members_who_may_review(team, decision, names, message):
    outsider = get_user_model().objects.create_user("sam")
    Membership.objects.create(
        workspace=Workspace.objects.create(slug="other", name="Other"),
        user=outsider,
        role=Role.OWNER,
    )
    _, users = team
    refused = refusal(decisions.request_review, as_user(users["erin"]), decision, names)
    assert refused.status == 400 and message in refused.message
    assert decision.status == DecisionStatus.DRAFT
    assert not decision.reviewers.exists()
    assert actions(decision) == []


def test_a_member_of_another_workspace_cannot_be_named(team, decision):
    outsider = get_user_model().objects.create_user("sam")
    Membership.objects.create(
        workspace=Workspace.objects.create(slug="other", name="Other"),
        user=outsider,
        role=Role.OWNER,
    )
    _, users = team
    refused = refusal(decisions.request_review, as_user(users["erin"]), decision, ["sam"])
    assert refused.status == 400 and "sam" in refused.message


@pytest.mark.parametrize(
    "verdict, comment, field",
    [
        ("maybe", "", "verdict"),
        ("approve", "x" * 4001, "comment"),
        ("approve", "a\x00b", "comment"),
    ],
)
def test_a_bad_review_changes_nothing(team, decision, verdict, comment, field):
    _, users = team
    decisions.request_review(as_user(users["erin"]), decision, ["rita"])
    refused = refusal(decisions.review, as_user(users["rita"]), decision, verdict, comment)
    assert (refused.status, refused.field) == (400, field)
    assert not Review.objects.exists()
    assert decision.status == DecisionStatus.IN_REVIEW


def test_approving_twice_is_refused(team, decision):
    workspace, users = team
    workspace.required_approvals = 2
    workspace.save()
    decisions.request_review(as_user(users["erin"]), decision, ["rita", "otto"])
    decisions.review(as_user(users["rita"]), decision, "approve")
    refused = refusal(decisions.review, as_user(users["rita"]), decision, "approve")
    assert "already approved revision 1" in refused.message
    assert decisions.approval_count(decision) == 1


def test_an_accepted_decision_cannot_be_put_up_again_without_a_revision(team, decision):
    _, users = team
    decisions.request_review(as_user(users["erin"]), decision, ["rita"])
    decisions.review(as_user(users["rita"]), decision, "approve")
    refused = refusal(decisions.request_review, as_user(users["erin"]), decision, ["otto"])
    assert refused.status == 400 and "revise it" in refused.message


def test_comments_are_kept_in_order_as_plain_text(team, decision):
    _, users = team
    decisions.add_comment(as_user(users["rita"]), decision, "<b>first</b>")
    decisions.add_comment(as_user(users["erin"]), decision, "second")
    shown = [
        (c.author_name, c.body) for c in decisions.panel_context(decision)["decision"]["comments"]
    ]
    assert shown == [("rita", "<b>first</b>"), ("erin", "second")]
    assert actions(decision) == [AuditAction.DECISION_COMMENTED] * 2
    assert refusal(decisions.add_comment, as_user(users["erin"]), decision, "   ").field == "body"


def test_supersession_links_both_ways(team, decision, chat_answers):
    workspace, users = team
    newer, _ = Assessment.create_scored("Team chat, 2027", chat_answers, workspace=workspace)
    assert "only an accepted decision can be superseded" in (
        refusal(decisions.supersede, as_user(users["erin"]), decision, newer).message
    )
    decisions.request_review(as_user(users["erin"]), decision, ["rita"])
    decisions.review(as_user(users["rita"]), decision, "approve")
    # A draft cannot replace it: the application would have no decision standing.
    assert "only an accepted decision can supersede" in (
        refusal(decisions.supersede, as_user(users["erin"]), decision, newer).message
    )
    Assessment.objects.filter(pk=newer.pk).update(status=DecisionStatus.ACCEPTED)

    decisions.supersede(as_user(users["erin"]), decision, newer)

    assert decision.status == DecisionStatus.SUPERSEDED
    assert decision.superseded_by == newer
    assert list(newer.supersedes.all()) == [decision]
    assert AuditAction.DECISION_SUPERSEDED in actions(decision)


def test_supersession_stays_inside_the_workspace(team, decision, chat_answers):
    _, users = team
    elsewhere = Workspace.objects.create(slug="else", name="Else")
    foreign, _ = Assessment.create_scored("Theirs", chat_answers, workspace=elsewhere)
    assert refusal(decisions.supersede, as_user(users["erin"]), decision, foreign).status == 404
    assert refusal(decisions.supersede, as_user(users["erin"]), decision, decision).status == 400


def test_decisions_are_for_workspace_assessments(team, chat_answers):
    _, users = team
    anonymous, _ = Assessment.create_scored("Mine", chat_answers)
    assert (
        refusal(decisions.request_review, as_user(users["erin"]), anonymous, ["rita"]).status
        == 403
    )
    assert decisions.panel_context(anonymous) == {"decision": None}


def test_waiting_counts_only_what_i_have_not_reviewed(team, decision, chat_answers):
    workspace, users = team
    other, _ = Assessment.create_scored("Feed", chat_answers, workspace=workspace)
    decisions.request_review(as_user(users["erin"]), decision, ["rita"])
    decisions.request_review(as_user(users["erin"]), other, ["rita", "otto"])
    assert sorted(decisions.waiting_ids(users["rita"])) == sorted([decision.pk, other.pk])
    assert decisions.waiting_ids(users["erin"]) == []

    decisions.review(as_user(users["rita"]), decision, "approve")
    assert decisions.waiting_ids(users["rita"]) == [other.pk]

    # Leaving the workspace leaves its reviews behind.
    Membership.objects.filter(user=users["rita"]).delete()
    assert decisions.waiting_ids(users["rita"]) == []


def test_a_change_is_announced_once_committed(team, decision, django_capture_on_commit_callbacks):
    _, users = team
    heard = []

    def listener(sender, assessment, event, **kwargs):
        heard.append((assessment.pk, event.action))

    decisions.decision_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            decisions.request_review(as_user(users["erin"]), decision, ["rita"])
    finally:
        decisions.decision_changed.disconnect(listener)
    assert heard == [
        (decision.pk, AuditAction.REVIEW_REQUESTED),
        (decision.pk, AuditAction.DECISION_STATUS_CHANGED),
    ]


def test_a_refused_step_announces_nothing(team, decision, django_capture_on_commit_callbacks):
    _, users = team
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(Refused):
        decisions.review(as_user(users["rita"]), decision, "approve")
    assert callbacks == []


def _approve(user, assessment: Assessment, barrier: Barrier) -> str:
    """Approve as ``user`` once every thread is ready.

    Nothing is read before the barrier: a thread waiting for one of the
    pool's connections (PostgreSQL) must not keep the others waiting there.
    """
    try:
        barrier.wait(timeout=30)
        decisions.review(as_user(user), Assessment.objects.get(pk=assessment.pk), "approve")
        return "ok"
    except Refused as refused:
        return refused.message
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_are_counted_once_and_accept_once(chat_answers):
    workspace = Workspace.objects.create(slug="team", name="Team", required_approvals=2)
    names = ["erin", "rita", "otto", "olga"]
    users = {name: get_user_model().objects.create_user(name) for name in names}
    for name in names:
        Membership.objects.create(workspace=workspace, user=users[name], role=Role.OWNER)
    assessment, _ = Assessment.create_scored("Chat", chat_answers, workspace=workspace)
    decisions.request_review(as_user(users["erin"]), assessment, ["rita", "otto", "olga"])

    # rita twice at once, and otto at the same moment (three threads: with
    # PostgreSQL's pool of four connections, the test holds one).
    approvers = [users["rita"], users["rita"], users["otto"]]
    barrier = Barrier(len(approvers))
    with ThreadPoolExecutor(max_workers=len(approvers)) as pool:
        outcomes = list(pool.map(lambda user: _approve(user, assessment, barrier), approvers))

    assessment.refresh_from_db()
    assert assessment.status == DecisionStatus.ACCEPTED
    # rita's second approval is refused (already approved), or lands after the
    # acceptance (not in review): counted once either way.
    assert Review.objects.filter(reviewer=users["rita"]).count() == 1
    assert outcomes.count("ok") >= 2
    accepted = [
        event
        for event in AuditEvent.objects.filter(action=AuditAction.DECISION_STATUS_CHANGED)
        if event.detail["to"] == "accepted"
    ]
    assert len(accepted) == 1


def test_comments_and_reviews_keep_their_line_breaks(team, decision):
    _, users = team
    body = "Two points:\n- the proxy\n\t- its timeout\r\nThanks."
    decisions.add_comment(as_user(users["rita"]), decision, body)
    decisions.request_review(as_user(users["erin"]), decision, ["rita"])
    decisions.review(as_user(users["rita"]), decision, "approve", body)
    assert decision.comments.get().body == body
    assert decisions.approvals(decision)[0].comment == body
    assert (
        "line breaks"
        in refusal(decisions.add_comment, as_user(users["rita"]), decision, "bell\x07").message
    )


def test_a_review_is_of_the_revision_the_reviewer_read(team, decision, chat_answers):
    _, users = team
    decisions.request_review(as_user(users["erin"]), decision, ["rita"])
    writes.revise_assessment(as_user(users["erin"]), decision, "Swapped", chat_answers)
    decision.refresh_from_db()

    refused = refusal(
        lambda: decisions.review(as_user(users["rita"]), decision, "approve", seen_revision=1)
    )

    assert (refused.status, refused.field) == (400, "revision")
    assert "revision 2 was saved since" in refused.message
    assert not Review.objects.exists()
    decisions.review(as_user(users["rita"]), decision, "approve", seen_revision=2)
    assert decision.status == DecisionStatus.ACCEPTED


def test_a_reviewer_who_left_the_workspace_no_longer_counts(team, decision):
    workspace, users = team
    workspace.required_approvals = 2
    workspace.save()
    decisions.request_review(as_user(users["erin"]), decision, ["rita", "otto"])
    decisions.review(as_user(users["rita"]), decision, "approve")

    Membership.objects.filter(user=users["rita"]).delete()
    decisions.review(as_user(users["otto"]), decision, "approve")

    assert decision.status == DecisionStatus.IN_REVIEW
    assert [(a.reviewer, a.counts) for a in decisions.approvals(decision)] == [
        ("rita", False),
        ("otto", True),
    ]


def test_a_taken_decision_keeps_the_record_it_was_taken_with(team, decision):
    """Neither a stricter rule later nor a reviewer leaving rewrites an accepted decision."""
    workspace, users = team
    decisions.request_review(as_user(users["erin"]), decision, ["rita"])
    decisions.review(as_user(users["rita"]), decision, "approve")

    workspace.required_approvals = 2
    workspace.save()
    Membership.objects.filter(user=users["rita"]).delete()
    decision.refresh_from_db()

    shown = decisions.panel_context(decision)["decision"]
    assert (shown["approval_count"], shown["required_approvals"]) == (1, 1)
    assert [a.counts for a in shown["approvals"]] == [True]


def test_review_needs_enough_reviewers_to_ever_accept(team, decision):
    workspace, users = team
    workspace.required_approvals = 2
    workspace.save()

    refused = refusal(decisions.request_review, as_user(users["erin"]), decision, ["rita"])

    assert refused.status == 400 and "name at least 2 reviewers" in refused.message
    assert not decision.reviewers.exists()
    assert decision.status == DecisionStatus.DRAFT
    assert actions(decision) == []


def test_changes_are_requested_with_a_reason(team, decision):
    _, users = team
    decisions.request_review(as_user(users["erin"]), decision, ["rita"])
    refused = refusal(decisions.review, as_user(users["rita"]), decision, "request_changes", " ")
    assert (refused.status, refused.field) == (400, "comment")
    assert decision.status == DecisionStatus.IN_REVIEW


def test_supersession_cannot_make_a_cycle(team, decision, chat_answers):
    workspace, users = team
    newer, _ = Assessment.create_scored("Newer", chat_answers, workspace=workspace)
    decisions.request_review(as_user(users["erin"]), decision, ["rita"])
    decisions.review(as_user(users["rita"]), decision, "approve")
    decisions.request_review(as_user(users["erin"]), newer, ["rita"])
    decisions.review(as_user(users["rita"]), newer, "approve")
    decisions.supersede(as_user(users["erin"]), decision, newer)

    # The old one is superseded: it can neither replace the newer one nor be replaced again.
    assert refusal(decisions.supersede, as_user(users["erin"]), newer, decision).status == 400
    assert refusal(decisions.supersede, as_user(users["erin"]), decision, newer).status == 400
    newer.refresh_from_db()
    assert newer.status == DecisionStatus.ACCEPTED


@pytest.mark.parametrize("name", ["rita\x00", "\ud800", "x" * 151])
def test_a_name_no_database_holds_is_refused_as_input(team, decision, name):
    _, users = team
    refused = refusal(decisions.request_review, as_user(users["erin"]), decision, [name])
    assert (refused.status, refused.field) == (400, "reviewers")
