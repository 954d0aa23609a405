"""GET /api/audit/: the workspace's audit log, for its owners, a page at a time."""

from __future__ import annotations

import json

import pytest

from workspaces import audit, services
from workspaces.api import PAGE_SIZE
from workspaces.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

AUDIT = "/api/audit/"


def actions(response) -> list[str]:
    return [entry["action"] for entry in response.json()["results"]]


def test_owner_token_reads_its_workspace_log(client, bearer, ops, member):
    headers = bearer("owner")
    services.set_member(ops, member("viewer"), "editor", actor="operator")

    assert actions(client.get(AUDIT, headers=headers)) == [AuditAction.MEMBER_ROLE_CHANGED]


def test_owner_session_reads_the_log(client, member, ops):
    owner = member("owner")
    services.issue_token(owner, ops, actor="operator")
    client.force_login(owner)

    assert actions(client.get(AUDIT)) == [AuditAction.TOKEN_CREATED]


def test_entry_fields(client, bearer, ops):
    headers = bearer("owner")
    workspace = services.create_workspace("new", "New", actor="operator")
    audit.record(None, AuditAction.WORKSPACE_CREATED, workspace=ops, target=workspace)

    entry = client.get(AUDIT, headers=headers).json()["results"][0]

    assert set(entry) == {
        "id",
        "at",
        "action",
        "actor",
        "object_type",
        "object_id",
        "detail",
        "client_address",
    }


def test_leaves_out_other_workspaces(client, bearer, sales, member):
    headers = bearer("owner")
    services.set_member(sales, member("viewer", sales, "someone"), "editor", actor="operator")

    assert actions(client.get(AUDIT, headers=headers)) == []


@pytest.mark.parametrize("role", ["editor", "reviewer", "viewer"])
def test_other_roles_are_403(client, bearer, role):
    response = client.get(AUDIT, headers=bearer(role))

    assert (response.status_code, set(response.json()["errors"])) == (403, {"auth"})


def test_newest_first(client, bearer, ops):
    headers = bearer("owner")
    for action in (AuditAction.MEMBER_ADDED, AuditAction.TOKEN_CREATED):
        audit.record(None, action, workspace=ops)

    assert actions(client.get(AUDIT, headers=headers)) == [
        AuditAction.TOKEN_CREATED,
        AuditAction.MEMBER_ADDED,
    ]


def test_paginated(client, bearer, ops):
    headers = bearer("owner")
    for _ in range(PAGE_SIZE + 1):
        audit.record(None, AuditAction.MEMBER_ADDED, workspace=ops)

    page = client.get(AUDIT, {"page": "2"}, headers=headers).json()

    assert (len(page["results"]), page["count"], page["pages"]) == (1, PAGE_SIZE + 1, 2)


def test_bad_page_is_400(client, bearer):
    assert client.get(AUDIT, {"page": "x"}, headers=bearer("owner")).status_code == 400


def test_page_past_the_end_is_404(client, bearer):
    assert client.get(AUDIT, {"page": "2"}, headers=bearer("owner")).status_code == 404


def test_action_filter(client, bearer, ops):
    headers = bearer("owner")
    audit.record(None, AuditAction.MEMBER_ADDED, workspace=ops)
    audit.record(None, AuditAction.TOKEN_CREATED, workspace=ops)

    response = client.get(AUDIT, {"action": "token_created"}, headers=headers)

    assert actions(response) == [AuditAction.TOKEN_CREATED]


@pytest.mark.parametrize("value", ["", "nope", "TOKEN_CREATED"])
def test_bad_action_filter_is_400(client, bearer, value):
    response = client.get(AUDIT, {"action": value}, headers=bearer("owner"))

    assert (response.status_code, set(response.json()["errors"])) == (400, {"action"})


def test_post_is_405(client, bearer):
    response = client.post(AUDIT, "{}", content_type="application/json", headers=bearer("owner"))

    assert (response.status_code, response["Allow"]) == (405, "GET, HEAD")


# --- What the API's writes leave in it -----------------------------------------------------


def test_api_writes_are_all_in_the_log(client, bearer, ops, chat_answers, dashboard_answers):
    headers = bearer("owner")
    created = client.post(
        "/api/assessments/",
        json.dumps({"answers": chat_answers}),
        content_type="application/json",
        headers=headers,
    ).json()
    base = f"/api/assessments/{created['id']}/"
    client.post(
        f"{base}revisions/",
        json.dumps({"answers": dashboard_answers}),
        content_type="application/json",
        headers=headers,
    )
    link = client.post(
        f"{base}share-links/", "{}", content_type="application/json", headers=headers
    ).json()
    client.delete(f"{base}share-links/{link['id']}/", headers=headers)

    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        AuditAction.ASSESSMENT_CREATED,
        AuditAction.ASSESSMENT_REVISED,
        AuditAction.SHARE_LINK_CREATED,
        AuditAction.SHARE_LINK_REVOKED,
    ]
