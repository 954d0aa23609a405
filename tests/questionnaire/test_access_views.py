"""The result page, edit form, PDF, share links, move and claim, through the access policy."""

# The workspace fixtures are imported to be shared, which ruff reads as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.utils import timezone

from network_check.models import NetworkCheck
from questionnaire.models import Assessment, ShareLink
from tests.network_check.measurements import cleaned
from tests.workspaces.conftest import people, signed_in, team_assessment, workspace  # noqa: F401
from workspaces import bearer
from workspaces.access import ANONYMOUS_KEY
from workspaces.models import AuditAction, AuditEvent, Membership, Role, Workspace

pytestmark = pytest.mark.django_db


def finish(answers, title=""):
    return {**answers, "title": title, "step": "3", "action": "finish"}


def url(assessment, tail=""):
    return f"/assessments/{assessment.pk}/{tail}"


def status_for(client, people, who, path, method="get", data=None):
    if who != "anonymous":
        signed_in(client, people[who])
    return getattr(client, method)(path, data or {}).status_code


ROLE_STATUS = {"owner": 200, "editor": 200, "reviewer": 200, "viewer": 200, "outsider": 404}


@pytest.mark.parametrize(("who", "expected"), ROLE_STATUS.items())
def test_result_page_status(client, people, team_assessment, who, expected):
    assert status_for(client, people, who, url(team_assessment)) == expected


@pytest.mark.parametrize(("who", "expected"), ROLE_STATUS.items())
def test_report_status(client, people, team_assessment, who, expected):
    assert status_for(client, people, who, url(team_assessment, "report.pdf")) == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [("owner", 200), ("editor", 200), ("reviewer", 403), ("viewer", 403), ("outsider", 404)],
)
def test_edit_get_status(client, people, team_assessment, who, expected):
    assert status_for(client, people, who, url(team_assessment, "edit/")) == expected


@pytest.mark.parametrize(("who", "expected"), [("viewer", 403), ("outsider", 404)])
def test_edit_post_refused_saves_nothing(
    client, people, team_assessment, chat_answers, who, expected
):
    status = status_for(
        client, people, who, url(team_assessment, "edit/"), "post", finish(chat_answers, "X")
    )

    assert status == expected
    assert team_assessment.revisions.count() == 1


def test_result_page_anonymous_visitor_404_in_anonymous_mode(client, team_assessment):
    # Nobody signed in is a non-member: the page does not tell that it exists.
    assert client.get(url(team_assessment)).status_code == 404


@override_settings(ADVISOR_ANONYMOUS=False)
def test_result_page_without_anonymous_mode_is_sign_in(client, team_assessment):
    assert "/accounts/login/" in client.get(url(team_assessment))["Location"]


def test_result_page_edit_and_share_for_editor(client, people, team_assessment):
    page = signed_in(client, people["editor"]).get(url(team_assessment)).text

    assert "Edit answers" in page
    assert 'id="share-links"' in page
    assert "Workspace: <strong>Team &lt;b&gt;One&lt;/b&gt;</strong>" in page


def test_result_page_no_edit_or_share_for_viewer(client, people, team_assessment):
    page = signed_in(client, people["viewer"]).get(url(team_assessment)).text

    assert "Edit answers" not in page
    assert 'id="share-links"' not in page


def test_evidence_partial_of_workspace_check(client, people, workspace):
    check = NetworkCheck.objects.create(measurement=cleaned(), workspace=workspace)
    path = f"/network-check/{check.pk}/evidence/"

    assert status_for(Client(), people, "outsider", path) == 404
    assert status_for(Client(), people, "viewer", path) != 404


def test_carried_check_of_other_workspace_is_unknown(client, people, workspace):
    check = NetworkCheck.objects.create(measurement=cleaned(), workspace=workspace)
    signed_in(client, people["outsider"])

    page = client.get("/assessments/new/", {"network_check": str(check.pk)}).text

    assert "was not found" in page
    assert f'name="network_check" value="{check.pk}"' not in page


# --- Creating through the wizard -----------------------------------------------


def test_wizard_creates_in_current_workspace(client, people, workspace, chat_answers):
    signed_in(client, people["editor"]).post("/assessments/new/", finish(chat_answers, "Mine"))

    assessment = Assessment.objects.get(title="Mine")
    assert assessment.workspace == workspace
    assert AuditEvent.objects.filter(action=AuditAction.ASSESSMENT_CREATED).exists()


def test_wizard_refuses_viewer_inline(client, people, chat_answers):
    response = signed_in(client, people["viewer"]).post(
        "/assessments/new/", finish(chat_answers, "Mine")
    )

    assert response.status_code == 403
    assert "cannot be saved" in response.text
    assert not Assessment.objects.exists()


def test_wizard_tells_a_viewer_on_its_first_page_that_nothing_will_be_saved(client, people):
    viewer_page = signed_in(client, people["viewer"]).get("/assessments/new/").text
    editor_page = signed_in(Client(), people["editor"]).get("/assessments/new/").text

    assert 'id="cannot-save"' in viewer_page
    assert "(viewer) cannot create" in viewer_page
    assert 'id="cannot-save"' not in editor_page


def test_wizard_anonymous_is_session_own(client, chat_answers):
    client.post("/assessments/new/", finish(chat_answers, "Anon"))

    assessment = Assessment.objects.get()
    assert assessment.workspace is None
    assert assessment.anonymous_owner == bearer.digest(client.session[ANONYMOUS_KEY])
    assert client.get(url(assessment, "edit/")).status_code == 200
    assert Client().get(url(assessment, "edit/")).status_code == 403


# --- Share links ---------------------------------------------------------------


def create_link(client, assessment, expires="30"):
    response = client.post(url(assessment, "share-links/"), {"expires": expires})
    return response, re.search(
        r'id="new-share-link" type="text" readonly value="([^"]+)"', response.text
    )


def test_share_link_create_shows_url_once(client, people, team_assessment):
    signed_in(client, people["editor"])

    response, found = create_link(client, team_assessment)

    link = ShareLink.objects.get()
    assert response.status_code == 200
    assert found and "/shared/shr_" in found[1]
    assert link.token_hash == bearer.digest(found[1].rsplit("/shared/", 1)[1].strip("/"))
    assert found[1] not in client.get(url(team_assessment)).text


def test_share_link_bad_expiry_inline_error(client, people, team_assessment):
    signed_in(client, people["editor"])

    response, _ = create_link(client, team_assessment, expires="8")

    assert response.status_code == 400
    assert "Choose when the link expires" in response.text
    assert not ShareLink.objects.exists()


@pytest.mark.parametrize(("who", "expected"), [("viewer", 403), ("outsider", 404)])
def test_share_link_create_refused(client, people, team_assessment, who, expected):
    status = status_for(
        client, people, who, url(team_assessment, "share-links/"), "post", {"expires": "7"}
    )

    assert status == expected
    assert not ShareLink.objects.exists()


def test_share_link_not_for_anonymous_assessment(client, chat_answers):
    client.post("/assessments/new/", finish(chat_answers))

    response = client.post(url(Assessment.objects.get(), "share-links/"), {"expires": "7"})

    assert response.status_code == 403
    assert not ShareLink.objects.exists()


def test_shared_page_is_read_only(client, people, team_assessment):
    _, found = create_link(signed_in(client, people["editor"]), team_assessment)
    secret = found[1].rsplit("/shared/", 1)[1].strip("/")

    page = Client().get(f"/shared/{secret}/").text

    assert "Read-only view shared with you" in page
    assert "Edit answers" not in page
    assert 'id="share-links"' not in page
    assert f'href="/shared/{secret}/report.pdf"' in page
    assert f"/assessments/{team_assessment.pk}/report.pdf" not in page
    assert Client().get(f"/shared/{secret}/report.pdf").status_code == 200


def test_shared_page_is_never_cached_and_reports_always_revalidate(
    client, people, team_assessment
):
    # A shared cache keeping a shared page would serve it after the link is
    # revoked. A report may stay in the browser, which must ask (and pass the
    # access check) before every use; no shared proxy may keep it.
    _, found = create_link(signed_in(client, people["editor"]), team_assessment)
    secret = found[1].rsplit("/shared/", 1)[1].strip("/")

    page = Client().get(f"/shared/{secret}/")
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert "private" in page["Cache-Control"]
    for response in [
        Client().get(f"/shared/{secret}/report.pdf"),
        Client().head(f"/shared/{secret}/report.pdf"),
        client.get(url(team_assessment, "report.pdf")),
    ]:
        assert response.status_code == 200
        policy = {part.strip() for part in response["Cache-Control"].split(",")}
        assert policy == {"private", "no-cache"}


def test_revoked_share_link_404(client, people, team_assessment):
    _, found = create_link(signed_in(client, people["editor"]), team_assessment)
    secret = found[1].rsplit("/shared/", 1)[1].strip("/")
    link = ShareLink.objects.get()

    response = client.post(url(team_assessment, f"share-links/{link.pk}/revoke/"))

    assert response.status_code == 302
    assert Client().get(f"/shared/{secret}/").status_code == 404
    assert Client().get(f"/shared/{secret}/report.pdf").status_code == 404


def test_expired_share_link_404(client, people, team_assessment):
    _, found = create_link(signed_in(client, people["editor"]), team_assessment, "7")
    secret = found[1].rsplit("/shared/", 1)[1].strip("/")
    ShareLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert Client().get(f"/shared/{secret}/").status_code == 404
    assert Client().get(f"/shared/{secret}/report.pdf").status_code == 404


def test_share_link_revoke_refused_for_viewer(client, people, team_assessment):
    link, _ = ShareLink.issue(team_assessment)

    status = status_for(
        client, people, "viewer", url(team_assessment, f"share-links/{link.pk}/revoke/"), "post"
    )

    link.refresh_from_db()
    assert status == 403
    assert link.status == "active"


def test_share_forms_need_csrf(people, team_assessment):
    link, _ = ShareLink.issue(team_assessment)
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["editor"])

    assert client.post(url(team_assessment, "share-links/"), {"expires": "7"}).status_code == 403
    assert client.post(url(team_assessment, f"share-links/{link.pk}/revoke/")).status_code == 403
    assert ShareLink.objects.count() == 1
    link.refresh_from_db()
    assert link.status == "active"


# --- Move and claim ------------------------------------------------------------


@pytest.fixture
def anonymous_made(client, chat_answers) -> Assessment:
    client.post("/assessments/new/", finish(chat_answers, "Before sign-in"))
    assessment = Assessment.objects.get(title="Before sign-in")
    owner = assessment.anonymous_owner
    check = NetworkCheck.objects.create(measurement=cleaned(), anonymous_owner=owner)
    assessment.revisions.update(network_check=check)
    return assessment


def test_move_after_sign_in(client, people, workspace, anonymous_made):
    signed_in(client, people["editor"])
    assert "Anonymous" in client.get(url(anonymous_made)).text
    assert "Assessments made before you signed in" in client.get("/").text

    response = client.post(url(anonymous_made, "move/"), {"workspace": "team"})

    anonymous_made.refresh_from_db()
    assert response.status_code == 302
    assert anonymous_made.workspace == workspace
    assert NetworkCheck.objects.get().workspace == workspace
    assert AuditEvent.objects.filter(action=AuditAction.ASSESSMENT_MOVED).exists()


def test_move_leaves_checks_it_does_not_own(client, people, chat_answers, anonymous_made):
    # Linked to a revision by their ids (anyone may read them), another
    # session's anonymous check and an unassigned one stay where they are:
    # moving must not take them from their maker, nor claim without an owner.
    theirs = NetworkCheck.objects.create(measurement=cleaned(), anonymous_owner="f" * 64)
    old = NetworkCheck.objects.create(measurement=cleaned(), unassigned=True)
    anonymous_made.revise("Second", chat_answers, network_check=theirs)
    anonymous_made.revise("Third", chat_answers, network_check=old)
    signed_in(client, people["editor"])

    response = client.post(url(anonymous_made, "move/"), {"workspace": "team"})

    theirs.refresh_from_db()
    old.refresh_from_db()
    assert response.status_code == 302
    assert NetworkCheck.objects.filter(workspace__slug="team").count() == 1
    assert (theirs.workspace, theirs.anonymous_owner) == (None, "f" * 64)
    assert (old.workspace, old.unassigned) == (None, True)


def test_move_refused_for_another_session(people, anonymous_made):
    other = Client()
    other.force_login(people["editor"])

    assert other.post(url(anonymous_made, "move/"), {"workspace": "team"}).status_code == 403
    anonymous_made.refresh_from_db()
    assert anonymous_made.workspace is None


def test_move_refused_into_workspace_without_create(client, people, anonymous_made):
    signed_in(client, people["viewer"])

    assert client.post(url(anonymous_made, "move/"), {"workspace": "team"}).status_code == 403
    anonymous_made.refresh_from_db()
    assert anonymous_made.workspace is None


def test_move_needs_csrf(people, anonymous_made, client):
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies
    strict.force_login(people["editor"])

    assert strict.post(url(anonymous_made, "move/"), {"workspace": "team"}).status_code == 403


@pytest.fixture
def unassigned(chat_answers) -> Assessment:
    assessment, _ = Assessment.create_scored("Old", chat_answers, unassigned=True)
    return assessment


def test_claim_by_owner(client, people, workspace, unassigned):
    signed_in(client, people["owner"])
    page = client.get(url(unassigned)).text
    assert "Unassigned (stored before workspaces)" in page
    assert "Claim into workspace" in page

    client.post(url(unassigned, "move/"), {"workspace": "team"})

    unassigned.refresh_from_db()
    assert unassigned.workspace == workspace
    assert AuditEvent.objects.filter(action=AuditAction.ASSESSMENT_CLAIMED).exists()


@pytest.mark.parametrize("who", ["editor", "viewer"])
def test_claim_refused_for_non_owner(client, people, unassigned, who):
    status = status_for(
        client, people, who, url(unassigned, "move/"), "post", {"workspace": "team"}
    )

    unassigned.refresh_from_db()
    assert status == 403
    assert unassigned.workspace is None


def test_claim_into_workspace_not_owned_is_refused(client, people, unassigned):
    # The outsider owns "elsewhere", not "team".
    status = status_for(
        client, people, "outsider", url(unassigned, "move/"), "post", {"workspace": "team"}
    )

    unassigned.refresh_from_db()
    assert status == 404
    assert unassigned.workspace is None


def test_claimed_assessment_gone_for_outsiders(client, people, unassigned, workspace):
    signed_in(client, people["owner"]).post(url(unassigned, "move/"), {"workspace": "team"})

    assert status_for(Client(), people, "outsider", url(unassigned)) == 404


def test_user_text_escaped_on_result_page(client, people, team_assessment):
    user = get_user_model().objects.create_user("x")
    Membership.objects.create(
        workspace=Workspace.objects.get(slug="team"), user=user, role=Role.OWNER
    )
    page = signed_in(client, user).get(url(team_assessment)).text

    assert "<i>chat</i>" not in page
    assert "<b>One</b>" not in page
