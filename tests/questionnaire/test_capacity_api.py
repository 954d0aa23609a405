"""The API's optional ``traffic`` and the ``capacity`` plan it adds to a result."""

from __future__ import annotations

import json

import pytest

from questionnaire.models import Assessment, Revision

pytestmark = pytest.mark.django_db

ASSESSMENTS = "/api/assessments/"
TRAFFIC = {"peak_clients": 100000, "events_per_second": 10, "payload_bytes": 2048}


def post(client, url, document):
    return client.post(url, json.dumps(document), content_type="application/json")


@pytest.fixture
def created(client, chat_answers):
    client.get("/")
    return post(client, ASSESSMENTS, {"answers": chat_answers, "traffic": TRAFFIC})


def test_create_with_traffic_gives_a_plan_per_transport(created):
    document = created.json()
    assert created.status_code == 201
    for transport in ("websocket", "sse"):
        plan = document["capacity"][transport]
        assert plan["processes"] >= 1 and plan["machines"] >= 1
        assert plan["memory_bytes"] > 0 and plan["egress_bits_per_second"] > 0
        assert plan["first_limit"] in {"cpu", "memory", "file_descriptors", "bandwidth", "proxy"}
    assert document["capacity"]["assumptions"]["traffic"]["peak_clients"] == 100000


def test_create_with_traffic_stores_it_with_the_revision(created):
    assert Revision.objects.get().traffic == {
        "peak_clients": 100000,
        "events_per_second": 10.0,
        "payload_bytes": 2048,
    }
    assert created.json()["traffic"]["peak_clients"] == 100000


def test_read_back_gives_the_same_plan(client, created):
    again = client.get(f"{ASSESSMENTS}{created.json()['id']}/").json()
    assert again["capacity"] == created.json()["capacity"]


def test_create_without_traffic_has_null_capacity(client, chat_answers):
    document = post(client, ASSESSMENTS, {"answers": chat_answers}).json()
    assert (document["capacity"], document["traffic"]) == (None, None)


def test_null_traffic_is_no_traffic(client, chat_answers):
    response = post(client, ASSESSMENTS, {"answers": chat_answers, "traffic": None})
    assert response.status_code == 201
    assert response.json()["capacity"] is None


@pytest.mark.parametrize(
    ("traffic", "field"),
    [
        ({**TRAFFIC, "peak_clients": -5}, "traffic.peak_clients"),
        ({**TRAFFIC, "peak_clients": 10**12}, "traffic.peak_clients"),
        ({**TRAFFIC, "peak_clients": 10**400}, "traffic.peak_clients"),
        ({**TRAFFIC, "events_per_second": -(10**400)}, "traffic.events_per_second"),
        ({**TRAFFIC, "events_per_second": 1e9}, "traffic.events_per_second"),
        ({**TRAFFIC, "payload_bytes": 2**40}, "traffic.payload_bytes"),
        ({**TRAFFIC, "peak_clients": "100k"}, "traffic.peak_clients"),
        ({**TRAFFIC, "events_per_second": "10"}, "traffic.events_per_second"),
        ({**TRAFFIC, "payload_bytes": True}, "traffic.payload_bytes"),
        ({**TRAFFIC, "payload_bytes": 20.5}, "traffic.payload_bytes"),
        ({**TRAFFIC, "burst": 3}, "traffic.burst"),
        ({"events_per_second": 1}, "traffic.peak_clients"),
        ("lots", "traffic"),
    ],
)
def test_create_refuses_bad_traffic_and_stores_nothing(client, chat_answers, traffic, field):
    response = post(client, ASSESSMENTS, {"answers": chat_answers, "traffic": traffic})
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Assessment.objects.count() == 0


def test_create_names_every_bad_traffic_field(client, chat_answers):
    traffic = {"peak_clients": -1, "events_per_second": "x", "payload_bytes": False}
    response = post(client, ASSESSMENTS, {"answers": chat_answers, "traffic": traffic})
    assert set(response.json()["errors"]) == {
        "traffic.peak_clients",
        "traffic.events_per_second",
        "traffic.payload_bytes",
    }


def test_revision_without_traffic_keeps_the_last(client, created, dashboard_answers):
    url = f"{ASSESSMENTS}{created.json()['id']}/revisions/"
    revised = post(client, url, {"answers": dashboard_answers})
    assert revised.status_code == 201
    assert revised.json()["traffic"]["peak_clients"] == 100000
    assert revised.json()["capacity"]["websocket"]["processes"] >= 1


def test_revision_with_null_traffic_drops_it(client, created, dashboard_answers):
    url = f"{ASSESSMENTS}{created.json()['id']}/revisions/"
    revised = post(client, url, {"answers": dashboard_answers, "traffic": None})
    assert revised.json()["capacity"] is None


def test_revision_refuses_bad_traffic(client, created, dashboard_answers):
    url = f"{ASSESSMENTS}{created.json()['id']}/revisions/"
    refused = post(client, url, {"answers": dashboard_answers, "traffic": {"peak_clients": 0}})
    assert refused.status_code == 400
    assert "traffic.peak_clients" in refused.json()["errors"]
    assert Revision.objects.count() == 1


def test_revision_refuses_a_huge_integer_naming_the_field(client, created, dashboard_answers):
    url = f"{ASSESSMENTS}{created.json()['id']}/revisions/"
    traffic = {"peak_clients": 10**400}
    refused = post(client, url, {"answers": dashboard_answers, "traffic": traffic})
    assert refused.status_code == 400
    assert "must be from 1 to" in refused.json()["errors"]["traffic.peak_clients"]
    assert Revision.objects.count() == 1


# Up messages cost SSE a whole HTTP request each: this plan needs more SSE machines.
CHATTY = {
    "peak_clients": 250_000,
    "events_per_second": 2,
    "payload_bytes": 600,
    "messages_per_second_up": 0.05,
}


def test_capacity_note_says_why_the_recommended_transport_costs_more(client, dashboard_answers):
    document = post(client, ASSESSMENTS, {"answers": dashboard_answers, "traffic": CHATTY}).json()
    plan = document["capacity"]
    assert document["recommendation"] == "sse"
    assert plan["note"].startswith(
        f"At this traffic the recommended transport, SSE, needs {plan['sse']['machines']} "
        f"machines against WebSocket's {plan['websocket']['machines']}, mostly for the "
        "messages sent up"
    )
    again = client.get(f"{ASSESSMENTS}{document['id']}/").json()
    assert again["capacity"]["note"] == plan["note"]


def test_capacity_note_null_when_the_plan_agrees_with_the_verdict(created):
    assert created.json()["capacity"]["note"] is None
