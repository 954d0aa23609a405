"""Workspace memberships that follow the identity provider's groups (OIDC_GROUP_ROLES).

At every SSO sign-in the groups claim is mapped to a role per workspace
(the highest where several groups map to one). Memberships given this
way (``from_groups``) are created, changed and removed to match; one given
by hand is never touched, even where the groups would give another role.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from workspaces.access import CURRENT_WORKSPACE_KEY
from workspaces.audit import record
from workspaces.models import AuditAction, Membership, Workspace

from .config import roles_for

ACTOR = "identity provider"


def groups_claim(extra_data: dict, claim: str | None = None) -> list[str]:
    """The groups named by the (verified) ID token, else by the userinfo; [] for none.

    A claim that is a single string counts as one group; anything else
    that is not a list of strings is ignored.
    """
    claim = claim or settings.OIDC_GROUPS_CLAIM
    for source in ("id_token", "userinfo"):
        value = (extra_data.get(source) or {}).get(claim)
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [group for group in value if isinstance(group, str)]
    return []


def mapped_slugs(roles: dict[str, str]) -> list[str]:
    """The slugs of ``roles`` in the order OIDC_GROUP_ROLES names them."""
    order: list[str] = []
    for targets in settings.OIDC_GROUP_ROLES.values():
        order += [slug for slug in targets if slug in roles and slug not in order]
    return order


@transaction.atomic
def sync_memberships(request: HttpRequest | None, user, groups: list[str]) -> list[str]:
    """Make the user's from-groups memberships match ``groups``; the mapped slugs, in order."""
    roles = roles_for(groups, settings.OIDC_GROUP_ROLES)
    slugs = mapped_slugs(roles)
    detail = {"user": user.get_username(), "groups": sorted(groups)[:50]}
    existing = {
        m.workspace.slug: m
        for m in Membership.objects.select_for_update()
        .filter(user=user)
        .select_related("workspace")
    }
    for slug in slugs:
        role = roles[slug]
        membership = existing.get(slug)
        if membership is None:
            # A mapped workspace that does not exist yet is made, named as its slug.
            workspace, _ = Workspace.objects.get_or_create(slug=slug, defaults={"name": slug})
            membership = Membership.objects.create(
                workspace=workspace, user=user, role=role, from_groups=True
            )
            record(
                request,
                AuditAction.MEMBER_ADDED,
                workspace=workspace,
                target=membership,
                detail={**detail, "role": role},
                actor=ACTOR,
            )
        elif membership.from_groups and membership.role != role:
            before = membership.role
            membership.role = role
            membership.save(update_fields=["role"])
            record(
                request,
                AuditAction.MEMBER_ROLE_CHANGED,
                workspace=membership.workspace,
                target=membership,
                detail={**detail, "role": role, "previous_role": before},
                actor=ACTOR,
            )
    for slug, membership in existing.items():
        if membership.from_groups and slug not in roles:
            record(
                request,
                AuditAction.MEMBER_REMOVED,
                workspace=membership.workspace,
                target=membership,
                detail={**detail, "role": membership.role},
                actor=ACTOR,
            )
            membership.delete()
    return slugs


def on_sso_sign_in(request: HttpRequest, user, extra_data: dict) -> None:
    """Sync the memberships and make the first mapped workspace the current one."""
    slugs = sync_memberships(request, user, groups_claim(extra_data))
    if slugs and getattr(request, "session", None) is not None:
        request.session[CURRENT_WORKSPACE_KEY] = slugs[0]
