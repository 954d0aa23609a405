"""The capacity plan on the result page and in the PDF report, with and without traffic."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from questionnaire.models import Assessment

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
