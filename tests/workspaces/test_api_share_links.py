"""Share links over the API: made, listed and revoked by a workspace's editors and owners."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from questionnaire.models import ShareLink
from workspaces.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


def links_url(assessment) -> str:
    return f"/api/assessments/{assessment.pk}/share-links/"


def post(client, url: str, document: object, headers: dict):
    return client.post(url, json.dumps(document), content_type="application/json", headers=headers)


@pytest.fixture
def ours(make_assessment, ops):
    return make_assessment(ops)


@pytest.fixture
def editor(bearer) -> dict:
    return bearer("editor")


@pytest.fixture
def made(client, ours, editor):
    return post(client, links_url(ours), {"expires_in_days": 7}, editor)


def test_create_201(made):
    assert made.status_code == 201


def test_create_fields(made):
    assert set(made.json()) == {"id", "url", "expires_at"}


def test_create_url_opens_the_assessment(client, made):
    assert client.get(made.json()["url"]).status_code == 200


def test_create_expires_in_the_days_asked(made):
    link = ShareLink.objects.get()

    assert round((link.expires_at - link.created_at).total_seconds() / 86400) == 7


@pytest.mark.parametrize("document", [{}, {"expires_in_days": None}])
def test_create_without_expiry_never_expires(client, ours, editor, document):
    response = post(client, links_url(ours), document, editor)

    assert (response.status_code, response.json()["expires_at"]) == (201, None)


@pytest.mark.parametrize("days", [7, 30, 90])
def test_create_each_allowed_expiry(client, ours, editor, days):
    assert post(client, links_url(ours), {"expires_in_days": days}, editor).status_code == 201


def test_create_names_the_token_user(client, ours, member, token_of):
    user = member("owner")

    post(client, links_url(ours), {}, token_of(user))

    assert ShareLink.objects.get().created_by == user


def test_create_is_audited(made, ours):
    entry = AuditEvent.objects.get()

    assert (entry.action, entry.object_id) == (AuditAction.SHARE_LINK_CREATED, str(ours.pk))


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"expires_in_days": 1}, "expires_in_days"),
        ({"expires_in_days": 7.0}, "expires_in_days"),
        ({"expires_in_days": "7"}, "expires_in_days"),
        ({"expires_in_days": True}, "expires_in_days"),
        ({"expires_in_days": [7]}, "expires_in_days"),
        ({"expires_in_days": 7, "secret": "mine"}, "secret"),
    ],
)
def test_create_bad_input_is_400_saving_nothing(client, ours, editor, document, field):
    response = post(client, links_url(ours), document, editor)

    assert (response.status_code, set(response.json()["errors"]), ShareLink.objects.count()) == (
        400,
        {field},
        0,
    )


@pytest.mark.parametrize("body", ["", "[]", "{", "7"])
def test_create_body_not_an_object_is_400(client, ours, editor, body):
    response = client.post(links_url(ours), body, content_type="application/json", headers=editor)

    assert (response.status_code, ShareLink.objects.count()) == (400, 0)


@pytest.mark.parametrize("role", ["reviewer", "viewer"])
def test_create_refused_for_role(client, ours, bearer, role):
    response = post(client, links_url(ours), {}, bearer(role))

    assert (response.status_code, set(response.json()["errors"]), ShareLink.objects.count()) == (
        403,
        {"auth"},
        0,
    )


def test_create_other_workspace_is_404(client, ours, bearer, sales):
    response = post(client, links_url(ours), {}, bearer("owner", sales))

    assert (response.status_code, response.json()) == (
        404,
        {"errors": {"id": f"no assessment with id {ours.pk}"}},
    )


@override_settings(ADVISOR_ANONYMOUS=True)
def test_create_for_anonymous_assessment_says_move_it_first(client, chat_answers):
    created = client.post(
        "/api/assessments/", {"answers": chat_answers}, content_type="application/json"
    ).json()

    response = client.post(
        f"/api/assessments/{created['id']}/share-links/", {}, content_type="application/json"
    )

    assert (response.status_code, "workspace" in response.json()["errors"]["auth"]) == (403, True)


def test_create_for_unassigned_assessment_is_403(client, make_assessment, member):
    assessment = make_assessment(None, unassigned=True)
    client.force_login(member("owner"))

    response = post(client, links_url(assessment), {}, {})

    assert (response.status_code, "claim" in response.json()["errors"]["auth"]) == (403, True)


# --- GET: the list ---------------------------------------------------------------------------


def test_list_fields(client, made, ours, editor):
    item = client.get(links_url(ours), headers=editor).json()["results"][0]

    assert set(item) == {"id", "expires_at", "created_at", "created_by", "revoked_at", "status"}


def test_list_never_shows_the_url(client, made, ours, editor):
    secret = made.json()["url"].rstrip("/").rsplit("/", 1)[-1]

    assert secret not in client.get(links_url(ours), headers=editor).content.decode()


def test_list_status_after_revoke(client, made, ours, editor):
    client.delete(f"{links_url(ours)}{made.json()['id']}/", headers=editor)

    assert client.get(links_url(ours), headers=editor).json()["results"][0]["status"] == "revoked"


@pytest.mark.parametrize("role", ["reviewer", "viewer"])
def test_list_refused_for_role(client, made, ours, bearer, role):
    assert client.get(links_url(ours), headers=bearer(role)).status_code == 403


def test_list_other_workspace_is_404(client, made, ours, bearer, sales):
    assert client.get(links_url(ours), headers=bearer("owner", sales)).status_code == 404


# --- DELETE ----------------------------------------------------------------------------------


def test_revoke_204(client, made, ours, editor):
    response = client.delete(f"{links_url(ours)}{made.json()['id']}/", headers=editor)

    assert (response.status_code, ShareLink.objects.get().status) == (204, "revoked")


def test_revoked_link_opens_nothing(client, made, ours, editor):
    client.delete(f"{links_url(ours)}{made.json()['id']}/", headers=editor)

    assert client.get(made.json()["url"]).status_code == 404


def test_revoke_again_is_204(client, made, ours, editor):
    url = f"{links_url(ours)}{made.json()['id']}/"
    client.delete(url, headers=editor)

    assert client.delete(url, headers=editor).status_code == 204


def test_revoke_again_is_audited_once(client, made, ours, editor):
    url = f"{links_url(ours)}{made.json()['id']}/"
    client.delete(url, headers=editor)
    client.delete(url, headers=editor)

    assert AuditEvent.objects.filter(action=AuditAction.SHARE_LINK_REVOKED).count() == 1


@pytest.mark.parametrize("link_id", ["999", "9" * 40, "abc"])
def test_revoke_unknown_is_404(client, made, ours, editor, link_id):
    response = client.delete(f"{links_url(ours)}{link_id}/", headers=editor)

    assert (response.status_code, set(response.json()["errors"])) == (404, {"id"})


def test_revoke_another_assessments_link_is_404(client, made, make_assessment, ops, editor):
    other = make_assessment(ops, "Other")

    response = client.delete(f"{links_url(other)}{made.json()['id']}/", headers=editor)

    assert (response.status_code, ShareLink.objects.get().status) == (404, "active")


@pytest.mark.parametrize("role", ["reviewer", "viewer"])
def test_revoke_refused_for_role(client, made, ours, bearer, role):
    response = client.delete(f"{links_url(ours)}{made.json()['id']}/", headers=bearer(role))

    assert (response.status_code, ShareLink.objects.get().status) == (403, "active")


def test_revoke_other_workspace_is_404(client, made, ours, bearer, sales):
    response = client.delete(
        f"{links_url(ours)}{made.json()['id']}/", headers=bearer("owner", sales)
    )

    assert (response.status_code, ShareLink.objects.get().status) == (404, "active")


def test_revoke_from_another_site_403_link_stays(client, made, ours, editor):
    url = f"{links_url(ours)}{made.json()['id']}/"
    response = client.delete(url, headers={**editor, "Origin": "https://evil.example"})
    assert response.status_code == 403
    assert ShareLink.objects.get().status == "active"


def test_revoke_with_a_non_json_body_415(client, made, ours, editor):
    url = f"{links_url(ours)}{made.json()['id']}/"
    response = client.delete(url, "x=1", content_type="text/plain", headers=editor)
    assert response.status_code == 415
    assert ShareLink.objects.get().status == "active"
