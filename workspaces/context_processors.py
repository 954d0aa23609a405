"""What the header's workspace switcher needs: the person's memberships and current workspace."""

from __future__ import annotations

from django.http import HttpRequest

from . import access


def workspaces(request: HttpRequest) -> dict:
    """One query, for signed-in people only; nothing for anyone else or a token."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or hasattr(request, "session") is False:
        return {}
    principal = access.principal_of(request)
    if principal.token is not None:
        return {}
    mine = access.my_memberships(principal)
    picked = request.session.get(access.CURRENT_WORKSPACE_KEY)
    current = next((m.workspace for m in mine if m.workspace.slug == picked), None)
    if current is None and mine:
        current = mine[0].workspace
    return {"my_memberships": mine, "current_workspace": current}
