"""The sign-off rules page: owners set how many approvals accept a decision, and self-approval."""

from __future__ import annotations

import pytest
from django.test import Client

from questionnaire.models import Assessment, DecisionStatus, Reviewer
from workspaces.models import AuditAction, AuditEvent, Workspace

from .conftest import signed_in

pytestmark = pytest.mark.django_db

SETTINGS = "/workspaces/team/settings/"


def rules(workspace: Workspace) -> tuple:
    workspace.refresh_from_db()
    return workspace.required_approvals, workspace.allow_self_approval


def changes() -> int:
    return AuditEvent.objects.filter(action=AuditAction.WORKSPACE_SETTINGS_CHANGED).count()


@pytest.mark.parametrize(
    ("who", "expected"),
    [("owner", 200), ("editor", 403), ("reviewer", 403), ("viewer", 403), ("outsider", 404)],
)
def test_rules_page_is_for_owners(people, who, expected):
    assert signed_in(Client(), people[who]).get(SETTINGS).status_code == expected


def test_nav_links_the_rules_for_owners_only(people):
    owner = signed_in(Client(), people["owner"]).get("/workspaces/team/").text
    editor = signed_in(Client(), people["editor"]).get("/workspaces/team/").text

    assert f'href="{SETTINGS}"' in owner
    assert f'href="{SETTINGS}"' not in editor


def test_rules_page_shows_the_current_rules_and_says_they_are_not_retroactive(people, workspace):
    workspace.required_approvals = 3
    workspace.save()

    page = signed_in(Client(), people["owner"]).get(SETTINGS).text

    assert 'name="required_approvals" min="1" max="10" value="3"' in page
    assert '<input type="checkbox" name="allow_self_approval"> Allow' in page
    assert "decisions already accepted or rejected stay as they are" in page


def test_owner_changes_the_rules(people, workspace):
    client = signed_in(Client(), people["owner"])

    response = client.post(SETTINGS, {"required_approvals": "2", "allow_self_approval": "on"})

    assert response.status_code == 302
    assert response["Location"] == SETTINGS
    assert rules(workspace) == (2, True)
    event = AuditEvent.objects.get(action=AuditAction.WORKSPACE_SETTINGS_CHANGED)
    assert event.actor == "owner"
    assert event.detail["after"] == {"required_approvals": 2, "allow_self_approval": True}
    page = client.get(SETTINGS).text
    assert "Sign-off rules saved." in page
    assert '<input type="checkbox" name="allow_self_approval" checked>' in page


def test_unchecking_self_approval_turns_it_off(people, workspace):
    workspace.allow_self_approval = True
    workspace.save()

    signed_in(Client(), people["owner"]).post(SETTINGS, {"required_approvals": "1"})

    assert rules(workspace) == (1, False)


def test_saving_the_same_rules_logs_nothing(people, workspace):
    signed_in(Client(), people["owner"]).post(SETTINGS, {"required_approvals": "1"})

    assert changes() == 0


@pytest.mark.parametrize("typed", ["0", "11", "-1", "2.5", "two", "", "١", "9" * 30])
def test_bad_numbers_are_refused_inline(people, workspace, typed):
    response = signed_in(Client(), people["owner"]).post(
        SETTINGS, {"required_approvals": typed, "allow_self_approval": "on"}
    )

    assert response.status_code == 400
    assert "Enter a whole number of approvals from 1 to 10." in response.text
    assert 'aria-invalid="true"' in response.text
    # What was typed stays, as does the box that was ticked.
    assert f'value="{typed}"' in response.text
    assert '<input type="checkbox" name="allow_self_approval" checked>' in response.text
    assert rules(workspace) == (1, False)
    assert changes() == 0


@pytest.mark.parametrize("who", ["editor", "reviewer", "viewer"])
def test_other_roles_cannot_change_the_rules(people, workspace, who):
    response = signed_in(Client(), people[who]).post(SETTINGS, {"required_approvals": "5"})

    assert response.status_code == 403
    assert rules(workspace) == (1, False)


def test_outsider_cannot_change_the_rules(people, workspace):
    response = signed_in(Client(), people["outsider"]).post(SETTINGS, {"required_approvals": "5"})

    assert response.status_code == 404
    assert rules(workspace) == (1, False)


def test_rules_form_needs_csrf(people, workspace):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["owner"])

    assert client.post(SETTINGS, {"required_approvals": "5"}).status_code == 403
    assert rules(workspace) == (1, False)


def test_raising_the_count_leaves_an_accepted_decision_accepted(people, workspace, chat_answers):
    assessment, _ = Assessment.create_scored("Chat", chat_answers, workspace=workspace)
    Reviewer.objects.create(assessment=assessment, user=people["reviewer"])
    Assessment.objects.filter(pk=assessment.pk).update(status=DecisionStatus.IN_REVIEW)
    signed_in(Client(), people["reviewer"]).post(
        f"/assessments/{assessment.pk}/reviews/", {"verdict": "approve"}
    )
    assessment.refresh_from_db()
    assert assessment.status == DecisionStatus.ACCEPTED

    signed_in(Client(), people["owner"]).post(SETTINGS, {"required_approvals": "3"})

    assessment.refresh_from_db()
    assert assessment.status == DecisionStatus.ACCEPTED
    page = signed_in(Client(), people["viewer"]).get(f"/assessments/{assessment.pk}/").text
    assert 'Decision: <span class="decision-status">Accepted</span>' in page
