"""HEAD on every page and endpoint that answers GET: monitors and link checkers ask with it."""

from __future__ import annotations

import http.client
import uuid
from unittest import mock
from urllib.parse import urlsplit

import pytest

from network_check.models import NetworkCheck
from questionnaire import report
from questionnaire.models import Assessment
from tests.network_check.measurements import measurement

pytestmark = pytest.mark.django_db

UNKNOWN = uuid.UUID(int=1)

# Every GET URL of the site with the answers that matter (found, not found,
# malformed), formatted with the ids of the ``stored`` fixture. The SSE and
# WebSocket routes are served ahead of Django and have tests of their own.
GET_URLS = [
    "/",
    "/assessments/new/",
    "/assessments/new/?preset=chat",
    "/assessments/new/?network_check={check}",
    "/assessments/{assessment}/",
    "/assessments/{assessment}/?revision=1",
    "/assessments/{assessment}/?revision=9",
    f"/assessments/{UNKNOWN}/",
    "/assessments/{assessment}/edit/",
    f"/assessments/{UNKNOWN}/edit/",
    "/assessments/{assessment}/report.pdf",
    "/assessments/{assessment}/report.pdf?revision=1&paper=letter",
    "/assessments/{assessment}/report.pdf?revision=9",
    "/assessments/{assessment}/report.pdf?paper=a3",
    f"/assessments/{UNKNOWN}/report.pdf",
    "/api/questions/",
    "/api/assessments/{assessment}/",
    "/api/assessments/{assessment}/?revision=1",
    "/api/assessments/{assessment}/?revision=9",
    "/api/assessments/{assessment}/?revision=x",
    f"/api/assessments/{UNKNOWN}/",
    "/api/network-checks/{check}/",
    f"/api/network-checks/{UNKNOWN}/",
    "/demo/",
    "/demo/stats/",
    "/network-check/",
    "/network-check/{check}/evidence/",
    "/network-check/{check}/evidence/?mode=wizard",
    "/network-check/{check}/evidence/?mode=other",
    f"/network-check/{UNKNOWN}/evidence/",
    # Refused alike: a POST-only endpoint and the leaning partial, a page not found.
    "/api/assessments/",
    "/api/network-checks/",
    "/assessments/leaning/",
    "/nothing-here/",
    "/api/nothing-here/",
]


def body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


@pytest.fixture(autouse=True)
def no_redis(settings) -> None:
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "REDIS_URL": ""}


@pytest.fixture
def stored(chat_answers) -> dict[str, str]:
    check = NetworkCheck.objects.create(measurement=measurement(), user_agent="")
    assessment, _ = Assessment.create_scored("Team chat", chat_answers, network_check=check)
    assessment.revise("Renamed chat", {**chat_answers, "client_messages": "none"})
    return {"assessment": str(assessment.pk), "check": str(check.pk)}


@pytest.mark.parametrize("url", GET_URLS)
def test_head_answers_as_get_does_without_a_body(client, stored, url):
    url = url.format(**stored)

    get = client.get(url)
    head = client.head(url)

    assert (head.status_code, head.get("Content-Type")) == (get.status_code, get["Content-Type"])
    assert body(head) == b""


def test_head_is_allowed_on_a_get_page(client, stored):
    # 405 is what require_GET gave HEAD.
    assert client.head(f"/assessments/{stored['assessment']}/").status_code == 200


@pytest.mark.parametrize(
    "url", ["/api/questions/", "/api/assessments/{assessment}/", "/api/network-checks/{check}/"]
)
def test_api_405_lists_head_with_get(client, stored, url):
    response = client.delete(url.format(**stored))

    assert (response.status_code, response["Allow"]) == (405, "GET, HEAD")
    assert "use GET, HEAD" in response.json()["errors"]["method"]


def test_head_on_a_post_only_endpoint_is_405(client):
    # The assessments' collection answers GET now (its list); the network
    # checks' is still POST only.
    response = client.head("/api/network-checks/")

    assert (response.status_code, response["Allow"]) == (405, "POST")


# --- The PDF: HEAD tells what GET would send without rendering it ---------------------


@pytest.fixture
def renderer(monkeypatch) -> mock.Mock:
    render = mock.Mock(side_effect=AssertionError("HEAD must not render the report"))
    monkeypatch.setattr(report, "render_report", render)
    return render


def test_head_on_report_does_not_render(client, stored, renderer):
    response = client.head(f"/assessments/{stored['assessment']}/report.pdf?revision=1")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        'attachment; filename="team-chat-websocket-vs-sse.pdf"'
    )
    renderer.assert_not_called()


def test_head_on_report_claims_no_empty_length(client, stored, renderer):
    # The length is unknown until the PDF is rendered: saying 0 would tell a
    # download manager the file is empty.
    response = client.head(f"/assessments/{stored['assessment']}/report.pdf")

    assert "Content-Length" not in response


def test_head_on_report_of_unknown_assessment_404(client, renderer):
    assert client.head(f"/assessments/{UNKNOWN}/report.pdf").status_code == 404
    renderer.assert_not_called()


def test_head_on_report_of_unknown_revision_404(client, stored, renderer):
    url = f"/assessments/{stored['assessment']}/report.pdf?revision=9"

    assert client.head(url).status_code == 404


def test_head_on_report_with_unknown_paper_400(client, stored, renderer):
    url = f"/assessments/{stored['assessment']}/report.pdf?paper=a3"

    assert client.head(url).status_code == 400


def test_head_on_report_through_daphne(live_server_url, chat_answers):
    """Over the wire (the test client drops HEAD bodies itself): GET's headers, no body."""
    assessment, _ = Assessment.create_scored("Team chat", chat_answers)
    address = urlsplit(live_server_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    path = f"/assessments/{assessment.pk}/report.pdf"
    try:
        connection.request("HEAD", path)
        head = connection.getresponse()
        head_body = head.read()
        connection.request("GET", path)
        get = connection.getresponse()
        pdf = get.read()
    finally:
        connection.close()

    assert (head.status, head.getheader("Content-Type")) == (200, "application/pdf")
    assert head.getheader("Content-Disposition") == get.getheader("Content-Disposition")
    assert head.getheader("Content-Length") is None
    assert head_body == b""
    assert (get.status, pdf[:5]) == (200, b"%PDF-")
