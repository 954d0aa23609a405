"""Local accounts: signing in and out with a password (allauth's pages, identity/)."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import authenticate, get_user_model
from django.test import Client, RequestFactory

from identity.adapters import AccountAdapter
from workspaces.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
LOGOUT = "/accounts/logout/"
PASSWORD = "correct horse battery staple"
THROTTLED = "Too many failed login attempts"


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password=PASSWORD)


def sign_in(client: Client, password: str = PASSWORD, username: str = "alice", **extra):
    return client.post(LOGIN, {"login": username, "password": password}, **extra)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_login_page_shows_password_form(client: Client) -> None:
    page = client.get(LOGIN).content.decode()
    assert 'name="password"' in page
    assert 'name="login"' in page


def test_login_success_signs_in(client: Client, alice) -> None:
    response = sign_in(client)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in(client)


def test_login_success_rotates_session_key(client: Client, alice) -> None:
    session = client.session  # a session before signing in, with its cookie
    session["before"] = True
    session.save()
    before = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    sign_in(client)
    after = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert before != after
    assert client.session["before"] is True


def test_login_success_audited(client: Client, alice) -> None:
    sign_in(client)
    event = AuditEvent.objects.get(action=AuditAction.SIGN_IN)
    assert (event.actor, event.actor_user) == ("alice", alice)
    assert event.client_address == "127.0.0.1"


def test_login_bad_password_shows_inline_error(client: Client, alice) -> None:
    response = sign_in(client, password="wrong")
    assert response.status_code == 200
    assert b'class="error-summary"' in response.content
    assert b"not correct" in response.content
    assert not signed_in(client)


def test_login_bad_password_audited_without_password(client: Client, alice) -> None:
    sign_in(client, password="wrong-secret")
    event = AuditEvent.objects.get(action=AuditAction.SIGN_IN_FAILED)
    assert event.detail == {"username": "alice"}
    assert event.actor_user is None
    assert "wrong-secret" not in str(event.detail) + event.actor


def test_login_throttled_per_account(client: Client, alice) -> None:
    # Each failure from another address: only the account's count can stop it.
    for n in range(5):
        sign_in(client, password="wrong", REMOTE_ADDR=f"10.0.0.{n + 1}")
    response = sign_in(client, REMOTE_ADDR="10.0.1.1")
    assert THROTTLED in response.content.decode()
    assert not signed_in(client)


def test_login_throttled_per_client(client: Client, alice) -> None:
    # Each failure for another username: only the address's count can stop it.
    for n in range(10):
        sign_in(client, password="wrong", username=f"nobody{n}", REMOTE_ADDR="10.0.0.9")
    response = sign_in(client, REMOTE_ADDR="10.0.0.9")
    assert THROTTLED in response.content.decode()
    assert not signed_in(client)


def test_login_throttle_leaves_other_clients(client: Client, alice) -> None:
    for n in range(10):
        sign_in(client, password="wrong", username=f"nobody{n}", REMOTE_ADDR="10.0.0.9")
    sign_in(client, REMOTE_ADDR="10.0.0.10")
    assert signed_in(client)


def test_client_ip_is_projects_client_address(settings) -> None:
    settings.TRUSTED_PROXIES = ["10.9.9.9"]
    request = RequestFactory().post(
        LOGIN, REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7"
    )
    assert AccountAdapter().get_client_ip(request) == "203.0.113.7"


def test_client_ip_ignores_forwarded_header_of_untrusted_peer() -> None:
    request = RequestFactory().post(LOGIN, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert AccountAdapter().get_client_ip(request) == "10.0.0.1"


def test_local_login_off_hides_password_form(client: Client, settings) -> None:
    settings.ADVISOR_LOCAL_LOGIN = False
    assert b'name="password"' not in client.get(LOGIN).content


def test_local_login_off_refuses_password(client: Client, alice, settings) -> None:
    settings.ADVISOR_LOCAL_LOGIN = False
    response = sign_in(client)
    assert response.status_code == 200
    assert b"turned off" in response.content
    assert not signed_in(client)


def test_local_login_off_refuses_password_everywhere(alice, settings) -> None:
    # The admin's sign-in, or anything else calling authenticate().
    settings.ADVISOR_LOCAL_LOGIN = False
    assert authenticate(username="alice", password=PASSWORD) is None


def test_no_sign_up(client: Client) -> None:
    response = client.post(
        "/accounts/signup/", {"username": "mallory", "password1": "x" * 20, "password2": "x" * 20}
    )
    assert b"No sign-up here" in response.content
    assert not get_user_model().objects.filter(username="mallory").exists()


def test_login_form_needs_csrf_token(alice) -> None:
    client = Client(enforce_csrf_checks=True)
    response = sign_in(client)
    assert response.status_code == 403
    assert not signed_in(client)


def test_sign_out_clears_session(client: Client, alice) -> None:
    sign_in(client)
    response = client.post(LOGOUT)
    assert response.status_code == 302
    assert not signed_in(client)


def test_sign_out_audited(client: Client, alice) -> None:
    sign_in(client)
    client.post(LOGOUT)
    event = AuditEvent.objects.get(action=AuditAction.SIGN_OUT)
    assert (event.actor, event.actor_user) == ("alice", alice)


def test_sign_out_needs_post(client: Client, alice) -> None:
    sign_in(client)
    client.get(LOGOUT)
    assert signed_in(client)


def test_header_shows_signed_in_user_and_sign_out(client: Client, alice) -> None:
    sign_in(client)
    page = client.get(LOGIN.replace("login", "logout")).content.decode()
    assert "Signed in as <strong>alice</strong>" in page
    assert f'action="{LOGOUT}"' in page


def test_header_shows_sign_in_link(client: Client) -> None:
    assert f'href="{LOGIN}">Sign in</a>' in client.get(LOGIN).content.decode()


ADMIN_LOGIN = "/admin/login/"


def admin_sign_in(client: Client, password: str = PASSWORD, **extra):
    return client.post(
        ADMIN_LOGIN, {"username": "alice", "password": password, "next": "/admin/"}, **extra
    )


@pytest.fixture
def staff_alice(alice):
    alice.is_staff = True
    alice.save()
    return alice


def test_admin_login_throttled_per_account(client: Client, staff_alice) -> None:
    # The admin's sign-in counts against the same limits as the sign-in page:
    # without them, a staff account's password could be guessed without end.
    for n in range(5):
        admin_sign_in(client, password="wrong", REMOTE_ADDR=f"10.0.0.{n + 1}")
    response = admin_sign_in(client, REMOTE_ADDR="10.0.1.1")
    assert THROTTLED in response.content.decode()
    assert not signed_in(client)


def test_admin_login_throttled_per_client(client: Client, staff_alice) -> None:
    for n in range(10):
        client.post(
            ADMIN_LOGIN,
            {"username": f"nobody{n}", "password": "wrong"},
            REMOTE_ADDR="10.0.0.9",
        )
    response = admin_sign_in(client, REMOTE_ADDR="10.0.0.9")
    assert THROTTLED in response.content.decode()
    assert not signed_in(client)


def test_admin_login_failures_count_on_sign_in_page(client: Client, staff_alice) -> None:
    for n in range(5):
        admin_sign_in(client, password="wrong", REMOTE_ADDR=f"10.0.0.{n + 1}")
    assert THROTTLED in sign_in(client, REMOTE_ADDR="10.0.1.1").content.decode()


def test_admin_login_still_signs_staff_in(client: Client, staff_alice) -> None:
    response = admin_sign_in(client)
    assert response.status_code == 302
    assert signed_in(client)
    event = AuditEvent.objects.get(action=AuditAction.SIGN_IN)
    assert event.actor == "alice"


def test_admin_login_refuses_non_staff(client: Client, alice) -> None:
    response = admin_sign_in(client)
    assert response.status_code == 200
    assert not signed_in(client)


def test_admin_login_failure_audited(client: Client, staff_alice) -> None:
    admin_sign_in(client, password="wrong")
    assert AuditEvent.objects.get(action=AuditAction.SIGN_IN_FAILED).detail == {
        "username": "alice"
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/accounts/password/reset/",
        "/accounts/password/reset/done/",
        "/accounts/password/reset/key/1-abc/",
        "/accounts/password/set/",
        "/accounts/email/",
        "/accounts/confirm-email/abc/",
        "/accounts/3rdparty/",
        "/accounts/social/connections/",
    ],
)
def test_pages_that_would_bypass_single_sign_on_are_404(client, path):
    user = get_user_model().objects.create_user("sso-only")
    user.set_unusable_password()
    user.save()
    client.force_login(user)
    assert client.get(path).status_code == 404
    assert client.post(path, {"email": "a@example.com"}).status_code == 404
