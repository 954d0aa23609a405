"""Assessments and share links written on a request's behalf, each logged in the audit log.

The wizard and the API both create and revise through here, and the share
links' page and API both go through here, so each change is logged alike.
Whether the request may make it is checked before (``workspaces.access``).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse

from network_check.models import NetworkCheck
from workspaces import audit
from workspaces.access import principal_of
from workspaces.models import AuditAction

from . import decisions, prerender
from .catalogue import Catalogue
from .models import Assessment, Revision, ShareLink


def create_assessment(
    request: HttpRequest,
    placement: dict,
    title: str,
    answers: Mapping[str, str],
    catalogue: Catalogue | None = None,
    *,
    network_check: NetworkCheck | None = None,
    traffic: Mapping | None = None,
) -> tuple[Assessment, Revision]:
    assessment, revision = Assessment.create_scored(
        title, answers, catalogue, network_check=network_check, traffic=traffic, **placement
    )
    audit.record(
        request,
        AuditAction.ASSESSMENT_CREATED,
        workspace=assessment.workspace,
        target=assessment,
        detail={"title": title, "recommendation": assessment.recommendation},
    )
    # Its first download is likely soon.
    prerender.after_commit(assessment.pk)
    return assessment, revision


def revise_assessment(
    request: HttpRequest,
    assessment: Assessment,
    title: str,
    answers: Mapping[str, str],
    catalogue: Catalogue | None = None,
    *,
    network_check: NetworkCheck | None = None,
    traffic: Mapping | None = None,
) -> Revision:
    with transaction.atomic():
        revision = assessment.revise(
            title, answers, catalogue, network_check=network_check, traffic=traffic
        )
        audit.record(
            request,
            AuditAction.ASSESSMENT_REVISED,
            workspace=assessment.workspace,
            target=assessment,
            detail={
                "title": title,
                "revision": revision.number,
                "recommendation": assessment.recommendation,
            },
        )
        # A decision under review or taken goes back to review.
        decisions.revised(request, assessment)
        prerender.after_commit(assessment.pk)
    return revision


def create_share_link(
    request: HttpRequest, assessment: Assessment, expires_in_days: int | None
) -> tuple[ShareLink, str]:
    """A new read-only link and its URL, which holds the secret: shown once."""
    # The principal's user: a token's request has no signed-in request.user.
    user = principal_of(request).user
    with transaction.atomic():
        link, secret = ShareLink.issue(
            assessment,
            created_by=user,
            expires_in_days=expires_in_days,
        )
        audit.record(
            request,
            AuditAction.SHARE_LINK_CREATED,
            workspace=assessment.workspace,
            target=assessment,
            detail={
                "share_link": link.pk,
                "expires_at": link.expires_at.isoformat() if link.expires_at else None,
            },
        )
    return link, share_url(request, secret)


def revoke_share_link(request: HttpRequest, link: ShareLink) -> bool:
    """Revoke ``link``; False (nothing logged) if it already was."""
    with transaction.atomic():
        changed = link.revoke()
        if changed:
            audit.record(
                request,
                AuditAction.SHARE_LINK_REVOKED,
                workspace=link.assessment.workspace,
                target=link.assessment,
                detail={"share_link": link.pk},
            )
    return changed


def share_url(request: HttpRequest, secret: str) -> str:
    return request.build_absolute_uri(reverse("questionnaire:shared", args=[secret]))
