"""The capacity plan on the result page and in the PDF report, with and without traffic."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import get_user_model
from pypdf import PdfReader

from questionnaire.models import Assessment
from workspaces.models import Membership, Role, Workspace

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TAG = re.compile(r"<[^>]*>")
EXPONENT = re.compile(r"\d[eE][-+]\d")

pytestmark = pytest.mark.django_db

TRAFFIC = {"peak_clients": 100_000, "events_per_second": 10.0, "payload_bytes": 2048}


@pytest.fixture
def planned(chat_answers) -> Assessment:
    assessment, _ = Assessment.create_scored("Team chat", chat_answers, traffic=TRAFFIC)
    return assessment


@pytest.fixture
def unplanned(chat_answers) -> Assessment:
    assessment, _ = Assessment.create_scored("Team chat", chat_answers)
    return assessment


def page(client, assessment) -> str:
    response = client.get(assessment.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def pdf_text(client, assessment) -> str:
    response = client.get(f"/assessments/{assessment.pk}/report.pdf")
    reader = PdfReader(io.BytesIO(response.content))
    return " ".join(" ".join(p.extract_text().split()) for p in reader.pages)


def test_page_shows_the_plan_for_both_transports(client, planned):
    html = page(client, planned)
    plan = planned.latest.result["capacity"]
    assert "Capacity plan: how many servers for this traffic" in html
    assert '<th scope="row">Machines</th>' in html
    machines = [plan[t]["machines"] for t in ("websocket", "sse")]
    row = html.split('<th scope="row">Machines</th>')[1].split("</tr>")[0]
    assert [f'<td class="num">{m}</td>' in row for m in machines] == [True, True]


def test_page_chart_has_a_text_alternative_and_a_data_table(client, planned):
    html = page(client, planned)
    assert 'class="capacity-chart" role="img"' in html
    assert "10,000,000 clients: WebSocket" in html
    assert "<caption>Machines needed, same traffic per client</caption>" in html
    # Told apart by more than colour: a dashed line and square markers for SSE.
    assert "SSE: dashed line, squares" in html


def test_page_states_the_assumptions_and_the_benchmark(client, planned):
    html = page(client, planned)
    assert "Assumptions and where the costs come from" in html
    assert "docs/benchmarks.md" in html
    assert "daphne 4.2.3" in html


def test_page_without_traffic_says_how_to_get_a_plan(client, unplanned):
    html = page(client, unplanned)
    assert "No traffic figures were given with these answers." in html
    assert "capacity-chart" not in html


def test_report_has_the_plan_appendix(client, planned):
    text = pdf_text(client, planned)
    assert "Appendix: capacity plan" in text
    assert "Cost against connected clients, up to 10 million" in text


def test_report_without_traffic_has_no_plan(client, unplanned):
    assert "capacity plan" not in pdf_text(client, unplanned)


def test_an_older_revision_keeps_its_own_plan(client, planned, chat_answers):
    planned.revise("Team chat", chat_answers)
    older = client.get(planned.get_absolute_url() + "?revision=1").content.decode()
    newer = page(client, planned)
    assert "capacity-chart" in older
    assert "No traffic figures were given" in newer


def planned_with(chat_answers, **traffic) -> Assessment:
    assessment, _ = Assessment.create_scored("Feed", chat_answers, traffic=traffic)
    return assessment


def test_page_sizes_are_all_binary_units(client, planned):
    html = page(client, planned)
    assert "32.0 GiB" in html
    assert not any(unit in html for unit in (" GB", " MB", " KB"))


def test_page_writes_tiny_rates_without_an_exponent(client, chat_answers):
    html = page(client, planned_with(chat_answers, peak_clients=10, events_per_second=1e-09))
    assert "0.000000001 events a second" in html
    # Ids and nonces are random and may hold "e-0" themselves ("...bade-03d6..."): look at
    # the page's text, without tags or ids, for a digit, an "e" and a signed exponent.
    text = UUID.sub(" ", TAG.sub(" ", html))
    assert not EXPONENT.search(text), EXPONENT.search(text)


def test_page_says_one_client_in_the_singular(client, chat_answers):
    html = page(client, planned_with(chat_answers, peak_clients=1, events_per_second=1.0))
    assert "1 connected client," in html
    assert "1 event a second" in html


def test_page_counts_load_balancers_with_separators(client, chat_answers):
    html = page(client, planned_with(chat_answers, peak_clients=1_000_000_000))
    assert "2,000 (500,000)" in html


def test_page_says_when_one_client_is_too_big(client, chat_answers):
    huge = planned_with(
        chat_answers, peak_clients=2, events_per_second=10_000, payload_bytes=1_000_000
    )
    html = page(client, huge)
    assert "this traffic cannot be served as planned" in html
    assert "more than a machine&#x27;s network card" in html


# Up messages cost SSE a whole HTTP request each: this plan needs more SSE machines.
CHATTY = {
    "peak_clients": 250_000,
    "events_per_second": 2.0,
    "payload_bytes": 600,
    "messages_per_second_up": 0.05,
}


@pytest.fixture
def dearer_verdict(dashboard_answers) -> Assessment:
    assessment, _ = Assessment.create_scored("Dashboard", dashboard_answers, traffic=CHATTY)
    assert assessment.recommendation == "sse"
    return assessment


def test_page_says_why_the_recommended_transport_needs_more_machines(client, dearer_verdict):
    html = page(client, dearer_verdict)
    plan = dearer_verdict.latest.result["capacity"]
    assert (
        f"the recommended transport, SSE, needs {plan['sse']['machines']} machines against "
        f"WebSocket&#x27;s {plan['websocket']['machines']}, mostly for the messages sent up"
    ) in html
    assert "if cost at this scale decides, weigh this plan beside it." in html


def test_report_says_why_the_recommended_transport_needs_more_machines(client, dearer_verdict):
    text = pdf_text(client, dearer_verdict)
    assert "the recommended transport, SSE, needs" in text
    assert "mostly for the messages sent up" in text


def test_page_has_no_note_when_the_plan_agrees_with_the_verdict(client, planned):
    assert "capacity-note" not in page(client, planned)


def test_page_states_what_the_costs_leave_out(client, planned):
    html = page(client, planned)
    assert "This is the plain path" in html
    assert "its CPU (encryption, handshakes) is not" in html
    assert "not measured yet and not counted" in html
    assert "socket buffers come on top" in html


@pytest.fixture
def team(db) -> dict:
    workspace = Workspace.objects.create(slug="team", name="Team")
    users = {}
    for role in (Role.EDITOR, Role.VIEWER):
        users[role] = get_user_model().objects.create_user(str(role))
        Membership.objects.create(workspace=workspace, user=users[role], role=role)
    return {"workspace": workspace, **users}


def test_page_without_traffic_links_an_editor_to_add_it(client, team, chat_answers):
    assessment, _ = Assessment.create_scored(
        "Feed", chat_answers, workspace=team["workspace"], created_by=team[Role.EDITOR]
    )
    client.force_login(team[Role.EDITOR])
    html = page(client, assessment)
    assert f'href="/assessments/{assessment.pk}/edit/#traffic">Add peak clients' in html


def test_page_without_traffic_offers_a_viewer_no_link(client, team, chat_answers):
    assessment, _ = Assessment.create_scored(
        "Feed", chat_answers, workspace=team["workspace"], created_by=team[Role.EDITOR]
    )
    client.force_login(team[Role.VIEWER])
    html = page(client, assessment)
    assert "No traffic figures were given with these answers." in html
    assert "Add peak clients" not in html


def test_a_plan_saved_with_the_demo_delivery_cost_says_so(client, planned):
    revision = planned.latest
    costs = revision.result["capacity"]["assumptions"]["costs"]
    del costs["demo_delivery_cpu_seconds"]
    revision.save(update_fields=["result"])
    html = page(client, planned)
    assert "This is the plain path" not in html
    assert "saved before plans used the plain path" in html
