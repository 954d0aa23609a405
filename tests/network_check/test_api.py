from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client, override_settings

from network_check.models import NetworkCheck
from questionnaire.models import Assessment
from tests.network_check.measurements import measurement

pytestmark = pytest.mark.django_db

CHECKS = "/api/network-checks/"
ASSESSMENTS = "/api/assessments/"
MAX_BODY = 16 * 1024
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36"
BLOCKED = {
    "websocket": {"status": "blocked", "close_code": 1006, "rtt_ms": []},
}


def post_body(client: Client, body: bytes | str, url: str = CHECKS, **headers: str):
    return client.post(url, data=body, content_type="application/json", headers=headers)


def post_json(client: Client, document: object, url: str = CHECKS, **headers: str):
    return post_body(client, json.dumps(document), url, **headers)


def rejection(response) -> tuple[int, str, set[str], int]:
    """What a client notices of a refused check: status, JSON, fields named, nothing saved."""
    return (
        response.status_code,
        response["Content-Type"],
        set(response.json()["errors"]),
        NetworkCheck.objects.count(),
    )


@pytest.fixture
def stored(client):
    return post_json(client, measurement(**BLOCKED), **{"User-Agent": BROWSER})


@pytest.fixture
def check(stored) -> NetworkCheck:
    return NetworkCheck.objects.get()


# --- POST /api/network-checks/ --------------------------------------------------------


def test_store_created(stored):
    assert (stored.status_code, NetworkCheck.objects.count()) == (201, 1)


def test_store_location_is_the_document(client, stored):
    fetched = client.get(stored["Location"])

    assert (fetched.status_code, fetched.json()) == (200, stored.json())


def test_store_document_fields(stored, check):
    document = stored.json()

    assert (set(document), document["id"], document["url"]) == (
        {
            "id",
            "url",
            "created_at",
            "user_agent",
            "measurement",
            "simulated",
            "simulation_notice",
            "via",
            "via_notice",
            "findings",
            "suggestions",
        },
        str(check.pk),
        f"http://testserver/api/network-checks/{check.pk}/",
    )


def test_store_keeps_the_cleaned_measurement(check):
    assert check.measurement == measurement(**BLOCKED)


def test_store_records_user_agent(stored, check):
    assert (stored.json()["user_agent"], check.user_agent) == (BROWSER, BROWSER)


def test_store_truncates_long_user_agent(client):
    post_json(client, measurement(), **{"User-Agent": "A" * 2000})

    assert NetworkCheck.objects.get().user_agent == "A" * 512


def test_store_without_user_agent(client):
    response = post_json(client, measurement())

    assert (response.status_code, response.json()["user_agent"]) == (201, "")


def test_store_findings_shape(stored):
    findings = stored.json()["findings"]

    assert [(set(f), f["key"]) for f in findings][:1] == [
        ({"key", "title", "value", "meaning", "ok"}, "websocket_upgrade")
    ]


def test_store_blocked_finding(stored):
    upgrade = stored.json()["findings"][0]

    assert (upgrade["value"], upgrade["ok"]) == ("Blocked (close code 1006)", False)


def test_store_blocked_suggests_strict(stored):
    suggestion = stored.json()["suggestions"][0]

    assert (set(suggestion), suggestion["question"], suggestion["value"]) == (
        {"question", "value", "label", "finding", "meaning"},
        "middleboxes",
        "strict",
    )


def test_store_open_path_suggestions(client, catalogue):
    suggestions = post_json(client, measurement()).json()["suggestions"]
    expected = {"middleboxes": "open", "http_version": "http2"}
    if catalogue.question("stream_buffering"):
        expected["stream_buffering"] = "streamed"

    assert {s["question"]: s["value"] for s in suggestions} == expected


def test_store_buffered_suggests_stream_buffering(client, catalogue):
    if catalogue.question("stream_buffering") is None:
        pytest.skip("the catalogue does not ask stream_buffering yet")
    buffered = {**measurement()["sse"], "arrivals_ms": [1800.5] * 10}
    suggestions = post_json(client, measurement(sse=buffered)).json()["suggestions"]

    assert {s["question"]: s["value"] for s in suggestions}["stream_buffering"] == "buffered"


# --- Simulated runs ----------------------------------------------------------------------

SIMULATED_BLOCKED = {**BLOCKED, "simulated": ["blocked"]}


def test_store_real_run_is_not_labelled_simulated(stored):
    document = stored.json()

    assert (document["simulated"], document["simulation_notice"]) == ([], None)


def test_store_simulated_run_keeps_the_simulations(client):
    post_json(client, measurement(**SIMULATED_BLOCKED))

    assert NetworkCheck.objects.get().measurement["simulated"] == ["blocked"]


def test_store_simulated_run_says_not_evidence(client):
    document = post_json(client, measurement(**SIMULATED_BLOCKED)).json()

    assert (document["simulated"], document["simulation_notice"]) == (
        ["blocked"],
        "Simulated run (blocked): not evidence about your network.",
    )


def test_store_simulated_run_still_suggests(client):
    document = post_json(client, measurement(**SIMULATED_BLOCKED)).json()

    assert document["suggestions"][0]["value"] == "strict"


def test_get_simulated_run_says_not_evidence(client):
    created = post_json(client, measurement(simulated=["buffering"]))

    assert client.get(created["Location"]).json()["simulation_notice"] == (
        "Simulated run (buffering): not evidence about your network."
    )


def test_assessment_document_labels_simulated_check(client, chat_answers):
    created = post_json(client, measurement(**SIMULATED_BLOCKED)).json()
    assessment = post_json(
        client, {"answers": chat_answers, "network_check": created["id"]}, ASSESSMENTS
    ).json()

    assert assessment["network_check"]["simulation_notice"].startswith("Simulated run (blocked)")


@pytest.mark.parametrize(
    "simulated", [["slow"], ["blocked", "blocked"], "blocked", [True], None, {"blocked": 1}]
)
def test_reject_bad_simulated(client, simulated):
    assert rejection(post_json(client, measurement(simulated=simulated))) == (
        400,
        "application/json",
        {"simulated"},
        0,
    )


# --- Rejections: nothing stored -------------------------------------------------------


def test_reject_out_of_range_measurement(client):
    sse = {**measurement()["sse"], "interval_ms": 5000}

    assert rejection(post_json(client, measurement(sse=sse))) == (
        400,
        "application/json",
        {"sse.interval_ms"},
        0,
    )


def test_reject_malformed_measurement(client):
    assert rejection(post_json(client, measurement(websocket="ok"))) == (
        400,
        "application/json",
        {"websocket"},
        0,
    )


def test_reject_unknown_key(client):
    assert rejection(post_json(client, {**measurement(), "gps": [0, 0]})) == (
        400,
        "application/json",
        {"gps"},
        0,
    )


def test_reject_missing_part(client):
    document = measurement()
    del document["sse_streams"]

    assert rejection(post_json(client, document)) == (400, "application/json", {"sse_streams"}, 0)


def test_reject_invalid_json(client):
    assert rejection(post_body(client, '{"websocket": ')) == (400, "application/json", {"body"}, 0)


def test_reject_bad_utf8(client):
    assert rejection(post_body(client, b'{"http_version": "\xff"}')) == (
        400,
        "application/json",
        {"body"},
        0,
    )


def test_reject_non_object_body(client):
    assert rejection(post_json(client, [measurement()])) == (400, "application/json", {"body"}, 0)


def test_reject_nan_round_trip(client):
    body = json.dumps(measurement()).replace("[4, 5.5, 6, 30]", "[4, NaN]")

    assert rejection(post_body(client, body)) == (
        400,
        "application/json",
        {"websocket.rtt_ms"},
        0,
    )


def test_reject_body_over_16_kib(client):
    document = {**measurement(), "padding": "x" * MAX_BODY}

    assert rejection(post_json(client, document)) == (413, "application/json", {"body"}, 0)


def test_accept_body_just_under_the_limit(client):
    # Spaces after the JSON are still JSON: the limit is on bytes, not on content.
    body = json.dumps(measurement())
    body += " " * (MAX_BODY - len(body))

    assert post_body(client, body).status_code == 201


def test_reject_declared_length_over_the_limit(client):
    response = client.generic(
        "POST",
        CHECKS,
        json.dumps(measurement()),
        content_type="application/json",
        headers={"Content-Length": str(MAX_BODY + 1)},
    )

    assert (response.status_code, NetworkCheck.objects.count()) == (413, 0)


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_collection_wrong_method_405(client, method):
    response = getattr(client, method)(CHECKS)

    assert (response.status_code, response["Allow"], set(response.json()["errors"])) == (
        405,
        "POST",
        {"method"},
    )


def test_store_needs_no_csrf_token():
    strict = Client(enforce_csrf_checks=True)

    assert post_json(strict, measurement()).status_code == 201


# --- GET /api/network-checks/<id>/ ------------------------------------------------------


def test_get_check(client, check):
    document = client.get(f"{CHECKS}{check.pk}/").json()

    assert (document["id"], document["measurement"]) == (str(check.pk), check.measurement)


def test_get_unknown_check_404(client):
    response = client.get(f"{CHECKS}{uuid.uuid4()}/")

    assert (response.status_code, set(response.json()["errors"])) == (404, {"id"})


def test_get_malformed_id_404_json(client):
    response = client.get(f"{CHECKS}not-a-uuid/")

    assert (response.status_code, response["Content-Type"]) == (404, "application/json")


def test_detail_post_405(client, check):
    response = post_json(client, measurement(), f"{CHECKS}{check.pk}/")

    assert (response.status_code, response["Allow"], NetworkCheck.objects.count()) == (
        405,
        "GET, HEAD",
        1,
    )


# --- Assessments with a network check ---------------------------------------------------


def test_assessment_links_check(client, chat_answers, check):
    response = post_json(
        client, {"answers": chat_answers, "network_check": str(check.pk)}, ASSESSMENTS
    )

    assert (response.status_code, Assessment.objects.get().latest.network_check) == (201, check)


def test_assessment_document_holds_check(client, chat_answers, check):
    created = post_json(
        client, {"answers": chat_answers, "network_check": str(check.pk)}, ASSESSMENTS
    )
    fetched = client.get(created["Location"]).json()

    assert (
        created.json()["network_check"]["id"],
        fetched["network_check"]["suggestions"][0]["value"],
    ) == (str(check.pk), "strict")


def test_assessment_without_check_has_null(client, chat_answers):
    document = post_json(client, {"answers": chat_answers}, ASSESSMENTS).json()

    assert document["network_check"] is None


def test_assessment_null_check_accepted(client, chat_answers):
    response = post_json(client, {"answers": chat_answers, "network_check": None}, ASSESSMENTS)

    assert (response.status_code, response.json()["network_check"]) == (201, None)


@pytest.mark.parametrize("value", ["not-a-uuid", 42, "", ["x"], {"id": "x"}])
def test_assessment_malformed_check_400(client, chat_answers, value):
    response = post_json(client, {"answers": chat_answers, "network_check": value}, ASSESSMENTS)

    assert (response.status_code, set(response.json()["errors"]), Assessment.objects.count()) == (
        400,
        {"network_check"},
        0,
    )


def test_assessment_unknown_check_400(client, chat_answers):
    missing = str(uuid.uuid4())
    response = post_json(client, {"answers": chat_answers, "network_check": missing}, ASSESSMENTS)

    assert (
        response.status_code,
        response.json()["errors"]["network_check"],
        Assessment.objects.count(),
    ) == (400, f"no network check with id {missing}", 0)


def test_assessment_bad_check_reported_with_other_errors(client):
    response = post_json(client, {"answers": {}, "network_check": "nope"}, ASSESSMENTS)

    assert {"network_check", "answers.client_messages"} <= set(response.json()["errors"])


def test_deleting_check_keeps_assessment(client, chat_answers, check):
    post_json(client, {"answers": chat_answers, "network_check": str(check.pk)}, ASSESSMENTS)
    check.delete()
    document = client.get(f"{ASSESSMENTS}{Assessment.objects.get().pk}/").json()

    assert (document["revision"], document["network_check"]) == (1, None)


# --- Access: where a check goes, who reads it ------------------------------------------------


@pytest.fixture
def ops_editor(django_user_model):
    from workspaces.models import ApiToken, Membership, Workspace

    ops = Workspace.objects.create(slug="ops", name="Ops")
    sales = Workspace.objects.create(slug="sales", name="Sales")
    user = django_user_model.objects.create_user("editor")
    Membership.objects.create(workspace=ops, user=user, role="editor")
    _, secret = ApiToken.issue(user, ops)
    return {"Authorization": f"Bearer {secret}"}, ops, sales


def test_store_with_token_goes_into_its_workspace(client, ops_editor):
    headers, ops, _ = ops_editor

    post_json(client, measurement(), **headers)

    assert NetworkCheck.objects.get().workspace == ops


def test_store_is_audited(client, ops_editor):
    from workspaces.models import AuditEvent

    headers, ops, _ = ops_editor
    post_json(client, measurement(), **headers)

    assert AuditEvent.objects.get().action == "network_check_created"


def test_store_refused_for_viewer(client, ops_editor):
    from workspaces.models import Membership

    headers, _, _ = ops_editor
    Membership.objects.update(role="viewer")

    response = post_json(client, measurement(), **headers)

    assert (response.status_code, NetworkCheck.objects.count()) == (403, 0)


def test_get_other_workspace_check_is_404_like_unknown(client, ops_editor):
    headers, _, sales = ops_editor
    check = NetworkCheck.objects.create(measurement=measurement(), workspace=sales)

    response = client.get(f"{CHECKS}{check.pk}/", headers=headers)

    assert (response.status_code, response.json()) == (
        404,
        {"errors": {"id": f"no network check with id {check.pk}"}},
    )


def test_assessment_cannot_link_other_workspace_check(client, ops_editor, chat_answers):
    headers, _, sales = ops_editor
    check = NetworkCheck.objects.create(measurement=measurement(), workspace=sales)
    document = {"answers": chat_answers, "network_check": str(check.pk)}

    response = client.post(
        "/api/assessments/", json.dumps(document), content_type="application/json", headers=headers
    )

    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"network_check": f"no network check with id {check.pk}"},
    )


@override_settings(ADVISOR_ANONYMOUS=False)
def test_store_anonymous_off_nobody_is_401(client):
    response = post_json(client, measurement())

    assert (response.status_code, NetworkCheck.objects.count()) == (401, 0)
