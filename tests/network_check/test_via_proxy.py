"""Measuring through a real buffering proxy (network_check/via.py): the probe believes
X-Advisor-Via only from a trusted proxy, and the check is stored as a proxy's run only
with the receipt the probe gave."""

from __future__ import annotations

import json
import time
from unittest.mock import patch

import pytest
from asgiref.testing import ApplicationCommunicator
from django.test import Client

from advisor.asgi import application
from network_check import via
from network_check.models import NetworkCheck
from tests.network_check.measurements import measurement

CHECKS = "/api/network-checks/"
PROXY = "127.0.0.1"
# Buffered: all ten events within a few milliseconds, as a buffering proxy delivers them.
BUFFERED_SSE = {
    "status": "ok",
    "events_expected": 10,
    "interval_ms": 200,
    "arrivals_ms": [1800 + n for n in range(10)],
}


async def probe_done(peer: str, headers: dict[str, str]) -> dict:
    """The done event's data of a short probe burst, sent from ``peer``."""
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/network-check/events/",
        "raw_path": b"/network-check/events/",
        "query_string": b"count=2&interval_ms=50",
        "headers": [(b"host", b"127.0.0.1")]
        + [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": (peer, 50000),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(5)
    assert start["status"] == 200
    body = b""
    while True:
        message = await communicator.receive_output(5)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(5)
    text = body.decode()
    data = text.split("event: done\n", 1)[1].split("data: ", 1)[1].split("\n", 1)[0]
    return json.loads(data)


def post(client: Client, document: dict):
    return client.post(CHECKS, json.dumps(document), content_type="application/json")


# The probe ----------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_probe_through_trusted_proxy_gives_receipt(settings):
    settings.TRUSTED_PROXIES = [PROXY]
    done = await probe_done(PROXY, {"X-Advisor-Via": "buffering-proxy"})
    assert done["of"] == 2
    assert done["via"] == "buffering-proxy"
    burst = {"events_expected": 2, "interval_ms": 50}
    assert via.receipt_problems("buffering-proxy", done["receipt"], burst) == {}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_probe_ignores_header_from_untrusted_peer(settings):
    settings.TRUSTED_PROXIES = [PROXY]
    done = await probe_done("203.0.113.9", {"X-Advisor-Via": "buffering-proxy"})
    assert done == {"of": 2}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_probe_ignores_header_without_trusted_proxies(settings):
    settings.TRUSTED_PROXIES = []
    done = await probe_done(PROXY, {"X-Advisor-Via": "buffering-proxy"})
    assert done == {"of": 2}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_probe_ignores_other_via_values(settings):
    settings.TRUSTED_PROXIES = [PROXY]
    done = await probe_done(PROXY, {"X-Advisor-Via": "something-else"})
    assert done == {"of": 2}


# Storing the run -------------------------------------------------------------------


def through_proxy(**parts) -> dict:
    document = {
        "sse": BUFFERED_SSE,
        "via": "buffering-proxy",
        "via_receipt": via.receipt("buffering-proxy", 10, 200),
        **parts,
    }
    return measurement(**document)


@pytest.mark.django_db
def test_run_through_proxy_stored_as_real(client):
    response = post(client, through_proxy())
    assert response.status_code == 201
    document = response.json()
    assert document["via"] == "buffering-proxy"
    assert document["via_notice"].startswith("Measured through a real buffering proxy")
    assert document["simulation_notice"] is None
    delivery = next(f for f in document["findings"] if f["key"] == "sse_delivery")
    assert delivery["value"].startswith("Buffered: 10 of 10 events")
    assert delivery["value"].endswith("(measured through a real buffering proxy)")
    stored = NetworkCheck.objects.get().measurement
    # The receipt proved the run; it is not kept.
    assert stored["via"] == "buffering-proxy"
    assert "via_receipt" not in stored


@pytest.mark.django_db
def test_ordinary_run_not_labelled(client):
    document = post(client, measurement()).json()
    assert (document["via"], document["via_notice"]) == (None, None)


@pytest.mark.django_db
def test_run_through_proxy_evidence_says_so(client):
    check_id = post(client, through_proxy()).json()["id"]
    page = client.get(f"/network-check/{check_id}/evidence/").content.decode()
    assert "Measured through a real buffering proxy" in page
    assert "measured through a real buffering proxy)" in page
    assert "Simulated run" not in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("parts", "field"),
    [
        ({"via_receipt": "buffering-proxy:1abc:forged"}, "via_receipt"),
        ({"via_receipt": via.receipt("elsewhere", 10, 200)}, "via_receipt"),
        ({"via_receipt": via.receipt("buffering-proxy", 2, 200)}, "sse.events_expected"),
        ({"via_receipt": via.receipt("buffering-proxy", 10, 50)}, "sse.interval_ms"),
        ({"via_receipt": None}, "via_receipt"),
        ({"via_receipt": "x" * 201}, "via_receipt"),
        ({"via": "a-proxy"}, "via"),
        ({"simulated": ["buffering"]}, "via"),
    ],
    ids=[
        "forged",
        "other-via",
        "other-count",
        "other-interval",
        "missing",
        "too-long",
        "unknown-via",
        "also-simulated",
    ],
)
def test_run_through_proxy_refused_without_valid_receipt(client, parts, field):
    document = through_proxy()
    document.update(parts)
    response = post(client, document)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {field}
    assert NetworkCheck.objects.count() == 0


@pytest.mark.django_db
def test_receipt_alone_refused(client):
    document = measurement(via_receipt=via.receipt("buffering-proxy", 10, 200))
    response = post(client, document)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"via"}


@pytest.mark.django_db
def test_expired_receipt_refused(client):
    receipt = via.receipt("buffering-proxy", 10, 200)
    with patch("time.time", return_value=time.time() + via.RECEIPT_MAX_AGE + 5):
        response = post(client, through_proxy(via_receipt=receipt))
    assert response.status_code == 400
    assert "has expired" in response.json()["errors"]["via_receipt"]
    assert NetworkCheck.objects.count() == 0


@pytest.mark.django_db
def test_receipt_taken_once(client):
    document = through_proxy()
    assert post(client, document).status_code == 201
    again = post(client, document)
    assert again.status_code == 400
    assert "has been used already" in again.json()["errors"]["via_receipt"]
    assert NetworkCheck.objects.count() == 1


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_probe_receipt_proves_its_own_burst_only(settings):
    settings.TRUSTED_PROXIES = [PROXY]
    done = await probe_done(PROXY, {"X-Advisor-Via": "buffering-proxy"})
    # The probe sent 2 events 50 ms apart: a run of 10 at 200 ms is not it.
    ten = {"events_expected": 10, "interval_ms": 200}
    assert set(via.receipt_problems("buffering-proxy", done["receipt"], ten)) == {
        "sse.events_expected",
        "sse.interval_ms",
    }


# The page ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_page_offers_proxy_run_when_configured(client, settings):
    settings.ADVISOR_BUFFERING_PROBE_PREFIX = "/via-buffering-proxy"
    page = client.get("/network-check/").content.decode()
    assert "Measure through a buffering proxy" in page
    assert 'data-buffering-prefix="/via-buffering-proxy"' in page


@pytest.mark.django_db
def test_page_without_proxy_offers_nothing(client, settings):
    settings.ADVISOR_BUFFERING_PROBE_PREFIX = ""
    page = client.get("/network-check/").content.decode()
    assert "Measure through a buffering proxy" not in page
    assert "data-buffering-prefix" not in page
