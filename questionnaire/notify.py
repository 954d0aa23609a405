"""Emails about decisions: review requests and new revisions to reviewers, a decision to
whoever asked.

Connected to ``decisions.decision_changed`` (apps.py), which is sent once a
change is committed, so nobody is told of a step that was rolled back.
Plain text, through Django's email backend (EMAIL_BACKEND; the console
backend unless configured). There is no request here (the signal may come
from a command), so links are built on ADVISOR_BASE_URL. Sending must
never break the step that caused it: a failure is logged and dropped.

What people wrote (comments) is quoted, each line behind "> ", so that it
cannot pass for the email's own text, such as a link to follow.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection

from workspaces.models import AuditAction, AuditEvent

from . import decisions
from .models import Assessment, DecisionStatus, ReviewVerdict

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[Transport Advisor] "
# A title is cut to this in a subject, so that what happened to it never is.
SUBJECT_TITLE_LENGTH = 80
# The statuses whose news goes to whoever asked for review and to the creator.
DECIDED = {DecisionStatus.ACCEPTED, DecisionStatus.REJECTED}
# The reason ``decisions.revised`` gives: a new revision takes it back to review.
NEW_REVISION = "new revision"


def connect() -> None:
    decisions.decision_changed.connect(
        on_decision_changed, sender=Assessment, dispatch_uid="questionnaire.notify"
    )


def on_decision_changed(sender, assessment: Assessment, event: AuditEvent, **kwargs) -> None:
    try:
        messages = emails_for(assessment, event)
        if messages:
            get_connection().send_messages(messages)
    except Exception:
        logger.exception(
            "could not send the emails about %s on assessment %s", event.action, assessment.pk
        )


def emails_for(assessment: Assessment, event: AuditEvent) -> list[EmailMessage]:
    """The emails an event of a decision sends: none for most."""
    if event.action == AuditAction.REVIEW_REQUESTED:
        return _review_requested(assessment, event)
    if event.action != AuditAction.DECISION_STATUS_CHANGED:
        return []
    if event.detail.get("reason") == NEW_REVISION:
        return _revised(assessment, event)
    if event.detail.get("to") in DECIDED:
        return _decided(assessment, event)
    return []


def _review_requested(assessment: Assessment, event: AuditEvent) -> list[EmailMessage]:
    """The reviewers this request adds; all it names when it starts a round.

    A request made while in review only adds reviewers: those named before
    were told already. From a draft or a rejection it is a new round, which
    everyone named must review (again).
    """
    asker = _name(event)
    title = _one_line(assessment.display_title)
    before = event.detail.get("from")
    new_round = before != DecisionStatus.IN_REVIEW
    names = event.detail.get("reviewers" if new_round else "added", [])
    User = get_user_model()
    reviewers = User.objects.filter(**{f"{User.USERNAME_FIELD}__in": names}).exclude(
        pk=event.actor_user_id
    )
    again = " again" if before == DecisionStatus.REJECTED else ""
    body = (
        f"{asker} asks you to review the decision on {title}{again} "
        f"(revision {event.detail.get('revision')}).\n\n"
        f"Approve it or request changes on its page:\n{_link(assessment)}#decision\n"
    )
    subject = f"{asker} asks you to review {_short(assessment.display_title)}"
    return [_message(subject, body, user) for user in reviewers if user.email]


def _revised(assessment: Assessment, event: AuditEvent) -> list[EmailMessage]:
    """The reviewers whose approval could count, but not whoever saved the revision."""
    who = _name(event)
    revision = event.detail.get("revision")
    counting = decisions.counting_reviewers(assessment.workspace, [assessment.pk])
    reviewers = (
        get_user_model()
        .objects.filter(pk__in=counting.get(assessment.pk, set()))
        .exclude(pk=event.actor_user_id)
    )
    body = (
        f"{who} saved revision {revision} of {_one_line(assessment.display_title)}: "
        "please review it again.\n"
        "Reviews of earlier revisions no longer count.\n\n"
        f"Approve it or request changes on its page:\n{_link(assessment)}#decision\n"
    )
    subject = f"{who} saved revision {revision} of {_short(assessment.display_title)}"
    return [_message(subject, body, user) for user in reviewers if user.email]


def _decided(assessment: Assessment, event: AuditEvent) -> list[EmailMessage]:
    """Whoever asked for review, and the assessment's creator if someone else."""
    status = event.detail["to"]
    revision = event.detail.get("revision")
    label = DecisionStatus(status).label.lower()
    recipients = {}
    for user in (assessment.review_requested_by, assessment.created_by):
        if user is not None and user.email:
            recipients[user.pk] = user
    given = [
        approval
        for approval in decisions.panel_context(assessment)["decision"]["approvals"]
        if approval.revision == revision
    ]
    lines = [
        f"The decision on {_one_line(assessment.display_title)} is {label} (revision {revision}).",
        "",
    ]
    if status == DecisionStatus.REJECTED:
        lines += _changes_requested(given)
    else:
        lines += _approved(given)
    lines.append(f"See it on its page:\n{_link(assessment)}#decision\n")
    subject = f"{_short(assessment.display_title)} is {label}"
    return [_message(subject, "\n".join(lines), user) for user in recipients.values()]


def _changes_requested(given: list[decisions.Approval]) -> list[str]:
    """The request that rejected it (the latest on the revision), and what to do next."""
    requests = [
        approval for approval in given if approval.verdict == ReviewVerdict.REQUEST_CHANGES
    ]
    last = requests[-1]
    return [
        f"{last.reviewer} requested changes: revise the answers, then request review again.",
        _quoted(last.comment),
        "",
    ]


def _approved(given: list[decisions.Approval]) -> list[str]:
    """The approvals that accepted it, each with its comment."""
    lines = []
    for approval in given:
        if approval.counts:
            lines.append(
                f"{approval.reviewer} {approval.label}" + (":" if approval.comment else ".")
            )
            if approval.comment:
                lines.append(_quoted(approval.comment))
            lines.append("")
    return lines


def _message(subject: str, body: str, user) -> EmailMessage:
    return EmailMessage(subject=_one_line(SUBJECT_PREFIX + subject), body=body, to=[user.email])


def _link(assessment: Assessment) -> str:
    return settings.ADVISOR_BASE_URL.rstrip("/") + assessment.get_absolute_url()


def _name(event: AuditEvent) -> str:
    """Who did it, without the token suffix the audit log adds."""
    return event.actor.split(" (token ", 1)[0] or "Someone"


def _one_line(text: str) -> str:
    """Titles are checked for control characters already; a header must never hold one."""
    return " ".join(text.split())


def _short(title: str) -> str:
    """A title for a subject: on one line, cut with an ellipsis past SUBJECT_TITLE_LENGTH."""
    title = _one_line(title)
    if len(title) <= SUBJECT_TITLE_LENGTH:
        return title
    return title[: SUBJECT_TITLE_LENGTH - 1].rstrip() + "…"


def _quoted(text: str) -> str:
    """Someone's text, each line behind "> " (any line break counts, U+2028 too)."""
    return "\n".join(f"> {line}".rstrip() for line in text.splitlines() or [""])
