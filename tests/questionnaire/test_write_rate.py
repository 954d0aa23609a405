"""The per-client rate of writes: the API (json_methods) and the wizard's saves."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from network_check.models import NetworkCheck
from questionnaire.models import Assessment, Revision
from tests.network_check.measurements import measurement

from .test_views import HTMX, NEW, finish_data

pytestmark = pytest.mark.django_db

ASSESSMENTS = "/api/assessments/"
CHECKS = "/api/network-checks/"


@pytest.fixture
def two_writes(settings):
    """Two writes at once, then one every 100 s: the third in a test is refused."""
    settings.ADVISOR_WRITES_PER_SECOND = 0.01
    settings.ADVISOR_WRITE_BURST = 2


def post_json(client: Client, url: str, document: object):
    return client.post(url, data=json.dumps(document), content_type="application/json")


def assert_refused_json(response) -> None:
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert 1 <= int(response["Retry-After"]) <= 100
    errors = response.json()["errors"]
    assert list(errors) == ["rate"]
    assert "nothing was saved" in errors["rate"]


def test_api_assessments_over_the_rate_429_json_nothing_stored(two_writes, chat_answers):
    client = Client(REMOTE_ADDR="203.0.113.1")
    document = {"title": "Chat", "answers": chat_answers}
    assert [post_json(client, ASSESSMENTS, document).status_code for _ in range(2)] == [201, 201]

    refused = post_json(client, ASSESSMENTS, document)

    assert_refused_json(refused)
    assert Assessment.objects.count() == 2
    # Another client's allowance is its own.
    other = Client(REMOTE_ADDR="203.0.113.2")
    assert post_json(other, ASSESSMENTS, document).status_code == 201


def test_api_network_checks_over_the_rate_429_json_nothing_stored(two_writes):
    client = Client(REMOTE_ADDR="203.0.113.1")
    assert [post_json(client, CHECKS, measurement()).status_code for _ in range(2)] == [201, 201]

    assert_refused_json(post_json(client, CHECKS, measurement()))
    assert NetworkCheck.objects.count() == 2


def test_api_writes_share_one_allowance_and_refused_bodies_count(two_writes, chat_answers):
    client = Client(REMOTE_ADDR="203.0.113.1")
    assert post_json(client, ASSESSMENTS, {"answers": {}}).status_code == 400
    assert post_json(client, CHECKS, measurement()).status_code == 201

    assert_refused_json(post_json(client, ASSESSMENTS, {"answers": chat_answers}))
    assert Assessment.objects.count() == 0


def test_api_reads_not_limited(two_writes):
    client = Client(REMOTE_ADDR="203.0.113.1")
    assert {client.get("/api/questions/").status_code for _ in range(5)} == {200}


def test_api_spoofed_forwarded_for_does_not_buy_a_new_allowance(two_writes, chat_answers):
    client = Client(REMOTE_ADDR="203.0.113.1")
    document = {"answers": chat_answers}
    for n in range(2):
        headers = {"X-Forwarded-For": f"198.51.100.{n}"}
        post = client.post(
            ASSESSMENTS, json.dumps(document), content_type="application/json", headers=headers
        )
        assert post.status_code == 201
    spoofed = client.post(
        ASSESSMENTS,
        json.dumps(document),
        content_type="application/json",
        headers={"X-Forwarded-For": "198.51.100.99"},
    )
    assert spoofed.status_code == 429


def test_api_behind_a_trusted_proxy_each_client_has_its_own(two_writes, settings, chat_answers):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    document = json.dumps({"answers": chat_answers})

    def post(address: str):
        return proxy.post(
            ASSESSMENTS,
            document,
            content_type="application/json",
            headers={"X-Forwarded-For": address},
        )

    assert [post("198.51.100.1").status_code for _ in range(3)] == [201, 201, 429]
    assert post("198.51.100.2").status_code == 201


def test_default_rate_a_person_never_meets(chat_answers):
    client = Client(REMOTE_ADDR="203.0.113.1")
    statuses = [
        post_json(client, ASSESSMENTS, {"answers": chat_answers}).status_code for _ in range(20)
    ]
    assert statuses == [201] * 20


# The wizard ----------------------------------------------------------------------------------


def test_wizard_save_over_the_rate_429_inline_error_answers_kept(two_writes, chat_answers):
    client = Client(REMOTE_ADDR="203.0.113.1")
    for _ in range(2):
        assert client.post(NEW, finish_data(chat_answers, title="Ours")).status_code == 302

    refused = client.post(NEW, finish_data(chat_answers, title="Ours"))

    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 100
    content = refused.content.decode()
    assert 'id="err-rate"' in content
    assert "nothing was saved" in content
    # The same last step, with every answer carried, ready to press Finish again.
    assert 'name="step" value="3"' in content
    for slug, value in chat_answers.items():
        assert f'name="{slug}" value="{value}"' in content
    assert 'value="Ours"' in content
    assert Assessment.objects.count() == 2


def test_wizard_save_over_the_rate_htmx_gets_the_step(two_writes, chat_answers):
    client = Client(REMOTE_ADDR="203.0.113.1")
    for _ in range(2):
        client.post(NEW, finish_data(chat_answers))

    refused = client.post(NEW, finish_data(chat_answers), headers=HTMX)

    assert refused.status_code == 429
    assert "HX-Redirect" not in refused
    assert refused.content.decode().lstrip().startswith('<div id="wizard"')
    assert 'id="err-rate"' in refused.content.decode()
    assert Assessment.objects.count() == 2


def test_wizard_revision_over_the_rate_nothing_stored(two_writes, chat_answers):
    client = Client(REMOTE_ADDR="203.0.113.1")
    client.post(NEW, finish_data(chat_answers, title="Ours"))
    assessment = Assessment.objects.get()
    edit = f"/assessments/{assessment.pk}/edit/"
    assert client.post(edit, finish_data(chat_answers, title="Ours 2")).status_code == 302

    refused = client.post(edit, finish_data(chat_answers, title="Ours 3"))

    assert refused.status_code == 429
    assert 'id="err-rate"' in refused.content.decode()
    assert Revision.objects.filter(assessment=assessment).count() == 2


def test_wizard_steps_are_not_writes(two_writes, chat_answers):
    client = Client(REMOTE_ADDR="203.0.113.1")
    for _ in range(5):
        response = client.post(NEW, {**chat_answers, "step": "0", "action": "next"})
        assert response.status_code == 200
    assert client.post(NEW, finish_data(chat_answers)).status_code == 302


def test_cross_site_writes_spend_no_allowance(two_writes, chat_answers):
    # A page on another site posts through a visitor's browser: refused for
    # its origin or its body type, it must not use up the visitor's writes.
    client = Client(REMOTE_ADDR="203.0.113.1")
    body = json.dumps({"answers": chat_answers})
    foreign = [
        client.post(
            ASSESSMENTS, data=body, content_type="application/json", headers={"Origin": origin}
        ).status_code
        for origin in ("https://evil.example", "http://testserver:8080", "null")
    ]
    plain = [
        client.post(ASSESSMENTS, data=body, content_type="text/plain").status_code
        for _ in range(3)
    ]

    assert foreign == [403, 403, 403]
    assert plain == [415, 415, 415]
    assert [
        post_json(client, ASSESSMENTS, {"answers": chat_answers}).status_code for _ in range(2)
    ] == [201, 201]
