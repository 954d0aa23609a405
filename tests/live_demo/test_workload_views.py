"""The workload page, starting a run, and the SSE side's up messages over POST."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.test import Client

from live_demo.workload.runs import MAX_RUNS_PER_CLIENT
from questionnaire.models import Assessment

pytestmark = pytest.mark.django_db

START = "/demo/workload/runs/"
UP = "/demo/workload/up/"


@pytest.fixture(autouse=True)
def no_runs():
    cache.clear()
    yield
    cache.clear()


def good() -> dict:
    return {
        "events_per_second_down": 10,
        "payload_format": "binary",
        "payload_bytes": 2048,
        "messages_per_second_up": 5,
        "answer_budget_ms": 100,
        "duration_s": 30,
    }


def test_workload_page_from_an_assessment_says_its_workload(client, chat_answers):
    assessment, _ = Assessment.create_scored("Chat", chat_answers)
    page = client.get(f"/demo/workload/?assessment={assessment.pk}&revision=1")
    assert page.status_code == 200
    # chat: medium rate, text, frequent messages up, interactive.
    assert (
        "10 events/s of 512 bytes JSON down, 5 messages/s up, answers within 300 ms, for 30 s"
        in page.content.decode()
    )


def test_workload_page_preset(client):
    page = client.get("/demo/workload/?preset=iot-control").content.decode()
    assert "IoT device control and monitoring" in page
    assert "of 256 bytes binary down" in page


def test_workload_page_lists_the_eight_presets(client):
    page = client.get("/demo/workload/").content.decode()
    assert page.count("/demo/workload/?preset=") == 8


def test_workload_page_adjusted_by_the_query(client):
    page = client.get("/demo/workload/?preset=chat&duration_s=4").content.decode()
    assert "for 4 s" in page


def test_workload_page_bad_parameter_named_inline(client):
    page = client.get("/demo/workload/?duration_s=9999&payload_format=xml")
    assert page.status_code == 400
    text = page.content.decode()
    assert 'href="#wl-duration_s">duration_s</a>: must be from 4 to 120' in text
    assert 'href="#wl-payload_format">payload_format</a>' in text


def test_workload_page_unknown_assessment_404(client):
    assert client.get("/demo/workload/?assessment=nope").status_code == 404
    missing = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/demo/workload/?assessment={missing}").status_code == 404


def test_workload_page_unknown_revision_404(client, chat_answers):
    assessment, _ = Assessment.create_scored("Chat", chat_answers)
    assert client.get(f"/demo/workload/?assessment={assessment.pk}&revision=5").status_code == 404


def test_demo_page_links_to_the_workload(client):
    assert 'href="/demo/workload/"' in client.get("/demo/").content.decode()


def start(client: Client, body: object):
    return client.post(START, json.dumps(body), content_type="application/json")


def test_start_run_201_with_its_urls(client):
    response = start(client, good())
    assert response.status_code == 201
    run = response.json()
    assert run["websocket"] == f"/ws/workload/?run={run['run']}"
    assert run["events"] == f"/demo/workload/events/?run={run['run']}"
    assert run["total"] == 300


def test_start_run_bad_parameters_400_each_named(client):
    response = start(client, {**good(), "payload_bytes": 10, "messages_per_second_up": -1})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"payload_bytes", "messages_per_second_up"}
    # Nothing runs: the same browser may start one at once.
    assert start(client, good()).status_code == 201


def test_start_run_not_an_object_400(client):
    assert start(client, [1, 2]).status_code == 400


def test_start_run_one_at_a_time_409(client):
    assert start(client, good()).status_code == 201
    second = start(client, good())
    assert second.status_code == 409
    assert "run" in second.json()["errors"]
    assert int(second["Retry-After"]) > 0


def test_start_run_made_up_session_cookies_are_one_client(client, settings):
    """A session cookie the server never gave counts as none: each made-up one
    would otherwise be a new browser, and one client could take all 100 places."""
    for made_up in ("made-up-session-one", "made-up-session-two"):
        client.cookies[settings.SESSION_COOKIE_NAME] = made_up
        answers = start(client, good()).status_code
    assert answers == 409


def test_start_run_two_signed_in_browsers_at_one_address_run_one_each(django_user_model):
    """Colleagues behind one address (an office's NAT) run a workload each."""
    for name in ("alice", "bob"):
        browser = Client()
        browser.force_login(django_user_model.objects.create_user(name))
        assert start(browser, good()).status_code == 201


def test_start_run_one_address_takes_at_most_its_share_of_places(django_user_model):
    """Real sessions are cheap to gather (one account signed in again and again; in
    anonymous mode, one assessment each): one address may hold a tenth of the places."""
    user = django_user_model.objects.create_user("mallory")
    answers = []
    for _ in range(MAX_RUNS_PER_CLIENT + 1):
        browser = Client()
        browser.force_login(user)
        answers.append(start(browser, good()))
    assert [answer.status_code for answer in answers] == [201] * MAX_RUNS_PER_CLIENT + [429]
    assert 0 < int(answers[-1]["Retry-After"]) <= good()["duration_s"] + 1
    assert "from one address" in answers[-1].json()["errors"]["run"]

    elsewhere = Client(REMOTE_ADDR="192.0.2.7")
    elsewhere.force_login(user)
    assert start(elsewhere, good()).status_code == 201


def up(client: Client, body: object):
    return client.post(UP, json.dumps(body), content_type="application/json")


def test_up_answered_with_seq_and_request_bytes(client):
    run_id = start(client, good()).json()["run"]
    body = {"run": run_id, "seq": 3, "t": 12.5, "data": "u" * 64}
    response = up(client, body)
    assert response.status_code == 200
    ack = response.json()
    assert (ack["type"], ack["seq"], ack["t"]) == ("up_ack", 3, 12.5)
    # The request line and headers too, not the body alone.
    assert ack["wire_bytes"] >= len(json.dumps(body)) + len("POST /demo/workload/up/ HTTP/1.1\r\n")


def test_up_unknown_run_404(client):
    response = up(client, {"run": "nope", "seq": 1, "t": 1})
    assert response.status_code == 404
    assert "run" in response.json()["errors"]


@pytest.mark.parametrize(
    ("change", "named"),
    [({"seq": -1}, "seq"), ({"t": "now"}, "t"), ({"data": ["x"]}, "data")],
)
def test_up_bad_field_400_names_it(client, change, named):
    run_id = start(client, good()).json()["run"]
    response = up(client, {"run": run_id, "seq": 1, "t": 1, **change})
    assert response.status_code == 400
    assert named in response.json()["errors"]


def test_up_get_405(client):
    assert client.get(UP).status_code == 405


def test_workload_page_of_a_newer_catalogues_assessment(client, catalogue_v4):
    answers = {**catalogue_v4.preset("chat").answers}
    for question in catalogue_v4.questions:
        answers.setdefault(question.slug, question.values[0])
    assessment, revision = Assessment.create_scored("Chat v4", answers)
    assert revision.catalogue_version == "4"
    page = client.get(f"/demo/workload/?assessment={assessment.pk}").content.decode()
    assert "10 events/s of 512 bytes JSON down, 5 messages/s up" in page


def test_demo_page_lists_the_eight_presets_with_their_workloads(client):
    page = client.get("/demo/").content.decode()
    assert page.count("/demo/workload/?preset=") == 8
    assert "(50 events/s of 256 bytes JSON down, 5 messages/s up" in page


def test_start_run_store_out_of_reach_503_names_run(client, workload_store_down):
    response = start(client, good())
    assert response.status_code == 503
    assert "try again" in response.json()["errors"]["run"]
    assert int(response["Retry-After"]) > 0


def test_up_store_out_of_reach_503_names_run(client, workload_store_down):
    response = up(client, {"run": "abc", "seq": 1, "t": 1})
    assert response.status_code == 503
    assert "run" in response.json()["errors"]


def test_workload_page_warns_before_a_run_too_short_for_its_up_rate(client):
    query = "preset=chat&messages_per_second_up=0.05&duration_s=10"
    page = client.get(f"/demo/workload/?{query}").content.decode()
    assert "this run sends no messages up (0.5 expected)" in page
    assert "run it for at least 20 s" in page


def test_workload_page_no_warning_for_a_run_long_enough(client):
    page = client.get("/demo/workload/?preset=chat").content.decode()
    assert "would not be measured" not in page
    assert "Eight common applications" in page
