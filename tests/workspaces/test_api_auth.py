"""Who the API takes: tokens (live, revoked, expired, of a member who left), sessions, nobody."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from workspaces import services
from workspaces.models import ApiToken, AuditEvent, Membership

pytestmark = pytest.mark.django_db

LIST = "/api/assessments/"


def refusal(response) -> tuple[int, str | None, set[str]]:
    return (
        response.status_code,
        response.get("WWW-Authenticate"),
        set(response.json()["errors"]),
    )


UNAUTHORIZED = (401, 'Bearer realm="advisor"', {"auth"})


def test_token_lists_its_workspace(client, bearer):
    assert client.get(LIST, headers=bearer("viewer")).status_code == 200


def test_token_unknown_is_401(client, ops):
    response = client.get(LIST, headers={"Authorization": "Bearer adv_" + "x" * 43})

    assert refusal(response) == UNAUTHORIZED


def test_token_revoked_is_401(client, member):
    user = member("editor")
    token, secret = ApiToken.issue(user, user.memberships.get().workspace)
    services.revoke_token(token, actor="operator")

    response = client.get(LIST, headers={"Authorization": f"Bearer {secret}"})

    assert refusal(response) == UNAUTHORIZED


def test_token_expired_is_401(client, member, token_of):
    headers = token_of(member("editor"), expires_at=timezone.now() - timedelta(seconds=1))

    assert refusal(client.get(LIST, headers=headers)) == UNAUTHORIZED


def test_token_not_yet_expired_is_taken(client, member, token_of):
    headers = token_of(member("editor"), expires_at=timezone.now() + timedelta(days=1))

    assert client.get(LIST, headers=headers).status_code == 200


def test_token_of_user_who_left_is_401(client, member, token_of):
    user = member("editor")
    headers = token_of(user)
    Membership.objects.filter(user=user).delete()

    assert refusal(client.get(LIST, headers=headers)) == UNAUTHORIZED


def test_token_of_inactive_user_is_401(client, member, token_of):
    user = member("editor")
    headers = token_of(user)
    user.is_active = False
    user.save()

    assert refusal(client.get(LIST, headers=headers)) == UNAUTHORIZED


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "adv_abc"])
def test_malformed_authorization_is_401(client, ops, header):
    assert refusal(client.get(LIST, headers={"Authorization": header})) == UNAUTHORIZED


def test_bad_token_is_401_even_in_anonymous_mode(client, ops, chat_answers, settings):
    settings.ADVISOR_ANONYMOUS = True
    response = client.post(
        LIST,
        {"answers": chat_answers},
        content_type="application/json",
        headers={"Authorization": "Bearer adv_nope"},
    )

    assert refusal(response) == UNAUTHORIZED


def test_token_marks_its_last_use(client, member):
    user = member("viewer")
    token, secret = ApiToken.issue(user, user.memberships.get().workspace)

    client.get(LIST, headers={"Authorization": f"Bearer {secret}"})

    token.refresh_from_db()
    assert token.last_used_at is not None


def _every_stored_text() -> str:
    """Every column of every row of every table, as text: where a secret must not be."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            found.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(found)


def test_token_secret_stored_nowhere(member, ops):
    user = member("owner")
    _, secret = services.issue_token(user, ops, name="ci", actor="operator")

    stored = _every_stored_text()

    # The prefix is kept to tell tokens apart; the rest is not, anywhere.
    assert secret[12:] not in stored


def test_token_row_holds_only_a_hash(member, ops):
    user = member("owner")
    token, secret = ApiToken.issue(user, ops)

    row = ApiToken.objects.filter(pk=token.pk).values().get()

    assert not any(secret in str(value) for value in row.values())


def test_share_link_secret_stored_nowhere(client, bearer, make_assessment, ops):
    assessment = make_assessment(ops)
    response = client.post(
        f"{LIST}{assessment.pk}/share-links/",
        {},
        content_type="application/json",
        headers=bearer("editor"),
    )
    secret = response.json()["url"].rstrip("/").rsplit("/", 1)[-1]

    assert secret.startswith("shr_") and secret not in _every_stored_text()


# --- Anonymous mode off: nobody gets 401 everywhere ------------------------------------------

ANY_ID = uuid.uuid4()
ENDPOINTS = [
    ("get", LIST),
    ("post", LIST),
    ("get", f"{LIST}{ANY_ID}/"),
    ("post", f"{LIST}{ANY_ID}/revisions/"),
    ("get", f"{LIST}{ANY_ID}/share-links/"),
    ("post", f"{LIST}{ANY_ID}/share-links/"),
    ("delete", f"{LIST}{ANY_ID}/share-links/1/"),
    ("post", "/api/network-checks/"),
    ("get", f"/api/network-checks/{ANY_ID}/"),
    ("get", "/api/audit/"),
]


@override_settings(ADVISOR_ANONYMOUS=False)
@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_anonymous_off_nobody_is_401(client, method, url):
    kwargs = {"data": json.dumps({}), "content_type": "application/json"}
    response = getattr(client, method)(url, **(kwargs if method == "post" else {}))

    assert refusal(response) == UNAUTHORIZED


@override_settings(ADVISOR_ANONYMOUS=False)
def test_anonymous_off_nobody_saves_nothing(client, chat_answers):
    client.post(LIST, {"answers": chat_answers}, content_type="application/json")

    assert AuditEvent.objects.count() == 0


@override_settings(ADVISOR_ANONYMOUS=False)
def test_anonymous_off_token_is_taken(client, bearer):
    assert client.get(LIST, headers=bearer("viewer")).status_code == 200


@override_settings(ADVISOR_ANONYMOUS=False)
def test_anonymous_off_signed_in_session_is_taken(client, member):
    client.force_login(member("viewer"))

    assert client.get(LIST).status_code == 200


@override_settings(ADVISOR_ANONYMOUS=True)
def test_anonymous_on_list_still_needs_someone(client):
    assert refusal(client.get(LIST)) == UNAUTHORIZED


@override_settings(ADVISOR_ANONYMOUS=True)
def test_anonymous_on_audit_still_needs_someone(client):
    assert refusal(client.get("/api/audit/")) == UNAUTHORIZED


@override_settings(ADVISOR_ANONYMOUS=True)
def test_anonymous_on_create_is_anonymous(client, chat_answers):
    response = client.post(LIST, {"answers": chat_answers}, content_type="application/json")

    assert response.status_code == 201
