"""Emails about decisions: a review request to its reviewers, a decision to whoever asked.

Connected to ``decisions.decision_changed`` (apps.py), which is sent once a
change is committed, so nobody is told of a step that was rolled back.
Plain text, through Django's email backend (EMAIL_BACKEND; the console
backend unless configured). There is no request here (the signal may come
from a command), so links are built on ADVISOR_BASE_URL. Sending must
never break the step that caused it: a failure is logged and dropped.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection

from workspaces.models import AuditAction, AuditEvent

from . import decisions
from .models import Assessment, DecisionStatus

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[Transport Advisor] "
# The statuses whose news goes to whoever asked for review and to the creator.
DECIDED = {DecisionStatus.ACCEPTED, DecisionStatus.REJECTED}


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
    if event.action == AuditAction.DECISION_STATUS_CHANGED and event.detail.get("to") in DECIDED:
        return _decided(assessment, event)
    return []


def _review_requested(assessment: Assessment, event: AuditEvent) -> list[EmailMessage]:
    """Each reviewer this request names (not the requester), who has an address."""
    asker = _name(event)
    title = _one_line(assessment.display_title)
    revision = event.detail.get("revision")
    User = get_user_model()
    reviewers = User.objects.filter(
        **{f"{User.USERNAME_FIELD}__in": event.detail.get("reviewers", [])}
    ).exclude(pk=event.actor_user_id)
    body = (
        f"{asker} asks you to review the decision on {title} (revision {revision}).\n\n"
        f"Approve it or request changes on its page:\n{_link(assessment)}#decision\n"
    )
    return [
        _message(f"{asker} asks you to review {title}", body, user)
        for user in reviewers
        if user.email
    ]


def _decided(assessment: Assessment, event: AuditEvent) -> list[EmailMessage]:
    """Whoever asked for review, and the assessment's creator if someone else."""
    status = event.detail["to"]
    title = _one_line(assessment.display_title)
    label = DecisionStatus(status).label.lower()
    recipients = {}
    for user in (assessment.review_requested_by, assessment.created_by):
        if user is not None and user.email:
            recipients[user.pk] = user
    context = decisions.panel_context(assessment)["decision"]
    lines = [f"The decision on {title} is {label} (revision {event.detail.get('revision')})."]
    for approval in context["approvals"]:
        if approval.revision == event.detail.get("revision"):
            said = f": {approval.comment}" if approval.comment else ""
            lines.append(f"- {approval.reviewer} {approval.label}{said}")
    lines.append(f"\nSee it on its page:\n{_link(assessment)}#decision\n")
    return [
        _message(f"{title} is {label}", "\n".join(lines), user) for user in recipients.values()
    ]


def _message(subject: str, body: str, user) -> EmailMessage:
    return EmailMessage(
        subject=_one_line(SUBJECT_PREFIX + subject)[:200], body=body, to=[user.email]
    )


def _link(assessment: Assessment) -> str:
    return settings.ADVISOR_BASE_URL.rstrip("/") + assessment.get_absolute_url()


def _name(event: AuditEvent) -> str:
    """Who did it, without the token suffix the audit log adds."""
    return event.actor.split(" (token ", 1)[0] or "Someone"


def _one_line(text: str) -> str:
    """Titles are checked for control characters already; a header must never hold one."""
    return " ".join(text.split())
