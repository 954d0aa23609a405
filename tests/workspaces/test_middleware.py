"""API tokens, and sign-in for everything while anonymous mode is off (the middleware)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from workspaces.models import ApiToken, Membership, Role, Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    user = get_user_model().objects.create_user("alice", password="x-Long-enough-1")
    workspace = Workspace.objects.create(slug="team", name="Team")
    Membership.objects.create(workspace=workspace, user=user, role=Role.EDITOR)
    return user, workspace


@pytest.fixture
def token(member) -> tuple[ApiToken, str]:
    return ApiToken.issue(*member)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def assert_401(response) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "auth" in response.json()["errors"]


def test_token_authenticates_api_read(client, token):
    response = client.get("/api/questions/", headers=bearer(token[1]))
    assert response.status_code == 200


def test_token_use_recorded(client, token):
    client.get("/api/questions/", headers=bearer(token[1]))
    token[0].refresh_from_db()
    assert token[0].last_used_at is not None


@pytest.mark.parametrize(
    "header",
    [
        "Bearer adv_unknown",
        "Bearer ",
        "Bearer",
        "Basic YWxpY2U6eA==",
        "Token abc",
        "Bearer x" * 50,
    ],
)
def test_bad_authorization_header_401(client, member, header):
    assert_401(client.get("/api/questions/", headers={"Authorization": header}))


def test_revoked_token_401(client, token):
    ApiToken.objects.filter(pk=token[0].pk).update(revoked_at=timezone.now())
    assert_401(client.get("/api/questions/", headers=bearer(token[1])))


def test_expired_token_401(client, token):
    ApiToken.objects.filter(pk=token[0].pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert_401(client.get("/api/questions/", headers=bearer(token[1])))


def test_token_of_user_who_left_workspace_401(client, token):
    Membership.objects.filter(user=token[0].user).delete()
    assert_401(client.get("/api/questions/", headers=bearer(token[1])))


def test_token_of_deactivated_user_401(client, token):
    get_user_model().objects.filter(pk=token[0].user_id).update(is_active=False)
    assert_401(client.get("/api/questions/", headers=bearer(token[1])))


def test_bad_token_on_a_page_also_401(client, member):
    assert_401(client.get("/", headers=bearer("adv_nope")))


def test_token_stored_only_as_hash(token):
    row, secret = token
    stored = ApiToken.objects.filter(pk=row.pk).values().get()
    assert all(secret not in str(value) for value in stored.values())
    assert secret.startswith(row.prefix)


def test_anonymous_mode_on_pages_open(client, settings):
    settings.ADVISOR_ANONYMOUS = True
    assert client.get("/").status_code == 200


def test_anonymous_mode_off_page_redirects_to_sign_in(client, settings):
    settings.ADVISOR_ANONYMOUS = False
    response = client.get("/assessments/new/?preset=chat")
    assert response.status_code == 302
    assert response["Location"].startswith(
        settings.LOGIN_URL.rstrip("/") if "/" in settings.LOGIN_URL else "/"
    )
    assert "next=/assessments/new/%3Fpreset%3Dchat" in response["Location"]


def test_anonymous_mode_off_api_401(client, settings):
    settings.ADVISOR_ANONYMOUS = False
    assert_401(client.get("/api/questions/"))


def test_anonymous_mode_off_signed_in_page_open(client, settings, member):
    settings.ADVISOR_ANONYMOUS = False
    client.force_login(member[0])
    assert client.get("/").status_code == 200


def test_anonymous_mode_off_token_api_open(client, settings, token):
    settings.ADVISOR_ANONYMOUS = False
    assert client.get("/api/questions/", headers=bearer(token[1])).status_code == 200


def test_anonymous_mode_off_public_demo_open(client, settings):
    settings.ADVISOR_ANONYMOUS = False
    settings.ADVISOR_PUBLIC_DEMO = True
    assert client.get("/demo/").status_code == 200


def test_private_demo_asks_for_sign_in_even_in_anonymous_mode(client, settings):
    settings.ADVISOR_ANONYMOUS = True
    settings.ADVISOR_PUBLIC_DEMO = False
    assert client.get("/demo/").status_code == 302
    assert client.get("/demo/stats/").status_code == 401


def test_anonymous_mode_off_admin_keeps_its_own_sign_in(client, settings):
    settings.ADVISOR_ANONYMOUS = False
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_token_use_written_once_a_minute(client, token):
    client.get("/api/questions/", headers=bearer(token[1]))
    token[0].refresh_from_db()
    first = token[0].last_used_at
    client.get("/api/questions/", headers=bearer(token[1]))
    token[0].refresh_from_db()
    assert token[0].last_used_at == first


def test_token_request_reads_the_role_once(client, token, django_assert_num_queries):
    # After the first call, two reads: the token (with its user and its
    # workspace) and the user's role there; its use is not written again
    # within the minute.
    client.get("/api/questions/", headers=bearer(token[1]))
    with django_assert_num_queries(2):
        client.get("/api/questions/", headers=bearer(token[1]))
