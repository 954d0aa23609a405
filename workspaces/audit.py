"""Writing the audit log: every change to who may see what, and every decision made.

``record`` is the one way entries are written; nothing changes or deletes
one (``models.AuditEvent``).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from advisor.clients import client_address

from .models import AuditAction, AuditEvent, Workspace


def record(
    request: HttpRequest | None,
    action: AuditAction,
    *,
    workspace: Workspace | None = None,
    target: models.Model | None = None,
    detail: dict[str, Any] | None = None,
    actor: str | None = None,
    user=None,
) -> AuditEvent:
    """Append one entry; who did it is read off ``request`` unless given.

    ``actor`` names a doer that is not a request's (an operator's command,
    the identity provider); ``user`` the user a request has not signed in
    yet (a sign-in, a failed one names no user).
    """
    from .access import principal_of  # access imports this module

    token = None
    if request is not None:
        principal = principal_of(request)
        token = principal.token
        user = user if user is not None else principal.user
        actor = actor or principal.label
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    if actor is None:
        actor = user.get_username() if user is not None else "operator"
    return AuditEvent.objects.create(
        action=action,
        workspace=workspace,
        actor_user=user,
        actor_token=token,
        actor=actor[:200],
        object_type=target._meta.model_name if target is not None else "",
        object_id=str(target.pk) if target is not None else "",
        detail=detail or {},
        client_address=(client_address(request) or "")[:64] if request is not None else "",
    )
