"""A workspace assessment's decision: review, sign-off, comments, supersession.

The lifecycle::

    draft --request review--> in review --enough approvals--> accepted
                                  |  ^                           |
              changes requested   |  | new revision, or review   | superseded by
                                  v  | requested again           v another assessment
                               rejected                      superseded

- An editor (or owner) asks for review, naming reviewers: members whose role
  is reviewer, editor or owner.
- A named reviewer approves or requests changes, with a comment. A review
  is tied to the revision it was given on: a new revision sends the decision
  back to review, and earlier approvals are shown, not counted.
- The workspace's ``required_approvals`` approvals of the latest revision
  accept it; one request for changes rejects it until a new revision or a
  new request for review. Whoever asked for review may not review it,
  unless the workspace allows self-approval.
- Every change happens under a lock on the assessment's row (two approvals
  at once are counted once each, and accept at most once), is written to
  the audit log in the same transaction, and is announced once committed
  (``decision_changed``: the live stream and the emails listen).

Who may try each step is ``workspaces.access``'s to say (REQUEST_REVIEW,
REVIEW, COMMENT); what the decision's state allows is said here. A refusal
raises ``Refused`` with its status and a message naming why, and changes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F, Q
from django.dispatch import Signal
from django.http import HttpRequest
from django.utils import timezone

from advisor.http import text_problem
from workspaces import access, audit
from workspaces.access import REVIEWER_ROLES, Action, Principal, principal_of
from workspaces.models import AuditAction, AuditEvent, Membership, Workspace

from .models import (
    COMMENT_MAX_LENGTH,
    Assessment,
    Comment,
    DecisionStatus,
    Review,
    Reviewer,
    ReviewVerdict,
)

# Sent once a decision's change is committed: sender=Assessment,
# assessment, event (the AuditEvent), and the names of the users concerned.
decision_changed = Signal()

MAX_REVIEWERS = 20
USERNAME_MAX_LENGTH = 150
# The statuses from which a review may be asked for.
REQUESTABLE = {DecisionStatus.DRAFT, DecisionStatus.IN_REVIEW, DecisionStatus.REJECTED}
# Statuses whose record is kept as it was when the decision was taken.
TAKEN = {DecisionStatus.ACCEPTED, DecisionStatus.SUPERSEDED}
# Statuses that a new revision sends back to review.
REOPENED_BY_REVISION = {DecisionStatus.IN_REVIEW, DecisionStatus.ACCEPTED, DecisionStatus.REJECTED}


class Refused(Exception):
    """A step the decision's state does not allow: a status (400, 403, 404), a field, a message."""

    def __init__(self, status: int, field: str, message: str):
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Approval:
    """A review as the page, the API, the PDF and the ADR show it."""

    review_id: int
    reviewer: str
    revision: int
    verdict: str
    comment: str
    at: object
    # Whether it counts towards acceptance now: an approval of the latest
    # revision by a reviewer who is still named (and not the requester
    # where self-approval is off).
    counts: bool

    @property
    def label(self) -> str:
        if self.verdict == ReviewVerdict.APPROVE:
            return f"approved revision {self.revision}"
        return f"requested changes to revision {self.revision}"


def _require_workspace(assessment: Assessment) -> Workspace:
    if assessment.workspace_id is None:
        raise Refused(
            403,
            "decision",
            "decisions are taken on workspace assessments: move this one into a workspace first",
        )
    return assessment.workspace


def _locked(assessment: Assessment) -> Assessment:
    """The row, locked for the transaction: steps on one decision happen one at a time."""
    return (
        Assessment.objects.select_for_update(of=("self",))
        .select_related("workspace", "review_requested_by")
        .get(pk=assessment.pk)
    )


def _latest_number(assessment: Assessment) -> int:
    return assessment.revisions.order_by("-number").values_list("number", flat=True).first() or 0


def _set_status(
    request: HttpRequest | None, assessment: Assessment, status: str, *, reason: str
) -> AuditEvent | None:
    if assessment.status == status:
        return None
    before = assessment.status
    if status in {DecisionStatus.ACCEPTED, DecisionStatus.REJECTED}:
        # The approvals that accepted it, and the rule it was taken under, are
        # kept as they were: the record must not change with later events.
        counted = [approval.review_id for approval in approvals(assessment) if approval.counts]
        Review.objects.filter(pk__in=counted).update(counted_in_decision=True)
        assessment.required_at_decision = assessment.workspace.required_approvals
    elif status != DecisionStatus.SUPERSEDED:
        Review.objects.filter(assessment=assessment).update(counted_in_decision=False)
        assessment.required_at_decision = None
    assessment.status = status
    assessment.status_changed_at = timezone.now()
    Assessment.objects.filter(pk=assessment.pk).update(
        status=status,
        status_changed_at=assessment.status_changed_at,
        required_at_decision=assessment.required_at_decision,
    )
    return audit.record(
        request,
        AuditAction.DECISION_STATUS_CHANGED,
        workspace=assessment.workspace,
        target=assessment,
        detail={
            "from": before,
            "to": status,
            "revision": _latest_number(assessment),
            "reason": reason,
            "title": assessment.title,
        },
    )


def _announce(assessment: Assessment, events: Iterable[AuditEvent | None]) -> None:
    """Send ``decision_changed`` for each event once the transaction commits."""
    for event in events:
        if event is None:
            continue

        def send(event=event) -> None:
            decision_changed.send(sender=Assessment, assessment=assessment, event=event)

        transaction.on_commit(send)


def eligible_reviewers(workspace: Workspace):
    """The members a decision's reviewers are chosen from, with their users."""
    return (
        Membership.objects.filter(workspace=workspace, role__in=REVIEWER_ROLES)
        .select_related("user")
        .order_by("user__username")
    )


def request_review(
    request: HttpRequest, assessment: Assessment, usernames: Iterable[str]
) -> list[Reviewer]:
    """Ask the named members to review the latest revision (→ in review)."""
    workspace = _require_workspace(assessment)
    requester = principal_of(request).user
    names = list(dict.fromkeys(name.strip() for name in usernames if name and name.strip()))
    for name in names:
        # A name no database could hold (NUL, a lone surrogate) names nobody.
        if text_problem(name, USERNAME_MAX_LENGTH):
            raise Refused(400, "reviewers", f"{name[:40]!r} is not a username")
    if not names:
        raise Refused(400, "reviewers", "name at least one reviewer")
    if len(names) > MAX_REVIEWERS:
        raise Refused(400, "reviewers", f"name at most {MAX_REVIEWERS} reviewers")
    members = {
        membership.user.get_username(): membership.user
        for membership in eligible_reviewers(workspace).filter(user__username__in=names)
    }
    unknown = [name for name in names if name not in members]
    if unknown:
        raise Refused(
            400,
            "reviewers",
            f"not a reviewer, editor or owner of {workspace.name}: {', '.join(unknown)}",
        )
    if (
        not workspace.allow_self_approval
        and requester is not None
        and requester.get_username() in names
    ):
        raise Refused(
            400,
            "reviewers",
            "you cannot review a decision you put up for review: this workspace does not "
            "allow self-approval",
        )
    with transaction.atomic():
        locked = _locked(assessment)
        if locked.status not in REQUESTABLE:
            raise Refused(
                400,
                "status",
                f"the decision is {locked.get_status_display().lower()}: "
                + (
                    "revise it to take it back to review"
                    if locked.status == DecisionStatus.ACCEPTED
                    else "it can no longer be reviewed"
                ),
            )
        if not workspace.allow_self_approval:
            # Whoever asked for review of this decision before may not be
            # named by someone else either: the rule is about the decision.
            barred = sorted(
                members[name].get_username()
                for name in names
                if members[name].pk in requesters(locked)
            )
            if barred:
                raise Refused(
                    400,
                    "reviewers",
                    f"{', '.join(barred)} asked for review of this decision: this workspace "
                    "does not allow approving one's own decision",
                )
        added = []
        for name in names:
            reviewer, created = Reviewer.objects.get_or_create(
                assessment=locked, user=members[name], defaults={"requested_by": requester}
            )
            if created:
                added.append(reviewer)
        Assessment.objects.filter(pk=locked.pk).update(review_requested_by=requester)
        locked.review_requested_by = requester
        can_count = len(counting_reviewers(workspace, [locked.pk]).get(locked.pk, ()))
        if can_count < workspace.required_approvals:
            # Refused inside the transaction: the reviewers just named go too.
            raise Refused(
                400,
                "reviewers",
                f"{workspace.name} needs {workspace.required_approvals} approvals to accept a "
                f"decision: name at least {workspace.required_approvals} reviewers who may "
                f"approve it ({can_count} named)",
            )
        event = audit.record(
            request,
            AuditAction.REVIEW_REQUESTED,
            workspace=workspace,
            target=locked,
            detail={
                "reviewers": names,
                # Who is new to this decision, and the status it was asked
                # from: the emails tell a new round to everyone, else the new.
                "added": [reviewer.user.get_username() for reviewer in added],
                "from": locked.status,
                "revision": _latest_number(locked),
                "title": locked.title,
            },
        )
        status_event = _set_status(
            request, locked, DecisionStatus.IN_REVIEW, reason="review requested"
        )
        _announce(locked, [event, status_event])
    assessment.refresh_from_db()
    return added


def review(
    request: HttpRequest,
    assessment: Assessment,
    verdict: str,
    comment: str = "",
    *,
    seen_revision: int | None = None,
) -> Review:
    """A named reviewer's verdict on the latest revision; enough approvals accept it.

    ``seen_revision`` is the revision the reviewer read (the form and the
    API send it): if another was saved since, the review is refused.
    """
    workspace = _require_workspace(assessment)
    if verdict not in ReviewVerdict.values:
        raise Refused(400, "verdict", 'use "approve" or "request_changes"')
    comment = comment or ""
    problem = text_problem(comment, COMMENT_MAX_LENGTH, multiline=True)
    if problem:
        raise Refused(400, "comment", problem)
    if verdict == ReviewVerdict.REQUEST_CHANGES and not comment.strip():
        raise Refused(400, "comment", "say what should change: the editor acts on it")
    user = principal_of(request).user
    with transaction.atomic():
        locked = _locked(assessment)
        if not Reviewer.objects.filter(assessment=locked, user=user).exists():
            raise Refused(403, "reviewer", "you are not a named reviewer of this decision")
        if locked.status != DecisionStatus.IN_REVIEW:
            raise Refused(
                400,
                "status",
                f"the decision is {locked.get_status_display().lower()}, not in review",
            )
        if not workspace.allow_self_approval and user.pk in requesters(locked):
            raise Refused(
                403,
                "reviewer",
                "you requested this review: this workspace does not allow approving "
                "your own decision",
            )
        revision = locked.revisions.order_by("-number").first()
        if seen_revision is not None and seen_revision != revision.number:
            # The review is of what the reviewer read: a revision saved
            # since then has not been read.
            raise Refused(
                400,
                "revision",
                f"revision {seen_revision} is not the latest: revision {revision.number} was "
                "saved since; read it and review again",
            )
        earlier = Review.objects.filter(revision=revision, reviewer=user).order_by("-id").first()
        if earlier is not None and earlier.verdict == verdict:
            raise Refused(
                400,
                "verdict",
                f"you already {earlier.get_verdict_display().lower()} revision {revision.number}",
            )
        given = Review.objects.create(
            assessment=locked,
            revision=revision,
            reviewer=user,
            reviewer_name=user.get_username(),
            verdict=verdict,
            comment=comment,
        )
        action = (
            AuditAction.REVIEW_APPROVED
            if verdict == ReviewVerdict.APPROVE
            else AuditAction.REVIEW_CHANGES_REQUESTED
        )
        event = audit.record(
            request,
            action,
            workspace=workspace,
            target=locked,
            detail={
                "revision": revision.number,
                "review": given.pk,
                "comment": comment[:200],
                "title": locked.title,
            },
        )
        if verdict == ReviewVerdict.REQUEST_CHANGES:
            status_event = _set_status(
                request, locked, DecisionStatus.REJECTED, reason="changes requested"
            )
        elif approval_count(locked) >= workspace.required_approvals:
            status_event = _set_status(request, locked, DecisionStatus.ACCEPTED, reason="approved")
        else:
            status_event = None
        _announce(locked, [event, status_event])
    assessment.refresh_from_db()
    return given


def add_comment(request: HttpRequest, assessment: Assessment, body: str) -> Comment:
    workspace = _require_workspace(assessment)
    body = (body or "").strip()
    if not body:
        raise Refused(400, "body", "write a comment")
    problem = text_problem(body, COMMENT_MAX_LENGTH, multiline=True)
    if problem:
        raise Refused(400, "body", problem)
    user = principal_of(request).user
    with transaction.atomic():
        locked = _locked(assessment)
        comment = Comment.objects.create(
            assessment=locked,
            author=user,
            author_name=user.get_username(),
            body=body,
            revision_number=_latest_number(locked),
        )
        event = audit.record(
            request,
            AuditAction.DECISION_COMMENTED,
            workspace=workspace,
            target=locked,
            detail={"comment": comment.pk, "excerpt": body[:200], "title": locked.title},
        )
        _announce(locked, [event])
    return comment


def supersede(request: HttpRequest, old: Assessment, new: Assessment) -> None:
    """Mark the accepted decision ``old`` as replaced by ``new`` (same workspace)."""
    workspace = _require_workspace(old)
    if new.pk == old.pk:
        raise Refused(400, "superseded_by", "a decision cannot supersede itself")
    if new.workspace_id != old.workspace_id:
        raise Refused(404, "superseded_by", "no such assessment in this workspace")
    with transaction.atomic():
        locked = _locked(old)
        if locked.status != DecisionStatus.ACCEPTED:
            raise Refused(
                400,
                "status",
                f"only an accepted decision can be superseded; this one is "
                f"{locked.get_status_display().lower()}",
            )
        # Read now, under the lock. Only a decision that stands replaces one:
        # a draft would leave the application with no accepted decision, and
        # a superseded one would start a chain (or a cycle) with none at its end.
        successor = Assessment.objects.filter(pk=new.pk).values_list("status", flat=True).first()
        if successor != DecisionStatus.ACCEPTED:
            raise Refused(
                400,
                "superseded_by",
                "only an accepted decision can supersede another: take that one through "
                "review first",
            )
        Assessment.objects.filter(pk=locked.pk).update(superseded_by=new)
        locked.superseded_by = new
        event = audit.record(
            request,
            AuditAction.DECISION_SUPERSEDED,
            workspace=workspace,
            target=locked,
            detail={"superseded_by": str(new.pk), "title": locked.title, "by_title": new.title},
        )
        status_event = _set_status(
            request, locked, DecisionStatus.SUPERSEDED, reason=f"superseded by {new}"
        )
        _announce(locked, [event, status_event])
    old.refresh_from_db()


def revised(request: HttpRequest | None, assessment: Assessment) -> None:
    """After a new revision: a decision under review or taken goes back to review.

    Called inside the revision's transaction (``writes.revise_assessment``).
    """
    if assessment.workspace_id is None or assessment.status not in REOPENED_BY_REVISION:
        return
    locked = _locked(assessment)
    event = _set_status(request, locked, DecisionStatus.IN_REVIEW, reason="new revision")
    # Even in review already, a new revision is news to whoever watches it.
    if event is None:
        event = audit.record(
            request,
            AuditAction.DECISION_STATUS_CHANGED,
            workspace=locked.workspace,
            target=locked,
            detail={
                "from": locked.status,
                "to": locked.status,
                "revision": _latest_number(locked),
                "reason": "new revision",
                "title": locked.title,
            },
        )
    _announce(locked, [event])
    assessment.status = locked.status


def set_rules(
    request: HttpRequest, workspace: Workspace, required_approvals: int, allow_self_approval: bool
) -> bool:
    """Change the workspace's sign-off rules; False if nothing changed."""
    if (
        workspace.required_approvals == required_approvals
        and workspace.allow_self_approval == allow_self_approval
    ):
        return False
    before = {
        "required_approvals": workspace.required_approvals,
        "allow_self_approval": workspace.allow_self_approval,
    }
    workspace.required_approvals = required_approvals
    workspace.allow_self_approval = allow_self_approval
    workspace.full_clean()
    with transaction.atomic():
        workspace.save(update_fields=["required_approvals", "allow_self_approval"])
        audit.record(
            request,
            AuditAction.WORKSPACE_SETTINGS_CHANGED,
            workspace=workspace,
            target=workspace,
            detail={
                "before": before,
                "after": {
                    "required_approvals": required_approvals,
                    "allow_self_approval": allow_self_approval,
                },
            },
        )
    return True


# Reading a decision.


def requesters(assessment: Assessment) -> set[int]:
    """The ids of everyone who asked for review of this decision, now or before."""
    asked = set(
        Reviewer.objects.filter(assessment=assessment, requested_by__isnull=False).values_list(
            "requested_by_id", flat=True
        )
    )
    if assessment.review_requested_by_id is not None:
        asked.add(assessment.review_requested_by_id)
    return asked


def counting_reviewers(workspace: Workspace, assessment_ids=None) -> dict[object, set[int]]:
    """Whose approvals may count, per assessment of ``workspace`` (all, or those named).

    A named reviewer who is still a member with a reviewing role (reviewer,
    editor, owner), and, unless the workspace allows self-approval, never
    asked for review of that decision. Two queries, whatever the number of
    assessments: the portfolio asks for a whole workspace at once.
    """
    rows = Reviewer.objects.filter(assessment__workspace=workspace)
    if assessment_ids is not None:
        rows = rows.filter(assessment_id__in=assessment_ids)
    eligible = set(
        Membership.objects.filter(workspace=workspace, role__in=REVIEWER_ROLES).values_list(
            "user_id", flat=True
        )
    )
    named: dict[object, set[int]] = {}
    barred: dict[object, set[int]] = {}
    for assessment_id, user_id, requested_by, latest_requester in rows.values_list(
        "assessment_id", "user_id", "requested_by_id", "assessment__review_requested_by_id"
    ):
        named.setdefault(assessment_id, set()).add(user_id)
        barred.setdefault(assessment_id, set()).update(
            pk for pk in (requested_by, latest_requester) if pk is not None
        )
    return {pk: _may_count(users, eligible, barred[pk], workspace) for pk, users in named.items()}


def _may_count(named: set[int], eligible: set[int], barred: set[int], workspace) -> set[int]:
    """Of the ``named`` reviewers, those whose approvals count: still ``eligible``, and
    not ``barred`` (having asked for review) unless the workspace allows self-approval."""
    return {
        user_id
        for user_id in named
        if user_id in eligible and (workspace.allow_self_approval or user_id not in barred)
    }


def approvals(assessment: Assessment) -> list[Approval]:
    """Every review, oldest first, each saying whether it counts now."""
    reviews = _reviews(assessment)
    if assessment.status in TAKEN:
        return _weighed(reviews)
    counting = (
        counting_reviewers(assessment.workspace, [assessment.pk]).get(assessment.pk, set())
        if assessment.workspace_id is not None
        else set()
    )
    return _weighed(reviews, _latest_number(assessment), counting)


def _reviews(assessment: Assessment) -> list[Review]:
    """The assessment's reviews, oldest first, each with its ``revision_number``.

    The number alone, not the revision: its row holds the answers and the
    result, which would be read and decoded for every review.
    """
    return list(assessment.reviews.annotate(revision_number=F("revision__number")))


def _weighed(
    reviews: list[Review], latest: int | None = None, counting: set[int] | None = None
) -> list[Approval]:
    """``reviews`` as shown, each saying whether it counts: as recorded when the
    decision was taken (no ``latest``), else towards the ``latest`` revision
    by the ``counting`` reviewers."""
    if latest is None:
        # Taken: the approvals that counted then are the record.
        return [_shown(given, given.counted_in_decision) for given in reviews]
    # A reviewer's latest verdict on a revision is the one that stands.
    standing = {}
    for given in reviews:
        standing[(given.revision_number, given.reviewer_id)] = given.pk
    shown = []
    for given in reviews:
        counts = (
            given.verdict == ReviewVerdict.APPROVE
            and given.revision_number == latest
            and standing[(latest, given.reviewer_id)] == given.pk
            and given.reviewer_id in counting
        )
        shown.append(_shown(given, counts))
    return shown


def _shown(given: Review, counts: bool) -> Approval:
    return Approval(
        review_id=given.pk,
        reviewer=given.reviewer_name,
        revision=given.revision_number,
        verdict=given.verdict,
        comment=given.comment,
        at=given.created_at,
        counts=counts,
    )


@dataclass(frozen=True)
class Acceptance:
    """When a taken decision was accepted, and which revision was."""

    at: datetime
    revision: int | None


def acceptance(assessment: Assessment) -> Acceptance | None:
    """The newest acceptance of a taken decision, read from the audit log.

    ``status_changed_at`` cannot say it: a superseded decision's is the
    supersession's. None while undecided, or if the log holds no acceptance
    (a status set without the services).
    """
    if assessment.status not in TAKEN:
        return None
    event = (
        AuditEvent.objects.filter(
            action=AuditAction.DECISION_STATUS_CHANGED,
            object_type=Assessment._meta.model_name,
            object_id=str(assessment.pk),
            detail__to=DecisionStatus.ACCEPTED,
        )
        .order_by("-at", "-id")
        .first()
    )
    if event is None:
        return None
    return Acceptance(at=event.at, revision=event.detail.get("revision"))


def approval_count(assessment: Assessment) -> int:
    return sum(1 for approval in approvals(assessment) if approval.counts)


def waiting_for(principal: Principal) -> list:
    """The ids of the decisions waiting for this principal's review (a token: in its workspace)."""
    if principal.user is None:
        return []
    reviewing = [
        m.workspace_id for m in access.my_memberships(principal) if m.role in REVIEWER_ROLES
    ]
    return _waiting_in(principal.user, reviewing)


def waiting_count(principal: Principal) -> int:
    """How many decisions wait for this person's review (the header's count)."""
    return len(waiting_for(principal))


def waiting_ids(user, workspace_ids=None) -> list:
    """The ids of the decisions waiting for ``user``'s review, in their workspaces
    (only in ``workspace_ids`` when given: a token's one workspace)."""
    reviewing = Membership.objects.filter(user=user, role__in=REVIEWER_ROLES)
    if workspace_ids is not None:
        reviewing = reviewing.filter(workspace_id__in=workspace_ids)
    return _waiting_in(user, list(reviewing.values_list("workspace_id", flat=True)))


def _waiting_in(user, reviewing: list) -> list:
    """``waiting_ids`` in the workspaces where ``user`` has a reviewing role (``reviewing``)."""
    if not reviewing:
        return []
    asked = Reviewer.objects.filter(requested_by=user).values("assessment_id")
    candidates = Assessment.objects.filter(
        status=DecisionStatus.IN_REVIEW, reviewers__user=user, workspace_id__in=reviewing
    ).exclude(Q(review_requested_by=user) | Q(pk__in=asked), workspace__allow_self_approval=False)
    ids = []
    for assessment_id, latest in candidates.values_list("pk", "revisions__number").order_by(
        "pk", "-revisions__number"
    ):
        if ids and ids[-1][0] == assessment_id:
            continue
        ids.append((assessment_id, latest))
    reviewed = set(
        Review.objects.filter(reviewer=user, assessment_id__in=[pk for pk, _ in ids]).values_list(
            "assessment_id", "revision__number"
        )
    )
    return [pk for pk, latest in ids if (pk, latest) not in reviewed]


@dataclass
class _Record:
    """A decision's rows that the panel reads, each table once (``panel_context``)."""

    latest: int
    reviews: list[Review]
    # The named reviewers, with their users and who named them.
    named: list[Reviewer]
    # The workspace's members who may review, with their users: whose
    # approvals may count and whom a request for review may name. Not read
    # for a taken decision, which neither counts nor asks any more.
    eligible: list[Membership]
    # Everyone who asked for review of it, now or before (``requesters``).
    requesters: set[int]

    @classmethod
    def load(cls, assessment: Assessment, latest: int | None) -> _Record:
        named = list(
            Reviewer.objects.filter(assessment=assessment).select_related("user", "requested_by")
        )
        asked = {reviewer.requested_by_id for reviewer in named} | {
            assessment.review_requested_by_id
        }
        return cls(
            latest=_latest_number(assessment) if latest is None else latest,
            reviews=_reviews(assessment),
            named=named,
            eligible=[]
            if assessment.status in TAKEN
            else list(eligible_reviewers(assessment.workspace)),
            requesters=asked - {None},
        )

    def counting(self, workspace: Workspace) -> set[int]:
        """``counting_reviewers`` of this one decision, from the rows read."""
        return _may_count(
            {reviewer.user_id for reviewer in self.named},
            {membership.user_id for membership in self.eligible},
            self.requesters,
            workspace,
        )

    def approvals(self, assessment: Assessment) -> list[Approval]:
        if assessment.status in TAKEN:
            return _weighed(self.reviews)
        return _weighed(self.reviews, self.latest, self.counting(assessment.workspace))

    def requested_by(self, assessment: Assessment):
        """Who asked for review last: among the users read already, as a rule."""
        users = {reviewer.requested_by_id: reviewer.requested_by for reviewer in self.named}
        pk = assessment.review_requested_by_id
        if pk in users:
            return users[pk]
        return assessment.review_requested_by


def panel_context(
    assessment: Assessment,
    principal: Principal | None = None,
    seen: int | None = None,
    *,
    latest: int | None = None,
) -> dict:
    """What the decision panel shows (the result page, its live partial, the PDF, the ADR).

    With a principal (the pages), also the forms it may use now (``forms``).
    ``seen`` is the revision the page shows: a review is of that revision,
    and once a newer one is saved the panel says so instead of offering it.
    ``latest`` is the latest revision's number, when the caller has read the
    revisions already (the result page).
    """
    if assessment.workspace_id is None:
        return {"decision": None}
    record = _Record.load(assessment, latest)
    given = record.approvals(assessment)
    latest = record.latest
    seen = seen if seen is not None and 0 < seen <= latest else latest
    forms = panel_forms(assessment, principal, seen, record) if principal is not None else {}
    shared = principal is not None and principal.share_link is not None
    requested_by = record.requested_by(assessment)
    by_request = sorted(record.named, key=lambda reviewer: (reviewer.requested_at, reviewer.pk))
    return {
        "decision": {
            "status": assessment.status,
            "status_label": assessment.get_status_display(),
            "status_changed_at": assessment.status_changed_at,
            "requested_by": requested_by,
            "reviewers": [reviewer.user for reviewer in record.named],
            # Everyone who asked for review, first asker first (the ADR's "consulted").
            "requesters": list(
                dict.fromkeys(
                    user
                    for user in [
                        *(reviewer.requested_by for reviewer in by_request),
                        requested_by,
                    ]
                    if user is not None
                )
            ),
            "approvals": given,
            "approval_count": sum(1 for approval in given if approval.counts),
            "acceptance": acceptance(assessment),
            "required_approvals": assessment.required_at_decision
            or assessment.workspace.required_approvals,
            "seen": seen,
            "latest": latest,
            "comments": list(assessment.comments.all()),
            # A share link opens one assessment: the others it is linked to
            # are named only to the workspace's members.
            "superseded_by": assessment.superseded_by if not shared else None,
            "supersedes": list(assessment.supersedes.all()) if not shared else [],
            "superseded": assessment.superseded_by_id is not None,
            "supersedes_another": shared and assessment.supersedes.exists(),
            "forms": forms,
        }
    }


def panel_forms(assessment: Assessment, principal: Principal, seen: int, record: _Record) -> dict:
    """The decision forms ``principal`` may use now, with what each offers.

    Both the access policy (the role) and the decision's state decide, so
    that nobody is shown a form that can only be refused: a reviewer sees
    "Review" once named and only while in review, never on a decision they
    put up themselves where self-approval is off.
    """
    workspace = assessment.workspace
    user = principal.user
    latest = record.latest
    named = {reviewer.user_id for reviewer in record.named}
    may_request = access.can(principal, Action.REQUEST_REVIEW, assessment)
    forms = {
        "revision": seen,
        "comment_max_length": COMMENT_MAX_LENGTH,
        "request_review": may_request and assessment.status in REQUESTABLE,
        "review": (
            assessment.status == DecisionStatus.IN_REVIEW
            and seen == latest
            and user is not None
            and access.can(principal, Action.REVIEW, assessment)
            and user.pk in named
            and (workspace.allow_self_approval or user.pk not in record.requesters)
        ),
        # My standing verdict on the latest revision, if I gave one.
        "my_review": max(
            (
                given
                for given in record.reviews
                if user is not None
                and given.reviewer_id == user.pk
                and given.revision_number == latest
            ),
            key=lambda given: given.pk,
            default=None,
        ),
        "comment": access.can(principal, Action.COMMENT, assessment),
        "supersede": may_request and assessment.status == DecisionStatus.ACCEPTED,
        "reviewer_choices": [],
        "supersede_choices": [],
    }
    if forms["request_review"]:
        forms["reviewer_choices"] = [
            {"username": m.user.get_username(), "role": m.role, "named": m.user_id in named}
            for m in record.eligible
            if workspace.allow_self_approval or user is None or m.user_id != user.pk
        ]
    if forms["supersede"]:
        forms["supersede_choices"] = list(
            Assessment.objects.filter(workspace=workspace, status=DecisionStatus.ACCEPTED)
            .exclude(pk=assessment.pk)
            .exclude(superseded_by=assessment)
            .order_by("title", "created_at")
        )
    return forms
