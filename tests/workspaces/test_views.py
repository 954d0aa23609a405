from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from questionnaire.models import Assessment
from workspaces import bearer, services
from workspaces.access import CURRENT_WORKSPACE_KEY
from workspaces.models import ApiToken, AuditAction, AuditEvent, Membership, Role, Workspace

from .conftest import ROLES, signed_in

pytestmark = pytest.mark.django_db

DETAIL = "/workspaces/team/"
MEMBERS = "/workspaces/team/members/"
TOKENS = "/workspaces/team/tokens/"
AUDIT = "/workspaces/team/audit/"
SWITCH = "/workspaces/switch/"
WHO = [*ROLES, "outsider"]


def status_for(client, people, who, url, method="get", data=None):
    if who != "anonymous":
        signed_in(client, people[who])
    return getattr(client, method)(url, data or {}).status_code


# --- Who may open which page ---------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [("owner", 200), ("editor", 200), ("reviewer", 200), ("viewer", 200), ("outsider", 404)],
)
@pytest.mark.parametrize("url", [DETAIL, MEMBERS, TOKENS])
def test_member_pages_status(client, people, who, expected, url):
    assert status_for(client, people, who, url) == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [("owner", 200), ("editor", 403), ("reviewer", 403), ("viewer", 403), ("outsider", 404)],
)
def test_audit_page_status(client, people, who, expected):
    assert status_for(client, people, who, AUDIT) == expected


@pytest.mark.parametrize("url", [DETAIL, MEMBERS, TOKENS, AUDIT])
def test_workspace_pages_ask_anonymous_to_sign_in(client, people, url):
    response = client.get(url)

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@override_settings(ADVISOR_ANONYMOUS=False)
@pytest.mark.parametrize("url", [DETAIL, MEMBERS, TOKENS, AUDIT])
def test_workspace_pages_ask_to_sign_in_without_anonymous_mode(client, people, url):
    response = client.get(url)

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_unknown_workspace_404(client, people):
    signed_in(client, people["owner"])

    assert client.get("/workspaces/nope/").status_code == 404


# --- Assessments list ----------------------------------------------------------


def test_detail_lists_workspace_assessments_escaped(client, people, team_assessment):
    page = signed_in(client, people["viewer"]).get(DETAIL).text

    assert "Team &lt;i&gt;chat&lt;/i&gt;" in page
    assert "Team <i>chat</i>" not in page
    assert "Team &lt;b&gt;One&lt;/b&gt;" in page
    assert "<b>One</b>" not in page


def test_detail_leaves_out_other_workspaces_assessments(client, people, chat_answers):
    elsewhere = Workspace.objects.get(slug="elsewhere")
    Assessment.create_scored("Secret plan", chat_answers, workspace=elsewhere)

    assert "Secret plan" not in signed_in(client, people["owner"]).get(DETAIL).text


def test_detail_search_by_title(client, people, workspace, chat_answers):
    Assessment.create_scored("Order tracking", chat_answers, workspace=workspace)
    Assessment.create_scored("Team chat", chat_answers, workspace=workspace)

    page = signed_in(client, people["viewer"]).get(DETAIL, {"q": "order"}).text

    assert "Order tracking" in page
    assert "Team chat" not in page


def test_detail_paginates(client, people, workspace, chat_answers):
    # Rows without revisions: the list reads only the assessments' own columns.
    Assessment.objects.bulk_create(
        Assessment(
            title=f"Assessment {number:02}",
            recommendation="sse",
            confidence="strong",
            workspace=workspace,
        )
        for number in range(27)
    )
    for number, assessment in enumerate(Assessment.objects.order_by("title")):
        Assessment.objects.filter(pk=assessment.pk).update(
            # A fixed day: on 29 February, 2001 has no such day.
            updated_at=assessment.updated_at.replace(year=2000 + number, month=1, day=1)
        )
    signed_in(client, people["viewer"])

    first, second = client.get(DETAIL).text, client.get(DETAIL, {"page": 2}).text

    assert "Page 1 of 2" in first
    assert "Assessment 26" in first and "Assessment 00" not in first
    assert "Assessment 00" in second


def test_header_my_assessments_points_at_current_workspace(client, people):
    page = signed_in(client, people["viewer"]).get("/").text

    assert f'<a href="{DETAIL}">My assessments</a>' in page


def test_header_my_assessments_for_anonymous_is_recent_list(client):
    assert 'href="/#recent">My assessments</a>' in client.get("/").text


# --- Switcher ------------------------------------------------------------------


def test_switcher_shown_to_members_only(client, people):
    assert 'id="workspace-switcher"' not in client.get("/").text
    assert 'id="workspace-switcher"' in signed_in(client, people["viewer"]).get("/").text


def test_switcher_sets_current_workspace(client, people, workspace):
    user = people["outsider"]
    Membership.objects.create(workspace=workspace, user=user, role=Role.VIEWER)
    signed_in(client, user)

    response = client.post(SWITCH, {"workspace": "team", "next": "/network-check/"})

    assert response.status_code == 302
    assert response["Location"] == "/network-check/"
    assert client.session[CURRENT_WORKSPACE_KEY] == "team"


def test_switcher_refuses_non_member_slug(client, people):
    signed_in(client, people["viewer"])

    assert client.post(SWITCH, {"workspace": "elsewhere"}).status_code == 404
    assert CURRENT_WORKSPACE_KEY not in client.session


def test_switcher_ignores_unsafe_next(client, people):
    signed_in(client, people["viewer"])

    response = client.post(SWITCH, {"workspace": "team", "next": "https://evil.example/"})

    assert response["Location"] == DETAIL


def test_switcher_asks_anonymous_to_sign_in(client, people):
    assert client.post(SWITCH, {"workspace": "team"}).status_code == 302


# --- Members -------------------------------------------------------------------


def test_members_lists_roles(client, people):
    page = signed_in(client, people["viewer"]).get(MEMBERS).text

    assert all(role in page for role in ["owner", "editor", "reviewer", "viewer"])
    assert "Add a member" not in page


def test_members_without_an_email_address_are_pointed_out_to_owners(client, people):
    people["editor"].email = "editor@example.com"
    people["editor"].save()
    note = "no email address: gets no emails"

    page = signed_in(client, people["owner"]).get(MEMBERS).text
    rows = {
        name: next(line for line in page.splitlines() if f'<th scope="row">{name}' in line)
        for name in ("editor", "reviewer")
    }

    assert note not in rows["editor"]
    assert note in rows["reviewer"]
    assert note not in signed_in(client, people["viewer"]).get(MEMBERS).text


def test_owner_adds_member(client, people, workspace):
    newcomer = get_user_model().objects.create_user("newcomer")
    signed_in(client, people["owner"])

    response = client.post(f"{MEMBERS}add/", {"username": "newcomer", "role": "editor"})

    assert response.status_code == 302
    assert Membership.objects.get(workspace=workspace, user=newcomer).role == Role.EDITOR
    assert AuditEvent.objects.filter(action=AuditAction.MEMBER_ADDED).exists()


def test_add_unknown_user_inline_error(client, people, workspace):
    signed_in(client, people["owner"])

    response = client.post(f"{MEMBERS}add/", {"username": "nobody", "role": "editor"})

    assert response.status_code == 400
    assert "No user has that username" in response.text
    assert workspace.memberships.count() == 4


def test_add_bad_role_inline_error(client, people, workspace):
    get_user_model().objects.create_user("newcomer")
    signed_in(client, people["owner"])

    response = client.post(f"{MEMBERS}add/", {"username": "newcomer", "role": "admin"})

    assert response.status_code == 400
    assert "Choose a role" in response.text
    assert workspace.memberships.count() == 4


@pytest.mark.parametrize(("who", "expected"), [("editor", 403), ("outsider", 404)])
def test_add_member_refused(client, people, workspace, who, expected):
    get_user_model().objects.create_user("newcomer")

    status = status_for(
        client, people, who, f"{MEMBERS}add/", "post", {"username": "newcomer", "role": "owner"}
    )

    assert status == expected
    assert workspace.memberships.count() == 4


def test_owner_changes_role(client, people, workspace):
    membership = Membership.objects.get(workspace=workspace, user=people["viewer"])
    signed_in(client, people["owner"])

    client.post(f"{MEMBERS}{membership.pk}/role/", {"role": "editor"})

    membership.refresh_from_db()
    assert membership.role == Role.EDITOR


def test_owner_removes_member(client, people, workspace):
    membership = Membership.objects.get(workspace=workspace, user=people["viewer"])
    signed_in(client, people["owner"])

    client.post(f"{MEMBERS}{membership.pk}/remove/")

    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_last_owner_cannot_be_demoted(client, people, workspace):
    owner = Membership.objects.get(workspace=workspace, user=people["owner"])
    signed_in(client, people["owner"])

    response = client.post(f"{MEMBERS}{owner.pk}/role/", {"role": "viewer"})

    owner.refresh_from_db()
    assert response.status_code == 400
    assert "last owner cannot be demoted" in response.text
    assert owner.role == Role.OWNER


def test_last_owner_cannot_be_removed(client, people, workspace):
    owner = Membership.objects.get(workspace=workspace, user=people["owner"])
    signed_in(client, people["owner"])

    response = client.post(f"{MEMBERS}{owner.pk}/remove/")

    assert response.status_code == 400
    assert "last owner cannot be removed" in response.text
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_member_of_other_workspace_is_404(client, people):
    elsewhere = Membership.objects.get(user=people["outsider"])
    signed_in(client, people["owner"])

    assert client.post(f"{MEMBERS}{elsewhere.pk}/remove/").status_code == 404
    assert Membership.objects.filter(pk=elsewhere.pk).exists()


# --- Tokens --------------------------------------------------------------------


def test_token_shown_once(client, people, workspace):
    signed_in(client, people["viewer"])

    created = client.post(f"{TOKENS}new/", {"name": "CI <script>", "expires": "30"})

    token = ApiToken.objects.get(workspace=workspace)
    secret = created.context["secret"]
    assert created.status_code == 200
    assert secret in created.text
    assert "shown only this once" in created.text
    assert token.token_hash == bearer.digest(secret)
    assert secret not in client.get(TOKENS).text
    assert "CI &lt;script&gt;" in client.get(TOKENS).text
    assert token.expires_at is not None


def test_token_never_expiring(client, people, workspace):
    signed_in(client, people["viewer"]).post(f"{TOKENS}new/", {"name": "", "expires": "never"})

    assert ApiToken.objects.get(workspace=workspace).expires_at is None


def test_token_bad_expiry_inline_error(client, people):
    response = signed_in(client, people["viewer"]).post(
        f"{TOKENS}new/", {"name": "x", "expires": "7"}
    )

    assert response.status_code == 400
    assert "Choose when the token expires" in response.text
    assert not ApiToken.objects.exists()


def test_token_create_outsider_404(client, people):
    status = status_for(client, people, "outsider", f"{TOKENS}new/", "post", {"expires": "30"})

    assert status == 404
    assert not ApiToken.objects.exists()


def test_member_revokes_own_token(client, people, workspace):
    token, _ = services.issue_token(people["viewer"], workspace)
    signed_in(client, people["viewer"])

    client.post(f"{TOKENS}{token.pk}/revoke/")

    token.refresh_from_db()
    assert token.status == "revoked"


def test_member_cannot_see_or_revoke_others_token(client, people, workspace):
    token, _ = services.issue_token(people["editor"], workspace, name="editor's")
    signed_in(client, people["viewer"])

    assert "editor&#x27;s" not in client.get(TOKENS).text
    assert client.post(f"{TOKENS}{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.status == "active"


def test_owner_sees_and_revokes_others_token(client, people, workspace):
    token, _ = services.issue_token(people["editor"], workspace, name="editor's")
    signed_in(client, people["owner"])

    assert "editor&#x27;s" in client.get(TOKENS).text
    client.post(f"{TOKENS}{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.status == "revoked"


# --- Audit ---------------------------------------------------------------------


def test_audit_page_lists_rows_newest_first(client, people, workspace):
    services.set_member(workspace, people["outsider"], Role.VIEWER)
    services.issue_token(people["owner"], workspace, name="<b>bot</b>")

    page = signed_in(client, people["owner"]).get(AUDIT).text

    assert page.index("API token created") < page.index("Member added")
    assert "&lt;b&gt;bot&lt;/b&gt;" in page
    assert "<b>bot</b>" not in page


def test_audit_page_filters_by_action(client, people, workspace):
    services.set_member(workspace, people["outsider"], Role.VIEWER)
    services.issue_token(people["owner"], workspace)

    page = signed_in(client, people["owner"]).get(AUDIT, {"action": "token_created"}).text

    assert "<td>API token created</td>" in page
    assert "<td>Member added</td>" not in page


def test_audit_page_offers_only_actions_a_workspace_log_holds(client, people):
    # Sign-ins belong to no workspace and nothing deletes an assessment: a
    # filter on them could only ever show an empty log.
    page = signed_in(client, people["owner"]).get(AUDIT).text

    assert '<option value="share_link_created">' in page
    for action in ("sign_in", "sign_in_failed", "sign_out", "assessment_deleted"):
        assert f'<option value="{action}">' not in page


def test_audit_page_leaves_out_other_workspaces(client, people):
    elsewhere = Workspace.objects.get(slug="elsewhere")
    services.issue_token(people["outsider"], elsewhere, name="elsewhere-token")

    assert "elsewhere-token" not in signed_in(client, people["owner"]).get(AUDIT).text


# --- CSRF ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "data"),
    [
        (SWITCH, {"workspace": "team"}),
        (f"{MEMBERS}add/", {"username": "viewer", "role": "editor"}),
        (f"{TOKENS}new/", {"name": "x", "expires": "30"}),
    ],
)
def test_forms_need_csrf(people, url, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["owner"])

    assert client.post(url, data).status_code == 403
    assert not ApiToken.objects.exists()


def test_member_role_form_needs_csrf(people, workspace):
    membership = Membership.objects.get(workspace=workspace, user=people["viewer"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["owner"])

    assert client.post(f"{MEMBERS}{membership.pk}/role/", {"role": "owner"}).status_code == 403
    assert client.post(f"{MEMBERS}{membership.pk}/remove/").status_code == 403
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER
