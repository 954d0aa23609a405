"""A signed-in session's API writes pass the CSRF check; token and anonymous writes need none."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings

from questionnaire.models import Assessment, ShareLink

pytestmark = pytest.mark.django_db

LIST = "/api/assessments/"
CSRF_SECRET = "a" * 32


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def signed_in(browser, member) -> Client:
    browser.force_login(member("editor"))
    return browser


def post(client: Client, url: str, document: object, **headers):
    return client.post(url, json.dumps(document), content_type="application/json", headers=headers)


def test_session_write_without_csrf_token_is_403(signed_in, chat_answers):
    response = post(signed_in, LIST, {"answers": chat_answers})

    assert (response.status_code, set(response.json()["errors"]), Assessment.objects.count()) == (
        403,
        {"csrf"},
        0,
    )


def test_session_write_with_wrong_csrf_token_is_403(signed_in, chat_answers):
    signed_in.cookies["csrftoken"] = CSRF_SECRET

    response = post(signed_in, LIST, {"answers": chat_answers}, X_CSRFToken="b" * 32)

    assert response.status_code == 403


def test_session_write_with_csrf_token_is_taken(signed_in, chat_answers):
    signed_in.cookies["csrftoken"] = CSRF_SECRET

    response = post(signed_in, LIST, {"answers": chat_answers}, X_CSRFToken=CSRF_SECRET)

    assert response.status_code == 201


def test_session_revision_without_csrf_token_is_403(signed_in, make_assessment, ops, chat_answers):
    assessment = make_assessment(ops)

    response = post(signed_in, f"{LIST}{assessment.pk}/revisions/", {"answers": chat_answers})

    assert (response.status_code, assessment.revisions.count()) == (403, 1)


def test_session_share_without_csrf_token_is_403(signed_in, make_assessment, ops):
    assessment = make_assessment(ops)

    response = post(signed_in, f"{LIST}{assessment.pk}/share-links/", {})

    assert (response.status_code, ShareLink.objects.count()) == (403, 0)


def test_session_revoke_without_csrf_token_is_403(signed_in, make_assessment, ops):
    assessment = make_assessment(ops)
    link, _ = ShareLink.issue(assessment)

    response = signed_in.delete(f"{LIST}{assessment.pk}/share-links/{link.pk}/")

    assert (response.status_code, ShareLink.objects.get().status) == (403, "active")


def test_session_network_check_without_csrf_token_is_403(signed_in):
    response = post(signed_in, "/api/network-checks/", {})

    assert set(response.json()["errors"]) == {"csrf"}


def test_session_read_needs_no_csrf_token(signed_in):
    assert signed_in.get(LIST).status_code == 200


def test_token_write_needs_no_csrf_token(browser, bearer, chat_answers):
    response = post(browser, LIST, {"answers": chat_answers}, **bearer("editor"))

    assert response.status_code == 201


def test_token_write_with_a_session_cookie_needs_no_csrf_token(signed_in, bearer, chat_answers):
    # The token decides: the session alongside lends it nothing.
    response = post(signed_in, LIST, {"answers": chat_answers}, **bearer("editor"))

    assert response.status_code == 201


@override_settings(ADVISOR_ANONYMOUS=True)
def test_anonymous_write_needs_no_csrf_token(browser, chat_answers):
    assert post(browser, LIST, {"answers": chat_answers}).status_code == 201
