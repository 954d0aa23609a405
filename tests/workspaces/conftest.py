from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model

from questionnaire.models import Assessment
from workspaces.models import ApiToken, Membership, Role, Workspace

ROLES = [Role.OWNER, Role.EDITOR, Role.REVIEWER, Role.VIEWER]


@pytest.fixture
def ops(db) -> Workspace:
    return Workspace.objects.create(slug="ops", name="Ops")


@pytest.fixture
def sales(db) -> Workspace:
    return Workspace.objects.create(slug="sales", name="Sales")


@pytest.fixture
def member(ops) -> Callable[..., object]:
    """A new user with ``role`` in ``workspace`` (ops unless told)."""

    numbers = itertools.count(1)

    def make(role: str, workspace: Workspace | None = None, username: str = ""):
        workspace = workspace or ops
        username = username or f"{role}-{workspace.slug}-{next(numbers)}"
        user = get_user_model().objects.create_user(username)
        Membership.objects.create(workspace=workspace, user=user, role=role)
        return user

    return make


@pytest.fixture
def token_of() -> Callable[..., dict]:
    """The headers of a new token of ``user`` in ``workspace`` (their first one unless told)."""

    def make(user, workspace: Workspace | None = None, **options) -> dict[str, str]:
        workspace = workspace or user.memberships.first().workspace
        _, secret = ApiToken.issue(user, workspace, **options)
        return {"Authorization": f"Bearer {secret}"}

    return make


@pytest.fixture
def bearer(member, token_of) -> Callable[..., dict]:
    """The headers of a token of a new member with ``role`` in ``workspace`` (ops)."""

    def make(role: str = "editor", workspace: Workspace | None = None) -> dict[str, str]:
        return token_of(member(role, workspace), workspace)

    return make


@pytest.fixture
def make_assessment(chat_answers) -> Callable[..., Assessment]:
    def make(workspace: Workspace | None, title: str = "Team chat", **placement) -> Assessment:
        assessment, _ = Assessment.create_scored(
            title, chat_answers, workspace=workspace, **placement
        )
        return assessment

    return make


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
