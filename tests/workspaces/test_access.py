"""The access policy's rules one by one; the permission matrix tests them at each entry point."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from network_check.models import NetworkCheck
from questionnaire.models import Assessment, ShareLink
from tests.network_check.measurements import measurement
from workspaces.access import (
    ALLOWED,
    FORBIDDEN,
    NOT_FOUND,
    UNAUTHENTICATED,
    Action,
    Principal,
    decide,
    decide_workspace,
    placement,
    principal_of,
    share_link_principal,
)
from workspaces.models import ApiToken, Membership, Role, Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return Workspace.objects.create(slug="team", name="Team")


@pytest.fixture
def people(team):
    users = {}
    for role in Role.values:
        users[role] = get_user_model().objects.create_user(role)
        Membership.objects.create(workspace=team, user=users[role], role=role)
    users["outsider"] = get_user_model().objects.create_user("outsider")
    return users


def assessment(chat_answers, **placement_fields) -> Assessment:
    return Assessment.create_scored("A", chat_answers, **placement_fields)[0]


@pytest.mark.parametrize(
    ("role", "action", "status"),
    [
        (Role.OWNER, Action.VIEW, ALLOWED),
        (Role.OWNER, Action.REVISE, ALLOWED),
        (Role.OWNER, Action.SHARE, ALLOWED),
        (Role.OWNER, Action.DELETE, ALLOWED),
        (Role.EDITOR, Action.REVISE, ALLOWED),
        (Role.EDITOR, Action.SHARE, ALLOWED),
        (Role.EDITOR, Action.DELETE, FORBIDDEN),
        (Role.REVIEWER, Action.VIEW, ALLOWED),
        (Role.REVIEWER, Action.REVISE, FORBIDDEN),
        (Role.REVIEWER, Action.SHARE, FORBIDDEN),
        (Role.VIEWER, Action.VIEW, ALLOWED),
        (Role.VIEWER, Action.REVISE, FORBIDDEN),
        ("outsider", Action.VIEW, NOT_FOUND),
        ("outsider", Action.REVISE, NOT_FOUND),
    ],
)
def test_workspace_assessment_by_role(team, people, chat_answers, role, action, status):
    owned = assessment(chat_answers, workspace=team)
    assert decide(Principal(user=people[role]), action, owned) == status


def test_non_member_gets_404_for_a_workspace_network_check(team, people):
    check = NetworkCheck.objects.create(measurement=measurement(), workspace=team)
    assert decide(Principal(user=people["outsider"]), Action.VIEW, check) == NOT_FOUND


def test_token_acts_with_its_users_role(team, people, chat_answers):
    owned = assessment(chat_answers, workspace=team)
    token, _ = ApiToken.issue(people[Role.VIEWER], team)
    principal = Principal(user=people[Role.VIEWER], token=token)
    assert decide(principal, Action.VIEW, owned) == ALLOWED
    assert decide(principal, Action.REVISE, owned) == FORBIDDEN


def test_token_sees_nothing_outside_its_workspace(team, people, chat_answers):
    other = Workspace.objects.create(slug="other", name="Other")
    Membership.objects.create(workspace=other, user=people[Role.OWNER], role=Role.OWNER)
    token, _ = ApiToken.issue(people[Role.OWNER], team)
    principal = Principal(user=people[Role.OWNER], token=token)
    # The user owns "other" too, but this token is for "team" only.
    assert decide(principal, Action.VIEW, assessment(chat_answers, workspace=other)) == NOT_FOUND
    assert decide(principal, Action.VIEW, assessment(chat_answers)) == NOT_FOUND


def test_share_link_views_its_assessment_only(team, chat_answers):
    shared = assessment(chat_answers, workspace=team)
    link, _ = ShareLink.issue(shared)
    principal = share_link_principal(link)
    assert decide(principal, Action.VIEW, shared) == ALLOWED
    assert decide(principal, Action.REVISE, shared) == NOT_FOUND
    assert decide(principal, Action.VIEW, assessment(chat_answers, workspace=team)) == NOT_FOUND
    assert decide_workspace(principal, Action.READ, team) == NOT_FOUND


def test_anonymous_assessment_revised_only_by_its_session(chat_answers, settings):
    settings.ADVISOR_ANONYMOUS = True
    made = assessment(chat_answers, anonymous_owner="a" * 64)
    assert decide(Principal(anonymous_key="a" * 64), Action.REVISE, made) == ALLOWED
    assert decide(Principal(anonymous_key="b" * 64), Action.REVISE, made) == FORBIDDEN
    assert decide(Principal(), Action.VIEW, made) == ALLOWED
    assert decide(Principal(), Action.REVISE, made) == FORBIDDEN


def test_anonymous_assessment_by_a_program_revised_by_nobody(chat_answers, settings):
    settings.ADVISOR_ANONYMOUS = True
    made = assessment(chat_answers, anonymous_owner="")
    assert decide(Principal(), Action.REVISE, made) == FORBIDDEN


def test_anonymous_assessment_moved_only_once_signed_in(people, chat_answers, settings):
    settings.ADVISOR_ANONYMOUS = True
    made = assessment(chat_answers, anonymous_owner="a" * 64)
    assert decide(Principal(anonymous_key="a" * 64), Action.MOVE, made) == FORBIDDEN
    signed_in = Principal(user=people[Role.EDITOR], anonymous_key="a" * 64)
    assert decide(signed_in, Action.MOVE, made) == ALLOWED
    assert decide(Principal(user=people[Role.EDITOR]), Action.MOVE, made) == FORBIDDEN


def test_anonymous_mode_off_nobody_gets_401(chat_answers, settings):
    settings.ADVISOR_ANONYMOUS = False
    made = assessment(chat_answers, anonymous_owner="a" * 64)
    assert decide(Principal(anonymous_key="a" * 64), Action.VIEW, made) == UNAUTHENTICATED


def test_unassigned_read_by_link_claimed_by_an_owner(people, chat_answers, settings):
    settings.ADVISOR_ANONYMOUS = True
    old = assessment(chat_answers, unassigned=True)
    assert decide(Principal(), Action.VIEW, old) == ALLOWED
    assert decide(Principal(), Action.REVISE, old) == FORBIDDEN
    assert decide(Principal(user=people[Role.OWNER]), Action.CLAIM, old) == ALLOWED
    assert decide(Principal(user=people[Role.EDITOR]), Action.CLAIM, old) == FORBIDDEN


@pytest.mark.parametrize(
    ("role", "action", "status"),
    [
        (Role.OWNER, Action.MANAGE_MEMBERS, ALLOWED),
        (Role.OWNER, Action.READ_AUDIT, ALLOWED),
        (Role.EDITOR, Action.CREATE, ALLOWED),
        (Role.EDITOR, Action.READ_AUDIT, FORBIDDEN),
        (Role.REVIEWER, Action.CREATE, FORBIDDEN),
        (Role.VIEWER, Action.READ, ALLOWED),
        (Role.VIEWER, Action.MANAGE_MEMBERS, FORBIDDEN),
        ("outsider", Action.READ, NOT_FOUND),
    ],
)
def test_workspace_actions_by_role(team, people, role, action, status):
    assert decide_workspace(Principal(user=people[role]), action, team) == status


def request_for(user=None, session=None):
    request = RequestFactory().post("/")
    request.user = user or AnonymousUser()
    request.session = session if session is not None else {}
    return request


def test_placement_editor_goes_into_current_workspace(team, people):
    fields, status, _ = placement(request_for(people[Role.EDITOR]))
    assert status == ALLOWED
    assert fields["workspace"] == team


def test_placement_viewer_refused(team, people):
    _, status, message = placement(request_for(people[Role.VIEWER]))
    assert status == FORBIDDEN
    assert "viewer" in message


def test_placement_anonymous_session_owns_what_it_makes(settings):
    settings.ADVISOR_ANONYMOUS = True
    request = request_for()
    fields, status, _ = placement(request)
    assert status == ALLOWED
    assert fields["anonymous_owner"] == principal_of(request).anonymous_key != ""


def test_placement_anonymous_mode_off_nobody_401(settings):
    settings.ADVISOR_ANONYMOUS = False
    assert placement(request_for())[1] == UNAUTHENTICATED


def test_placement_picked_workspace_kept_in_session(team, people):
    other = Workspace.objects.create(slug="other", name="Other")
    Membership.objects.create(workspace=other, user=people[Role.VIEWER], role=Role.EDITOR)
    request = request_for(people[Role.VIEWER], {"workspace": "other"})
    fields, status, _ = placement(request)
    assert (status, fields["workspace"]) == (ALLOWED, other)
