"""Changes to workspaces, members and tokens, each in the audit log (workspaces/services.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from network_check.models import NetworkCheck
from questionnaire.models import Assessment
from tests.network_check.measurements import measurement
from workspaces import services
from workspaces.models import AuditAction, AuditEvent, Membership, Role, Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def team() -> Workspace:
    return services.create_workspace("team", "Team", actor="operator")


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice")


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_create_workspace_logged(team):
    assert actions() == [AuditAction.WORKSPACE_CREATED]
    assert AuditEvent.objects.get().actor == "operator"


@pytest.mark.parametrize("slug", ["", "Team", "-team", "team-", "a b", "é", "x" * 51])
def test_create_workspace_bad_slug_refused(slug):
    with pytest.raises(ValidationError):
        services.create_workspace(slug, "Name")
    assert not Workspace.objects.exists()
    assert not AuditEvent.objects.exists()


def test_set_member_adds_then_changes_role_then_does_nothing(team, alice):
    services.set_member(team, alice, Role.VIEWER, actor="operator")
    services.set_member(team, alice, Role.EDITOR, actor="operator")
    services.set_member(team, alice, Role.EDITOR, actor="operator")
    assert Membership.objects.get(user=alice).role == Role.EDITOR
    assert actions()[1:] == [AuditAction.MEMBER_ADDED, AuditAction.MEMBER_ROLE_CHANGED]
    assert AuditEvent.objects.order_by("id").last().detail == {
        "username": "alice",
        "from": Role.VIEWER,
        "role": Role.EDITOR,
    }


def test_set_member_bad_role_refused(team, alice):
    with pytest.raises(ValueError):
        services.set_member(team, alice, "admin")
    assert not Membership.objects.exists()


def test_remove_member_logged(team, alice):
    membership = services.set_member(team, alice, Role.VIEWER)
    services.remove_member(membership, actor="operator")
    assert not Membership.objects.exists()
    assert actions()[-1] == AuditAction.MEMBER_REMOVED


def test_last_owner(team, alice):
    owner = services.set_member(team, alice, Role.OWNER)
    assert services.last_owner(owner)
    bob = get_user_model().objects.create_user("bob")
    services.set_member(team, bob, Role.OWNER)
    assert not services.last_owner(owner)


def test_issue_and_revoke_token_logged_once(team, alice):
    services.set_member(team, alice, Role.EDITOR)
    token, secret = services.issue_token(alice, team, name="ci", expires_days=30)
    assert services.revoke_token(token, actor="operator")
    assert not services.revoke_token(token, actor="operator")
    assert token.status == "revoked"
    assert actions()[-2:] == [AuditAction.TOKEN_CREATED, AuditAction.TOKEN_REVOKED]
    assert secret not in str(list(AuditEvent.objects.values()))


def test_move_into_takes_linked_checks_along(team, chat_answers):
    check = NetworkCheck.objects.create(measurement=measurement(), anonymous_owner="k" * 64)
    assessment, _ = Assessment.create_scored(
        "Mine", chat_answers, network_check=check, anonymous_owner="k" * 64
    )
    services.move_into(
        assessment,
        team,
        AuditAction.ASSESSMENT_MOVED,
        along=NetworkCheck.objects.filter(revisions__assessment=assessment),
    )
    check.refresh_from_db()
    assert (assessment.workspace, assessment.anonymous_owner) == (team, "")
    assert (check.workspace, check.anonymous_owner) == (team, "")
    assert actions()[-1] == AuditAction.ASSESSMENT_MOVED


def test_last_owner_cannot_be_demoted(team, alice):
    services.set_member(team, alice, Role.OWNER)
    logged = AuditEvent.objects.count()
    with pytest.raises(services.LastOwner):
        services.set_member(team, alice, Role.EDITOR)
    assert Membership.objects.get(user=alice).role == Role.OWNER
    assert AuditEvent.objects.count() == logged


def test_last_owner_cannot_be_removed(team, alice):
    membership = services.set_member(team, alice, Role.OWNER)
    with pytest.raises(services.LastOwner):
        services.remove_member(membership)
    assert Membership.objects.filter(user=alice).exists()


def test_one_of_two_owners_can_step_down(team, alice):
    services.set_member(team, alice, Role.OWNER)
    services.set_member(team, get_user_model().objects.create_user("bob"), Role.OWNER)
    services.set_member(team, alice, Role.VIEWER)
    assert Membership.objects.get(user=alice).role == Role.VIEWER
