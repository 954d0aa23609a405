# The workspace fixtures are imported to be shared, which ruff reads as redefinitions.
# ruff: noqa: F811
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import RequestFactory

from questionnaire import decisions
from questionnaire.models import Assessment
from workspaces import services
from workspaces.models import AuditEvent, Workspace

from .conftest import people, team_assessment, workspace  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(people):
    """The viewer of "team", made staff with view permissions only."""
    user = people["viewer"]
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


@pytest.fixture
def hidden(people, chat_answers) -> Assessment:
    elsewhere = Workspace.objects.get(slug="elsewhere")
    assessment, _ = Assessment.create_scored("Elsewhere plan", chat_answers, workspace=elsewhere)
    return assessment


def test_staff_sees_only_their_workspaces_assessments(client, staff, team_assessment, hidden):
    client.force_login(staff)

    page = client.get("/admin/questionnaire/assessment/").text

    assert "Team &lt;i&gt;chat&lt;/i&gt;" in page
    assert "Elsewhere plan" not in page
    assert client.get(f"/admin/questionnaire/assessment/{hidden.pk}/change/").status_code == 302


def test_superuser_sees_every_assessment(client, team_assessment, hidden):
    client.force_login(get_user_model().objects.create_superuser("root"))

    assert "Elsewhere plan" in client.get("/admin/questionnaire/assessment/").text


def test_nobody_changes_an_assessment(client, team_assessment):
    client.force_login(get_user_model().objects.create_superuser("root"))

    response = client.post(
        f"/admin/questionnaire/assessment/{team_assessment.pk}/change/", {"title": "Changed"}
    )

    team_assessment.refresh_from_db()
    assert response.status_code == 403
    assert team_assessment.title == "Team <i>chat</i>"


def test_audit_admin_read_only(client, workspace, people):
    services.issue_token(people["owner"], workspace)
    event = AuditEvent.objects.get()
    client.force_login(get_user_model().objects.create_superuser("root"))

    assert client.get("/admin/workspaces/auditevent/").status_code == 200
    assert client.get("/admin/workspaces/auditevent/add/").status_code == 403
    assert client.post(f"/admin/workspaces/auditevent/{event.pk}/delete/").status_code == 403


def test_token_admin_shows_no_hash_and_no_add(client, workspace, people):
    token, _ = services.issue_token(people["owner"], workspace)
    client.force_login(get_user_model().objects.create_superuser("root"))

    page = client.get(f"/admin/workspaces/apitoken/{token.pk}/change/").text

    assert token.token_hash not in page
    assert client.get("/admin/workspaces/apitoken/add/").status_code == 403


def test_staff_sees_only_their_workspaces_memberships(client, staff):
    client.force_login(staff)

    page = client.get("/admin/workspaces/membership/").text

    assert "outsider" not in page
    assert "owner" in page


@pytest.mark.parametrize(
    "changelist",
    [
        "questionnaire/assessment",
        "workspaces/membership",
        "workspaces/apitoken",
        "workspaces/auditevent",
    ],
)
def test_staff_workspace_filter_names_only_their_workspaces(
    client, staff, people, team_assessment, hidden, changelist
):
    # Django's related filter would list every workspace in the sidebar.
    services.issue_token(people["outsider"], Workspace.objects.get(slug="elsewhere"))
    client.force_login(staff)

    page = client.get(f"/admin/{changelist}/").text

    assert "Elsewhere" not in page


def test_staff_cannot_revoke_tokens_in_admin(client, staff, people, workspace):
    # Revoking another member's token is an owner's; staff only read here.
    token, _ = services.issue_token(people["owner"], workspace)
    client.force_login(staff)

    page = client.get("/admin/workspaces/apitoken/").text
    response = client.post(
        "/admin/workspaces/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk], "index": "0"},
    )

    token.refresh_from_db()
    assert 'value="revoke"' not in page
    assert response.status_code in {200, 302}
    assert token.status == "active"


def test_superuser_revokes_tokens_in_admin(client, people, workspace):
    token, _ = services.issue_token(people["owner"], workspace)
    client.force_login(get_user_model().objects.create_superuser("root"))

    client.post(
        "/admin/workspaces/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk], "index": "0"},
    )

    token.refresh_from_db()
    assert token.status == "revoked"


def test_admin_deletion_of_an_assessment_is_audited(client, team_assessment):
    client.force_login(get_user_model().objects.create_superuser("root"))

    client.post(f"/admin/questionnaire/assessment/{team_assessment.pk}/delete/", {"post": "yes"})

    assert not Assessment.objects.filter(pk=team_assessment.pk).exists()
    event = AuditEvent.objects.get(action="assessment_deleted")
    assert (event.actor, event.workspace_id) == ("root", team_assessment.workspace_id)
    assert event.object_id == str(team_assessment.pk)


def test_admin_bulk_deletion_of_assessments_is_audited(client, team_assessment, hidden):
    client.force_login(get_user_model().objects.create_superuser("root"))

    client.post(
        "/admin/questionnaire/assessment/",
        {
            "action": "delete_selected",
            "_selected_action": [team_assessment.pk, hidden.pk],
            "post": "yes",
        },
    )

    assert not Assessment.objects.exists()
    assert AuditEvent.objects.filter(action="assessment_deleted").count() == 2


def test_the_admin_shows_a_decisions_record_read_only(client, team_assessment, people):
    request = RequestFactory().post("/")
    request.user, request.session = people["editor"], {}
    decisions.add_comment(request, team_assessment, "<b>Why not SSE?</b>")
    client.force_login(get_user_model().objects.create_superuser("root"))

    page = client.get(f"/admin/questionnaire/assessment/{team_assessment.pk}/change/").text

    assert "&lt;b&gt;Why not SSE?&lt;/b&gt;" in page
    assert "<b>Why not SSE?</b>" not in page
    assert 'name="comments-0-body"' not in page
