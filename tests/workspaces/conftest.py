from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from questionnaire.models import Assessment
from workspaces.models import Membership, Role, Workspace

ROLES = [Role.OWNER, Role.EDITOR, Role.REVIEWER, Role.VIEWER]


@pytest.fixture
def workspace(db) -> Workspace:
    return Workspace.objects.create(slug="team", name="Team <b>One</b>")


@pytest.fixture
def people(workspace) -> dict:
    """A user per role in ``workspace``, and an outsider with a workspace of their own."""
    User = get_user_model()
    found = {}
    for role in ROLES:
        user = User.objects.create_user(role)
        Membership.objects.create(workspace=workspace, user=user, role=role)
        found[role] = user
    outsider = User.objects.create_user("outsider")
    elsewhere = Workspace.objects.create(slug="elsewhere", name="Elsewhere")
    Membership.objects.create(workspace=elsewhere, user=outsider, role=Role.OWNER)
    found["outsider"] = outsider
    return found


def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def team_assessment(workspace, people, chat_answers) -> Assessment:
    assessment, _ = Assessment.create_scored(
        "Team <i>chat</i>", chat_answers, workspace=workspace, created_by=people[Role.EDITOR]
    )
    return assessment
