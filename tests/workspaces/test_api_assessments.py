"""The assessments' API under the access policy: list, create, read, revise; by role and place."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from questionnaire.api import PAGE_SIZE
from questionnaire.models import Assessment, Revision
from workspaces.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

LIST = "/api/assessments/"


def post(client, url: str, document: object, **headers):
    return client.post(url, json.dumps(document), content_type="application/json", headers=headers)


def revisions_url(assessment: Assessment) -> str:
    return f"{LIST}{assessment.pk}/revisions/"


def titles(response) -> list[str]:
    return [each["title"] for each in response.json()["results"]]


# --- GET /api/assessments/ -------------------------------------------------------------------


def test_list_shows_the_token_workspace(client, bearer, make_assessment, ops):
    make_assessment(ops, "Ops chat")

    assert titles(client.get(LIST, headers=bearer("viewer"))) == ["Ops chat"]


def test_list_leaves_out_other_workspaces(client, bearer, make_assessment, ops, sales):
    make_assessment(sales, "Sales chat")

    assert titles(client.get(LIST, headers=bearer("owner"))) == []


def test_list_leaves_out_anonymous_and_unassigned(client, bearer, make_assessment, ops):
    make_assessment(None, "Anonymous", anonymous_owner="x" * 64)
    make_assessment(None, "Old", unassigned=True)

    assert titles(client.get(LIST, headers=bearer("owner"))) == []


def test_list_session_user_sees_current_workspace(client, member, make_assessment, ops):
    make_assessment(ops, "Ops chat")
    client.force_login(member("reviewer"))

    assert titles(client.get(LIST)) == ["Ops chat"]


def test_list_signed_in_without_workspace_is_403(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("loner"))

    response = client.get(LIST)

    assert (response.status_code, set(response.json()["errors"])) == (403, {"auth"})


def test_list_item_fields(client, bearer, make_assessment, ops):
    assessment = make_assessment(ops, "Ops chat")

    item = client.get(LIST, headers=bearer("viewer")).json()["results"][0]

    assert item == {
        "id": str(assessment.pk),
        "title": "Ops chat",
        "recommendation": assessment.recommendation,
        "confidence": assessment.confidence,
        "status": "draft",
        "revision": 1,
        "updated_at": assessment.updated_at.isoformat(),
        "url": f"http://testserver/assessments/{assessment.pk}/",
    }


def test_list_item_counts_revisions(client, bearer, make_assessment, ops, dashboard_answers):
    assessment = make_assessment(ops)
    assessment.revise("Team chat", dashboard_answers)

    assert client.get(LIST, headers=bearer("viewer")).json()["results"][0]["revision"] == 2


def test_list_newest_first(client, bearer, make_assessment, ops):
    for number, title in enumerate(["old", "middle", "new"]):
        assessment = make_assessment(ops, title)
        Assessment.objects.filter(pk=assessment.pk).update(
            updated_at=timezone.now() + timedelta(minutes=number)
        )

    assert titles(client.get(LIST, headers=bearer("viewer"))) == ["new", "middle", "old"]


@pytest.fixture
def many(make_assessment, ops) -> int:
    """Two and a half pages of assessments."""
    count = PAGE_SIZE * 2 + PAGE_SIZE // 2
    for number in range(count):
        make_assessment(ops, f"Assessment {number}")
    return count


def test_list_first_page(client, bearer, many):
    page = client.get(LIST, headers=bearer("viewer")).json()

    assert (len(page["results"]), page["count"], page["page"], page["pages"]) == (
        PAGE_SIZE,
        many,
        1,
        3,
    )


def test_list_first_page_links(client, bearer, many):
    page = client.get(LIST, headers=bearer("viewer")).json()

    assert (page["previous"], page["next"]) == (None, "http://testserver/api/assessments/?page=2")


def test_list_last_page(client, bearer, many):
    page = client.get(LIST, {"page": "3"}, headers=bearer("viewer")).json()

    assert (len(page["results"]), page["next"]) == (PAGE_SIZE // 2, None)


def test_list_pages_cover_every_assessment_once(client, bearer, many):
    headers = bearer("viewer")
    seen = []
    for number in (1, 2, 3):
        seen += [
            i["id"] for i in client.get(LIST, {"page": number}, headers=headers).json()["results"]
        ]

    assert len(set(seen)) == len(seen) == many


def test_list_links_keep_the_query(client, bearer, many):
    page = client.get(LIST, {"q": "assessment", "page": "2"}, headers=bearer("viewer")).json()

    assert page["previous"] == "http://testserver/api/assessments/?q=assessment&page=1"


def test_list_empty_is_one_empty_page(client, bearer):
    page = client.get(LIST, headers=bearer("viewer")).json()

    assert (page["results"], page["count"], page["page"], page["pages"]) == ([], 0, 1, 1)


@pytest.mark.parametrize("value", ["0", "-1", "one", "1.5", "", "²", " 1"])
def test_list_bad_page_is_400(client, bearer, value):
    response = client.get(LIST, {"page": value}, headers=bearer("viewer"))

    assert (response.status_code, set(response.json()["errors"])) == (400, {"page"})


@pytest.mark.parametrize("value", ["2", "9" * 40])
def test_list_page_past_the_end_is_404(client, bearer, make_assessment, ops, value):
    make_assessment(ops)

    response = client.get(LIST, {"page": value}, headers=bearer("viewer"))

    assert (response.status_code, set(response.json()["errors"])) == (404, {"page"})


def test_list_q_filters_titles(client, bearer, make_assessment, ops):
    make_assessment(ops, "Team chat")
    make_assessment(ops, "Ops dashboard")

    assert titles(client.get(LIST, {"q": "DASH"}, headers=bearer("viewer"))) == ["Ops dashboard"]


def test_list_q_counts_only_matches(client, bearer, make_assessment, ops):
    make_assessment(ops, "Team chat")
    make_assessment(ops, "Ops dashboard")

    assert client.get(LIST, {"q": "chat"}, headers=bearer("viewer")).json()["count"] == 1


@pytest.mark.parametrize("value", ["x" * 201, "a\x00b"])
def test_list_bad_q_is_400(client, bearer, value):
    response = client.get(LIST, {"q": value}, headers=bearer("viewer"))

    assert (response.status_code, set(response.json()["errors"])) == (400, {"q"})


def test_list_head_answers_like_get(client, bearer):
    response = client.head(LIST, headers=bearer("viewer"))

    assert (response.status_code, response.content) == (200, b"")


# --- POST /api/assessments/ ------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "editor"])
def test_create_with_token_goes_into_its_workspace(client, bearer, chat_answers, ops, role):
    post(client, LIST, {"answers": chat_answers}, **bearer(role))

    assert Assessment.objects.get().workspace == ops


def test_create_with_token_names_its_user(client, member, token_of, chat_answers):
    user = member("editor")

    post(client, LIST, {"answers": chat_answers}, **token_of(user))

    assert Assessment.objects.get().created_by == user


def test_create_with_token_is_not_anonymous(client, bearer, chat_answers):
    post(client, LIST, {"answers": chat_answers}, **bearer("editor"))

    assert Assessment.objects.get().anonymous_owner == ""


@pytest.mark.parametrize("role", ["reviewer", "viewer"])
def test_create_refused_for_role(client, bearer, chat_answers, role):
    response = post(client, LIST, {"answers": chat_answers}, **bearer(role))

    assert (response.status_code, set(response.json()["errors"]), Assessment.objects.count()) == (
        403,
        {"auth"},
        0,
    )


def test_create_refusal_names_the_role(client, bearer, chat_answers):
    response = post(client, LIST, {"answers": chat_answers}, **bearer("viewer"))

    assert "viewer" in response.json()["errors"]["auth"]


def test_create_refused_role_writes_no_audit(client, bearer, chat_answers):
    post(client, LIST, {"answers": chat_answers}, **bearer("viewer"))

    assert AuditEvent.objects.count() == 0


def test_create_is_audited(client, member, token_of, chat_answers, ops):
    user = member("editor")
    post(client, LIST, {"title": "Chat", "answers": chat_answers}, **token_of(user))

    entry = AuditEvent.objects.get()
    assert (entry.action, entry.workspace, entry.actor_user, entry.object_id) == (
        AuditAction.ASSESSMENT_CREATED,
        ops,
        user,
        str(Assessment.objects.get().pk),
    )


def test_create_audit_names_the_token(client, member, token_of, chat_answers):
    post(client, LIST, {"answers": chat_answers}, **token_of(member("editor")))

    assert "(token adv_" in AuditEvent.objects.get().actor


def test_create_by_session_editor_goes_into_workspace(client, member, chat_answers, ops):
    client.force_login(member("editor"))

    post(client, LIST, {"answers": chat_answers})

    assert Assessment.objects.get().workspace == ops


@override_settings(ADVISOR_ANONYMOUS=True)
def test_create_anonymous_belongs_to_the_session(client, chat_answers):
    client.get("/")  # a browser that opened a page: it sends our cookies
    post(client, LIST, {"answers": chat_answers})

    assessment = Assessment.objects.get()
    assert (assessment.workspace, assessment.scope, len(assessment.anonymous_owner)) == (
        None,
        "anonymous",
        64,
    )


# --- GET /api/assessments/<id>/ --------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "editor", "reviewer", "viewer"])
def test_detail_any_role_reads(client, bearer, make_assessment, ops, role):
    assessment = make_assessment(ops)

    assert client.get(f"{LIST}{assessment.pk}/", headers=bearer(role)).status_code == 200


def test_detail_other_workspace_is_404(client, bearer, make_assessment, sales):
    assessment = make_assessment(sales)

    response = client.get(f"{LIST}{assessment.pk}/", headers=bearer("owner"))

    assert response.status_code == 404


def test_detail_other_workspace_answers_as_unknown(client, bearer, make_assessment, sales):
    url = f"{LIST}{make_assessment(sales).pk}/"
    headers = bearer("owner")

    theirs = client.get(url, headers=headers)
    Assessment.objects.all().delete()
    unknown = client.get(url, headers=headers)

    assert (theirs.status_code, theirs.json()) == (unknown.status_code, unknown.json())


def test_detail_token_cannot_read_anonymous(client, bearer, make_assessment):
    assessment = make_assessment(None, anonymous_owner="x" * 64)

    assert client.get(f"{LIST}{assessment.pk}/", headers=bearer("owner")).status_code == 404


@override_settings(ADVISOR_ANONYMOUS=True)
def test_detail_anonymous_read_by_link(client, make_assessment):
    assessment = make_assessment(None, anonymous_owner="x" * 64)

    assert client.get(f"{LIST}{assessment.pk}/").status_code == 200


@override_settings(ADVISOR_ANONYMOUS=True)
def test_detail_workspace_assessment_hidden_from_nobody(client, make_assessment, ops):
    assessment = make_assessment(ops)

    assert client.get(f"{LIST}{assessment.pk}/").status_code == 404


@override_settings(ADVISOR_ANONYMOUS=False)
def test_detail_anonymous_off_nobody_is_401(client, make_assessment, ops):
    assessment = make_assessment(ops)

    response = client.get(f"{LIST}{assessment.pk}/")

    assert (response.status_code, response["WWW-Authenticate"]) == (401, 'Bearer realm="advisor"')


# --- POST /api/assessments/<id>/revisions/ ---------------------------------------------------


@pytest.fixture
def ours(make_assessment, ops) -> Assessment:
    return make_assessment(ops, "Team chat")


@pytest.mark.parametrize("role", ["owner", "editor"])
def test_revise_adds_a_revision(client, bearer, ours, dashboard_answers, role):
    response = post(client, revisions_url(ours), {"answers": dashboard_answers}, **bearer(role))

    assert (response.status_code, response.json()["revision"], ours.revisions.count()) == (
        201,
        2,
        2,
    )


def test_revise_location_names_the_revision(client, bearer, ours, dashboard_answers):
    response = post(client, revisions_url(ours), {"answers": dashboard_answers}, **bearer())

    assert response["Location"] == f"http://testserver/api/assessments/{ours.pk}/?revision=2"


def test_revise_location_reads_the_same_document(client, bearer, ours, dashboard_answers):
    headers = bearer()
    response = post(client, revisions_url(ours), {"answers": dashboard_answers}, **headers)

    assert client.get(response["Location"], headers=headers).json() == response.json()


def test_revise_rescores(client, bearer, ours, dashboard_answers):
    response = post(client, revisions_url(ours), {"answers": dashboard_answers}, **bearer())

    assert response.json()["recommendation"] == "sse"


def test_revise_without_title_keeps_the_latest(client, bearer, ours, dashboard_answers):
    post(client, revisions_url(ours), {"answers": dashboard_answers}, **bearer())

    assert ours.latest.title == "Team chat"


def test_revise_null_title_keeps_the_latest(client, bearer, ours, dashboard_answers):
    post(client, revisions_url(ours), {"title": None, "answers": dashboard_answers}, **bearer())

    assert ours.latest.title == "Team chat"


def test_revise_with_title_renames(client, bearer, ours, dashboard_answers):
    document = {"title": "  Ops feed ", "answers": dashboard_answers}

    post(client, revisions_url(ours), document, **bearer())

    ours.refresh_from_db()
    assert (ours.title, ours.latest.title) == ("Ops feed", "Ops feed")


def test_revise_keeps_the_earlier_revision(client, bearer, ours, dashboard_answers):
    before = ours.revisions.get(number=1).answers

    post(client, revisions_url(ours), {"answers": dashboard_answers}, **bearer())

    assert ours.revisions.get(number=1).answers == before


def test_revise_is_audited(client, bearer, ours, dashboard_answers, ops):
    post(client, revisions_url(ours), {"answers": dashboard_answers}, **bearer())

    entry = AuditEvent.objects.get()
    assert (entry.action, entry.workspace, entry.object_id, entry.detail["revision"]) == (
        AuditAction.ASSESSMENT_REVISED,
        ops,
        str(ours.pk),
        2,
    )


@pytest.mark.parametrize("role", ["reviewer", "viewer"])
def test_revise_refused_for_role(client, bearer, ours, dashboard_answers, role):
    response = post(client, revisions_url(ours), {"answers": dashboard_answers}, **bearer(role))

    assert (response.status_code, set(response.json()["errors"]), ours.revisions.count()) == (
        403,
        {"auth"},
        1,
    )


def test_revise_other_workspace_is_404(client, bearer, ours, dashboard_answers, sales):
    response = post(
        client, revisions_url(ours), {"answers": dashboard_answers}, **bearer("owner", sales)
    )

    assert (response.status_code, response.json(), ours.revisions.count()) == (
        404,
        {"errors": {"id": f"no assessment with id {ours.pk}"}},
        1,
    )


def test_revise_unknown_is_404(client, bearer, dashboard_answers):
    response = post(
        client, f"{LIST}{uuid.uuid4()}/revisions/", {"answers": dashboard_answers}, **bearer()
    )

    assert (response.status_code, set(response.json()["errors"])) == (404, {"id"})


def test_revise_get_is_405(client, bearer, ours):
    response = client.get(revisions_url(ours), headers=bearer())

    assert (response.status_code, response["Allow"]) == (405, "POST")


@override_settings(ADVISOR_ANONYMOUS=True)
def test_create_by_a_program_without_cookies_belongs_to_no_session(client, chat_answers):
    post(client, LIST, {"answers": chat_answers})

    assert Assessment.objects.get().anonymous_owner == ""
    assert not client.cookies.get("sessionid")


def test_revise_by_the_anonymous_session_that_made_it(client, chat_answers, dashboard_answers):
    client.get("/")
    created = post(client, LIST, {"answers": chat_answers}).json()

    response = post(client, f"{LIST}{created['id']}/revisions/", {"answers": dashboard_answers})

    assert response.status_code == 201


@override_settings(ADVISOR_ANONYMOUS=True)
def test_revise_by_another_anonymous_session_is_403(
    client, django_app_client, chat_answers, dashboard_answers
):
    created = post(client, LIST, {"answers": chat_answers}).json()

    response = post(
        django_app_client, f"{LIST}{created['id']}/revisions/", {"answers": dashboard_answers}
    )

    assert (response.status_code, Revision.objects.count()) == (403, 1)


@override_settings(ADVISOR_ANONYMOUS=True)
def test_revise_workspace_assessment_by_nobody_is_404(client, ours, dashboard_answers):
    response = post(client, revisions_url(ours), {"answers": dashboard_answers})

    assert response.status_code == 404


@pytest.fixture
def django_app_client():
    """A second browser: a session of its own."""
    from django.test import Client

    return Client()


BAD_REVISIONS = [
    ({"title": "t"}, {"answers"}),
    ({"answers": "chat"}, {"answers"}),
    ({"answers": {"client_messages": "nope"}}, None),
    ({"title": 5, "answers": {}}, None),
    ({"title": "x" * 201, "answers": "chat"}, None),
    ({"colour": "blue"}, None),
    ({"network_check": "not-a-uuid"}, None),
]


@pytest.mark.parametrize(("document", "_"), BAD_REVISIONS)
def test_revise_bad_input_saves_nothing(client, bearer, ours, document, _):
    response = post(client, revisions_url(ours), document, **bearer())

    assert (response.status_code, ours.revisions.count(), AuditEvent.objects.count()) == (
        400,
        1,
        0,
    )


def test_revise_body_not_json_is_400(client, bearer, ours):
    response = client.post(
        revisions_url(ours), "{", content_type="application/json", headers=bearer()
    )

    assert (response.status_code, set(response.json()["errors"])) == (400, {"body"})


def test_revise_with_other_workspace_check_is_400(client, bearer, ours, dashboard_answers, sales):
    from network_check.models import NetworkCheck

    check = NetworkCheck.objects.create(measurement={}, workspace=sales)
    document = {"answers": dashboard_answers, "network_check": str(check.pk)}

    response = post(client, revisions_url(ours), document, **bearer())

    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"network_check": f"no network check with id {check.pk}"},
    )
