"""Memberships that follow the identity provider's groups (identity/groups.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from identity.config import parse_group_roles
from identity.groups import groups_claim, on_sso_sign_in, sync_memberships
from workspaces.access import CURRENT_WORKSPACE_KEY
from workspaces.models import AuditAction, AuditEvent, Membership, Workspace

pytestmark = pytest.mark.django_db

ROLES = (
    "payments-team=payments:editor,architects=payments:reviewer,"
    "platform-admins=payments:owner,web-team=web:viewer"
)


@pytest.fixture(autouse=True)
def group_roles(settings) -> None:
    settings.OIDC_GROUP_ROLES = parse_group_roles(ROLES)
    settings.OIDC_GROUPS_CLAIM = "groups"


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice")


def role_of(user, slug: str) -> str | None:
    return (
        Membership.objects.filter(user=user, workspace__slug=slug)
        .values_list("role", flat=True)
        .first()
    )


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_sync_adds_membership_from_groups(alice) -> None:
    sync_memberships(None, alice, ["payments-team"])
    membership = Membership.objects.get(user=alice)
    assert (membership.workspace.slug, membership.role, membership.from_groups) == (
        "payments",
        "editor",
        True,
    )


def test_sync_creates_missing_workspace_named_as_slug(alice) -> None:
    sync_memberships(None, alice, ["web-team"])
    assert Workspace.objects.get(slug="web").name == "web"


def test_sync_audits_added_membership_as_identity_provider(alice) -> None:
    sync_memberships(None, alice, ["payments-team"])
    event = AuditEvent.objects.get(action=AuditAction.MEMBER_ADDED)
    assert event.actor == "identity provider"
    assert event.detail["user"] == "alice"
    assert event.detail["role"] == "editor"
    assert event.workspace.slug == "payments"


def test_sync_takes_highest_role_of_several_groups(alice) -> None:
    sync_memberships(None, alice, ["architects", "platform-admins", "payments-team"])
    assert role_of(alice, "payments") == "owner"


def test_sync_upgrades_role_and_audits_it(alice) -> None:
    sync_memberships(None, alice, ["architects"])
    sync_memberships(None, alice, ["architects", "payments-team"])
    assert role_of(alice, "payments") == "editor"
    event = AuditEvent.objects.get(action=AuditAction.MEMBER_ROLE_CHANGED)
    assert (event.detail["previous_role"], event.detail["role"]) == ("reviewer", "editor")
    assert event.actor == "identity provider"


def test_sync_unchanged_groups_write_nothing(alice) -> None:
    sync_memberships(None, alice, ["payments-team"])
    sync_memberships(None, alice, ["payments-team"])
    assert actions() == [AuditAction.MEMBER_ADDED]


def test_sync_removes_membership_whose_groups_no_longer_map(alice) -> None:
    sync_memberships(None, alice, ["payments-team", "web-team"])
    sync_memberships(None, alice, ["web-team", "unmapped"])
    assert role_of(alice, "payments") is None
    assert role_of(alice, "web") == "viewer"
    event = AuditEvent.objects.get(action=AuditAction.MEMBER_REMOVED)
    assert (event.workspace.slug, event.detail["role"], event.actor) == (
        "payments",
        "editor",
        "identity provider",
    )


def test_sync_leaves_hand_given_membership_alone(alice) -> None:
    payments = Workspace.objects.create(slug="payments", name="Payments")
    Membership.objects.create(workspace=payments, user=alice, role="viewer", from_groups=False)
    sync_memberships(None, alice, ["platform-admins"])
    assert role_of(alice, "payments") == "viewer"
    sync_memberships(None, alice, [])
    assert role_of(alice, "payments") == "viewer"
    assert actions() == []


def test_sync_returns_slugs_in_configured_order(alice) -> None:
    assert sync_memberships(None, alice, ["web-team", "architects"]) == ["payments", "web"]


def test_groups_claim_prefers_id_token() -> None:
    data = {"id_token": {"groups": ["a"]}, "userinfo": {"groups": ["b"]}}
    assert groups_claim(data) == ["a"]


def test_groups_claim_falls_back_to_userinfo() -> None:
    assert groups_claim({"id_token": {}, "userinfo": {"groups": ["b"]}}) == ["b"]


def test_groups_claim_reads_configured_claim(settings) -> None:
    settings.OIDC_GROUPS_CLAIM = "roles"
    assert groups_claim({"id_token": {"roles": "only-one", "groups": ["x"]}}) == ["only-one"]


def test_groups_claim_ignores_non_strings() -> None:
    assert groups_claim({"id_token": {"groups": ["a", 3, None, {"b": 1}]}}) == ["a"]


def test_sso_sign_in_makes_first_mapped_workspace_current(alice) -> None:
    request = RequestFactory().get("/")
    request.session = SessionStore()
    on_sso_sign_in(request, alice, {"id_token": {"groups": ["web-team", "payments-team"]}})
    assert request.session[CURRENT_WORKSPACE_KEY] == "payments"
