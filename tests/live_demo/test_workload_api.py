"""POST /api/workload-runs/: every field checked, nothing stored on a bad request;
a stored run is evidence on the result page, in the PDF's context and in the API."""

from __future__ import annotations

import copy
import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from live_demo.models import WorkloadRun
from live_demo.workload.evidence import disagreements, summary
from questionnaire.models import Assessment
from tests.questionnaire.test_report import pdf_text, squeezed
from workspaces.models import Membership, Role, Workspace

pytestmark = pytest.mark.django_db

RUNS = "/api/workload-runs/"


def side(**changes) -> dict:
    return {
        "events_expected": 40,
        "events_received": 40,
        "lost": 0,
        "down_ms": {"p50": 5, "p95": 9.5, "p99": 12},
        "up_sent": 20,
        "up_answered": 20,
        "up_ms": {"p50": 4, "p95": 8, "p99": 10},
        "bytes_per_event": 520,
        "up_bytes_per_message": 110,
        "recovery_ms": 35,
        **changes,
    }


def document(assessment: Assessment, **changes) -> dict:
    return {
        "assessment": str(assessment.pk),
        "revision": 1,
        "workload": {
            "events_per_second_down": 10,
            "payload_format": "binary",
            "payload_bytes": 2048,
            "messages_per_second_up": 5,
            "answer_budget_ms": 100,
            "duration_s": 4,
        },
        "websocket": side(),
        "sse": side(up_ms={"p50": 40, "p95": 90, "p99": 180}, up_bytes_per_message=610),
        **changes,
    }


@pytest.fixture
def team(chat_answers):
    workspace = Workspace.objects.create(slug="team", name="Team")
    users = {}
    for role in Role.values:
        users[role] = get_user_model().objects.create_user(role)
        Membership.objects.create(workspace=workspace, user=users[role], role=role)
    assessment, _ = Assessment.create_scored("Team chat", chat_answers, workspace=workspace)
    return assessment, users


@pytest.fixture
def editor(team) -> Client:
    client = Client()
    client.force_login(team[1][Role.EDITOR])
    return client


@pytest.fixture
def assessment(team) -> Assessment:
    return team[0]


def post(client: Client, body: object):
    return client.post(RUNS, json.dumps(body), content_type="application/json")


def test_workload_run_stored_for_the_revision(editor, assessment):
    response = post(editor, document(assessment))
    assert response.status_code == 201
    run = WorkloadRun.objects.get()
    assert run.revision == assessment.latest
    assert response.json()["sse"]["up_bytes_per_message"] == 610
    assert editor.get(response["Location"]).json()["id"] == str(run.pk)


def bad(assessment: Assessment, path: str, value: object) -> dict:
    body = copy.deepcopy(document(assessment))
    *parents, last = path.split(".")
    target = body
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("assessment", "not-a-uuid", "assessment"),
        ("assessment", KeyError, "assessment"),
        ("revision", 0, "revision"),
        ("revision", "1", "revision"),
        ("revision", 9, "revision"),
        ("workload", [], "workload"),
        ("workload.payload_format", "xml", "workload.payload_format"),
        ("workload.duration_s", 1000, "workload.duration_s"),
        ("workload.duration_s", "30", "workload.duration_s"),
        ("workload.speed", 1, "workload.speed"),
        ("websocket", "fast", "websocket"),
        ("websocket.lost", -1, "websocket.lost"),
        ("websocket.lost", 41, "websocket.lost"),
        ("websocket.events_received", True, "websocket.events_received"),
        ("websocket.down_ms", None, "websocket.down_ms"),
        ("websocket.down_ms", {"p50": 3, "p95": 2, "p99": 1}, "websocket.down_ms"),
        ("websocket.down_ms.p99", float("inf"), "websocket.down_ms.p99"),
        ("websocket.down_ms.p42", 1, "websocket.down_ms.p42"),
        ("sse.up_answered", 21, "sse.up_answered"),
        ("sse.up_bytes_per_message", "many", "sse.up_bytes_per_message"),
        ("sse.recovery_ms", -5, "sse.recovery_ms"),
        ("sse.bytes_per_event", None, "sse.bytes_per_event"),
        ("sse.extra", 1, "sse.extra"),
        ("sse", KeyError, "sse"),
        ("verdict", "sse", "verdict"),
    ],
)
def test_workload_run_bad_field_400_names_it_and_stores_nothing(
    editor, assessment, path, value, named
):
    body = bad(assessment, path, value)
    # json.dumps writes inf as Infinity, which the API refuses as not JSON at all.
    response = editor.post(RUNS, json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    if path != "websocket.down_ms.p99":
        assert named in response.json()["errors"]
    assert WorkloadRun.objects.count() == 0


def test_workload_run_several_bad_fields_each_named(editor, assessment):
    body = document(assessment, revision=-1, websocket={"lost": "x"})
    errors = post(editor, body).json()["errors"]
    assert {"revision", "websocket.lost", "websocket.down_ms"} <= set(errors)


def test_workload_run_not_json_400(editor):
    response = editor.post(RUNS, "{", content_type="application/json")
    assert response.status_code == 400
    assert WorkloadRun.objects.count() == 0


def test_workload_run_unknown_assessment_404(editor, assessment):
    body = {**document(assessment), "assessment": "00000000-0000-4000-8000-000000000000"}
    assert post(editor, body).status_code == 404


def test_workload_run_viewer_403(team):
    assessment, users = team
    client = Client()
    client.force_login(users[Role.VIEWER])
    assert post(client, document(assessment)).status_code == 403
    assert WorkloadRun.objects.count() == 0


# ---- As evidence --------------------------------------------------------------------


def test_workload_run_shown_on_result_page_at_once(editor, assessment):
    page = editor.get(assessment.get_absolute_url()).content.decode()
    assert "Run my workload" in page
    assert "data-workload-evidence" not in page
    post(editor, document(assessment))
    page = editor.get(assessment.get_absolute_url()).content.decode()
    assert "Measured on your network, your workload: WebSocket p99 12 ms down / 10 ms up" in page
    assert "SSE+POST costs 500 bytes per up message more" in page


def test_workload_run_disagreement_shown(editor, assessment, dashboard_answers):
    sse_assessment, _ = Assessment.create_scored(
        "Dashboard", dashboard_answers, workspace=assessment.workspace
    )
    assert sse_assessment.latest.result["recommendation"] == "sse"
    post(editor, document(sse_assessment))
    page = editor.get(sse_assessment.get_absolute_url()).content.decode()
    assert "data-workload-disagrees" in page
    assert (
        "The verdict is SSE, but its answers to up messages (as HTTP POSTs) took 180 ms at p99"
        in page
    )


def test_workload_run_in_assessment_json(editor, assessment):
    post(editor, document(assessment))
    runs = editor.get(f"/api/assessments/{assessment.pk}/").json()["workload_runs"]
    assert len(runs) == 1
    assert runs[0]["websocket"]["down_ms"]["p99"] == 12
    assert runs[0]["revision"] == 1


def test_workload_run_in_pdf(editor, assessment):
    post(editor, document(assessment))
    response = editor.get(f"/assessments/{assessment.pk}/report.pdf")
    assert response.status_code == 200
    text = squeezed(pdf_text(response.content))
    assert squeezed("Evidence: your workload, measured") in text
    assert squeezed("WebSocket p99 12 ms down / 10 ms up") in text


def test_workload_run_pdf_template_renders_the_evidence(editor, assessment):
    from django.template.loader import render_to_string

    post(editor, document(assessment))
    from live_demo.workload.evidence import workload_evidence

    html = render_to_string(
        "live_demo/_workload_evidence.html",
        {"workload_runs": workload_evidence(assessment.latest), "level": 3},
    )
    assert "<h3" in html
    assert "WebSocket p99 12 ms down" in html


def test_summary_without_up_messages_says_only_down():
    measurement = {"websocket": side(up_ms=None), "sse": side(up_ms=None)}
    workload = {"messages_per_second_up": 0, "answer_budget_ms": 100}
    text = summary(
        {**measurement, "websocket": {**measurement["websocket"], "up_bytes_per_message": None}},
        workload,
    )
    assert (
        text
        == "Measured on your network, your workload: WebSocket p99 12 ms down, SSE p99 12 ms down."
    )


def test_disagreement_when_websocket_verdict_loses_events():
    measurement = {"websocket": side(lost=3), "sse": side()}
    workload = {"messages_per_second_up": 0, "answer_budget_ms": 1000}
    assert disagreements(measurement, workload, "websocket") == [
        "The verdict is WebSocket, but 3 events were lost across the drop: "
        "the resume did not replay everything."
    ]


def test_no_disagreement_when_both_miss_the_budget():
    slow = {"p50": 500, "p95": 900, "p99": 1200}
    measurement = {"websocket": side(up_ms=slow), "sse": side(up_ms=slow)}
    workload = {"messages_per_second_up": 5, "answer_budget_ms": 100}
    assert disagreements(measurement, workload, "sse") == []


def test_disagreement_down_path_judged_at_p95_not_the_drops_p99():
    # SSE's reconnect delays a few events: p99 over budget, p95 within it.
    dropped = {"p50": 20, "p95": 80, "p99": 600}
    measurement = {"websocket": side(), "sse": side(down_ms=dropped)}
    workload = {"messages_per_second_up": 0, "answer_budget_ms": 100}
    assert disagreements(measurement, workload, "sse") == []
    slow = {"p50": 90, "p95": 250, "p99": 600}
    measurement["sse"]["down_ms"] = slow
    assert disagreements(measurement, workload, "sse") == [
        "The verdict is SSE, but its events down took 250 ms at p95, "
        "over the 100 ms your answers allow, where WebSocket kept it (10 ms)."
    ]


def test_workload_run_in_the_audit_log(editor, assessment):
    from workspaces.models import AuditAction, AuditEvent

    run_id = post(editor, document(assessment)).json()["id"]
    event = AuditEvent.objects.get(action=AuditAction.WORKLOAD_RUN_STORED)
    assert (event.actor, event.object_id, event.workspace) == (
        "editor",
        run_id,
        assessment.workspace,
    )
    assert event.detail == {"assessment": str(assessment.pk), "revision": 1}
