"""Single sign-on in Chromium, against a real OpenID provider (oidc_provider/server.js)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import Page, expect

from tests.conftest import off_loop
from tests.identity.conftest import PROVIDER_NAME, USERS
from workspaces.access import CURRENT_WORKSPACE_KEY
from workspaces.models import AuditAction, AuditEvent, Membership

pytestmark = pytest.mark.browser


def sign_in_at_provider(page: Page, username: str) -> None:
    """From the app's home page, through the company button, to the provider's login."""
    page.goto("/")
    page.get_by_role("link", name="Sign in", exact=True).click()
    page.get_by_role("button", name=PROVIDER_NAME).click()
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(USERS[username])
    page.get_by_role("button", name="Log in").click()


def session_of(page: Page) -> SessionStore:
    (cookie,) = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    return SessionStore(session_key=cookie["value"])


def test_sso_signs_in_into_mapped_workspace(page: Page, identity_provider) -> None:
    identity_provider()
    sign_in_at_provider(page, "alice")
    expect(page.locator(".account-nav")).to_contain_text("Signed in as alice")
    assert page.url.endswith("/")
    membership = off_loop(
        lambda: Membership.objects.values_list("workspace__slug", "role", "from_groups").get(
            user__username="alice"
        )
    )
    assert membership == ("payments", "editor", True)
    assert off_loop(session_of(page).load)[CURRENT_WORKSPACE_KEY] == "payments"


def test_sso_sign_in_audited(page: Page, identity_provider) -> None:
    identity_provider()
    sign_in_at_provider(page, "bob")
    expect(page.locator(".account-nav")).to_contain_text("Signed in as bob")
    events = off_loop(
        lambda: list(AuditEvent.objects.order_by("id").values_list("action", "actor", "detail"))
    )
    assert [(action, actor) for action, actor, _ in events] == [
        (AuditAction.SIGN_IN, "bob"),
        (AuditAction.MEMBER_ADDED, "identity provider"),
    ]
    assert events[1][2]["role"] == "reviewer"


def test_sso_sign_out(page: Page, identity_provider) -> None:
    identity_provider()
    sign_in_at_provider(page, "alice")
    page.get_by_role("button", name="Sign out").click()
    # Anonymous mode is off: the home page asks to sign in again.
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    assert off_loop(AuditEvent.objects.filter(action=AuditAction.SIGN_OUT, actor="alice").exists)


@pytest.mark.parametrize(
    "mode", ["bad-signature", "wrong-audience", "expired", "alg-none", "hs256"]
)
def test_sso_refuses_forged_id_token(page: Page, identity_provider, mode: str) -> None:
    identity_provider(id_token_mode=mode)
    sign_in_at_provider(page, "alice")
    expect(page.get_by_role("heading", name="Single sign-on failed")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    assert not off_loop(get_user_model().objects.filter(username="alice").exists)
    assert not off_loop(Membership.objects.exists)
    assert "_auth_user_id" not in off_loop(session_of(page).load)
