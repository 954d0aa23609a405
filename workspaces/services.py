"""The changes to workspaces, members and tokens, each written to the audit log.

Pages, the API, the operators' commands and the identity provider's group
mapping all change these through here, so every change is logged the same
way. Who may make a change is the caller's to check (``access``); a
command run by an operator has no request, and is logged as "operator".
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from . import audit
from .models import ApiToken, AuditAction, Membership, Owned, Role, Workspace


def create_workspace(
    slug: str, name: str, *, request: HttpRequest | None = None, actor: str | None = None
) -> Workspace:
    workspace = Workspace(slug=slug, name=name)
    workspace.full_clean()
    with transaction.atomic():
        workspace.save()
        audit.record(
            request,
            AuditAction.WORKSPACE_CREATED,
            workspace=workspace,
            target=workspace,
            detail={"slug": slug, "name": name},
            actor=actor,
        )
    return workspace


class LastOwner(Exception):
    """The change would leave the workspace with no owner to manage it."""


def _keep_an_owner(membership: Membership) -> None:
    """Refuse to demote or remove ``membership`` if it is the workspace's only owner.

    Under a lock on the workspace's row, so that two owners demoting each
    other at the same moment cannot both succeed.
    """
    Workspace.objects.select_for_update().filter(pk=membership.workspace_id).first()
    if last_owner(membership):
        raise LastOwner(
            f"{membership.user.get_username()} is the last owner of "
            f"{membership.workspace.slug}: make someone else owner first"
        )


def set_member(
    workspace: Workspace,
    user,
    role: str,
    *,
    request: HttpRequest | None = None,
    actor: str | None = None,
    from_groups: bool = False,
) -> Membership:
    """Add ``user`` with ``role``, or change their role; logged either way, if anything changed.

    Raises LastOwner rather than demote the workspace's only owner.
    """
    role = Role(role)
    with transaction.atomic():
        membership, added = Membership.objects.select_for_update().get_or_create(
            workspace=workspace, user=user, defaults={"role": role, "from_groups": from_groups}
        )
        if added:
            action, detail = AuditAction.MEMBER_ADDED, {"role": role}
        elif membership.role != role or membership.from_groups != from_groups:
            if role != Role.OWNER:
                _keep_an_owner(membership)
            detail = {"from": membership.role, "role": role}
            membership.role, membership.from_groups = role, from_groups
            membership.save(update_fields=["role", "from_groups"])
            action = AuditAction.MEMBER_ROLE_CHANGED
        else:
            return membership
        audit.record(
            request,
            action,
            workspace=workspace,
            target=membership,
            detail={"username": user.get_username(), **detail},
            actor=actor,
        )
    return membership


def remove_member(
    membership: Membership, *, request: HttpRequest | None = None, actor: str | None = None
) -> None:
    with transaction.atomic():
        _keep_an_owner(membership)
        audit.record(
            request,
            AuditAction.MEMBER_REMOVED,
            workspace=membership.workspace,
            target=membership,
            detail={"username": membership.user.get_username(), "role": membership.role},
            actor=actor,
        )
        membership.delete()


def last_owner(membership: Membership) -> bool:
    """Whether this is the workspace's only owner, who must not be removed or demoted."""
    return (
        membership.role == Role.OWNER
        and not Membership.objects.filter(workspace_id=membership.workspace_id, role=Role.OWNER)
        .exclude(pk=membership.pk)
        .exists()
    )


def issue_token(
    user,
    workspace: Workspace,
    *,
    name: str = "",
    expires_days: int | None = None,
    request: HttpRequest | None = None,
    actor: str | None = None,
) -> tuple[ApiToken, str]:
    """A new personal access token and its secret, shown once and never stored."""
    expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
    with transaction.atomic():
        token, secret = ApiToken.issue(user, workspace, name=name, expires_at=expires_at)
        audit.record(
            request,
            AuditAction.TOKEN_CREATED,
            workspace=workspace,
            target=token,
            detail={
                "prefix": token.prefix,
                "name": name,
                "for": user.get_username(),
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
            actor=actor,
        )
    return token, secret


def revoke_token(
    token: ApiToken, *, request: HttpRequest | None = None, actor: str | None = None
) -> bool:
    """Revoke ``token``; False (and nothing logged) if it already was."""
    with transaction.atomic():
        changed = token.revoke()
        if changed:
            audit.record(
                request,
                AuditAction.TOKEN_REVOKED,
                workspace=token.workspace,
                target=token,
                detail={"prefix": token.prefix, "for": token.user.get_username()},
                actor=actor,
            )
    return changed


def move_into(
    obj: Owned,
    workspace: Workspace,
    action: AuditAction,
    *,
    request: HttpRequest | None = None,
    along: QuerySet | None = None,
) -> None:
    """Put an anonymous or unassigned assessment or network check into ``workspace``.

    ``action`` says which it was (moved by the session that made it, or
    claimed by an owner). ``along`` are objects that go with it where they
    are in no workspace yet (an assessment's network checks).
    """
    with transaction.atomic():
        type(obj).objects.filter(pk=obj.pk).update(
            workspace=workspace, unassigned=False, anonymous_owner=""
        )
        obj.refresh_from_db()
        if along is not None:
            along.filter(workspace=None).update(
                workspace=workspace, unassigned=False, anonymous_owner=""
            )
        audit.record(
            request,
            action,
            workspace=workspace,
            target=obj,
            detail={"title": str(obj)},
        )
