"""The optional traffic numbers on the questionnaire: inline errors, stored, carried."""

from __future__ import annotations

import re

import pytest

from questionnaire.catalogue import get_catalogue
from questionnaire.models import Assessment, Revision

pytestmark = pytest.mark.django_db

NEW = "/assessments/new/"


def last_step() -> str:
    return str(len(get_catalogue().sections) - 1)


def finish(answers, **traffic) -> dict:
    fields = {f"traffic_{name}": value for name, value in traffic.items()}
    return {**answers, "title": "Ops", "step": last_step(), "action": "finish", **fields}


def shown_step(response) -> str:
    return re.search(r'<input type="hidden" name="step" value="(\d+)">', response.text)[1]


def test_numbers_are_asked_on_the_last_step(client):
    response = client.post(
        NEW, {"step": str(int(last_step()) - 1), "action": "goto-" + last_step()}
    )
    assert 'name="traffic_peak_clients"' in response.text
    assert "Traffic at the peak" in response.text


def test_finish_with_numbers_stores_them_and_shows_the_plan(client, chat_answers):
    response = client.post(
        NEW,
        finish(chat_answers, peak_clients="100,000", events_per_second="10", payload_bytes="2048"),
    )
    assert response.status_code == 302
    revision = Revision.objects.get()
    assert revision.traffic == {
        "peak_clients": 100_000,
        "events_per_second": 10,
        "payload_bytes": 2048,
    }
    page = client.get(response["Location"]).content.decode()
    assert "Capacity plan: how many servers for this traffic" in page
    assert "capacity-chart" in page


def test_finish_without_numbers_scores_as_before(client, chat_answers):
    response = client.post(NEW, finish(chat_answers))
    assert response.status_code == 302
    revision = Revision.objects.get()
    assert revision.traffic is None
    assert "capacity" not in revision.result


@pytest.mark.parametrize(
    ("traffic", "field", "message"),
    [
        ({"peak_clients": "-5"}, "traffic_peak_clients", "must be from 1 to 1,000,000,000"),
        ({"peak_clients": "lots"}, "traffic_peak_clients", "enter a number"),
        ({"peak_clients": "0"}, "traffic_peak_clients", "must be from 1 to 1,000,000,000"),
        ({"peak_clients": "99999999999"}, "traffic_peak_clients", "must be from 1 to"),
        ({"peak_clients": "10", "events_per_second": "1e9"}, "traffic_events_per_second", "enter"),
        ({"peak_clients": "10", "payload_bytes": "2.5"}, "traffic_payload_bytes", "whole number"),
        ({"events_per_second": "5"}, "traffic_peak_clients", "is needed for a capacity plan"),
    ],
)
def test_bad_numbers_get_inline_errors_and_save_nothing(
    client, chat_answers, traffic, field, message
):
    response = client.post(NEW, finish(chat_answers, **traffic))
    page = response.content.decode()
    assert response.status_code == 200
    assert shown_step(response) == last_step()
    error = re.search(rf'<p class="field-error" id="err-{field}">([^<]*)</p>', page)
    assert error is not None and message in error[1]
    assert f'id="id_{field}"' in page and 'aria-invalid="true"' in page
    assert Assessment.objects.count() == 0


def test_numbers_travel_as_hidden_inputs_on_other_steps(client, chat_answers):
    data = {**chat_answers, "step": last_step(), "action": "goto-0", "traffic_peak_clients": "500"}
    response = client.post(NEW, data)
    assert '<input type="hidden" name="traffic_peak_clients" value="500">' in response.text


def test_edit_keeps_the_numbers_for_the_new_revision(client, chat_answers, dashboard_answers):
    created = client.post(NEW, finish(chat_answers, peak_clients="2000", events_per_second="0.5"))
    assessment = Assessment.objects.get()
    form = client.get(f"/assessments/{assessment.pk}/edit/").content.decode()
    assert 'name="traffic_peak_clients" value="2000"' in form
    assert 'name="traffic_events_per_second" value="0.5"' in form
    assert created.status_code == 302
    data = {
        **dashboard_answers,
        "title": "Ops",
        "step": last_step(),
        "action": "finish",
        "traffic_peak_clients": "2000",
        "traffic_events_per_second": "0.5",
    }
    client.post(f"/assessments/{assessment.pk}/edit/", data)
    latest = assessment.latest
    assert latest.number == 2
    assert latest.traffic == {"peak_clients": 2000, "events_per_second": 0.5}
    assert latest.result["capacity"]["websocket"]["processes"] == 1


def test_adopting_a_newer_catalogue_keeps_the_numbers(client, chat_answers, request):
    client.post(NEW, finish(chat_answers, peak_clients="2000", events_per_second="1"))
    assessment = Assessment.objects.get()
    request.getfixturevalue("catalogue_v4")
    form = client.get(f"/assessments/{assessment.pk}/edit/?adopt=1").content.decode()
    # It opens on the new question's step: the numbers travel along, hidden.
    assert '<input type="hidden" name="traffic_peak_clients" value="2000">' in form
    data = {**finish(chat_answers, peak_clients="2000", events_per_second="1"), "origin": "same"}
    data["step"] = last_step()
    client.post(f"/assessments/{assessment.pk}/edit/?adopt=1", data)
    latest = assessment.latest
    assert (latest.number, latest.catalogue_version) == (2, "4")
    assert latest.traffic == {"peak_clients": 2000, "events_per_second": 1}
    assert latest.result["capacity"]["sse"]["machines"] == 1
