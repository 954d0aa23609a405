"""The optional traffic numbers on the questionnaire: inline errors, stored, carried."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

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


class FormValues(HTMLParser):
    """What a browser would submit from the wizard's form, as it is shown."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name") and attrs.get("type") in {"hidden", "text"}:
            self.values[attrs["name"]] = attrs.get("value", "")
        elif tag == "input" and attrs.get("type") == "radio" and "checked" in attrs:
            self.values[attrs["name"]] = attrs["value"]
        elif tag == "select":
            self.select = attrs["name"]
            self.values[self.select] = ""
        elif tag == "option" and self.select and "selected" in attrs:
            self.values[self.select] = attrs["value"]

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None


def form_values(page: str) -> dict[str, str]:
    parser = FormValues()
    parser.feed(page)
    return {name: value for name, value in parser.values.items() if name != "csrfmiddlewaretoken"}


def finish_edit_unchanged(client, assessment):
    """Open the edit form, go to the last step and press Finish, changing nothing."""
    url = f"/assessments/{assessment.pk}/edit/"
    shown = form_values(client.get(url).content.decode())
    last = client.post(url, {**shown, "action": "goto-" + last_step()}).content.decode()
    return client.post(url, {**form_values(last), "action": "finish"})


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


API_TRAFFIC = {
    "peak_clients": 5_000,
    "events_per_second": 0.00001,
    "payload_bytes": 700,
    "messages_per_second_up": 0.333333333,
    "payload_format": "binary",
    "fanout": "groups",
    "group_size": 10,
}


def test_finishing_an_edit_unchanged_keeps_every_traffic_field(client, chat_answers):
    client.get("/")
    document = {"answers": chat_answers, "traffic": API_TRAFFIC}
    client.post("/api/assessments/", json.dumps(document), content_type="application/json")
    assessment = Assessment.objects.get()
    response = finish_edit_unchanged(client, assessment)
    assert response.status_code == 302
    latest = assessment.latest
    assert latest.number == 2
    assert latest.traffic == API_TRAFFIC
    assert latest.result["capacity"] == assessment.revisions.get(number=1).result["capacity"]


def test_edit_form_shows_rates_in_plain_decimals(client, chat_answers):
    client.get("/")
    document = {"answers": chat_answers, "traffic": API_TRAFFIC}
    client.post("/api/assessments/", json.dumps(document), content_type="application/json")
    assessment = Assessment.objects.get()
    url = f"/assessments/{assessment.pk}/edit/"
    page = client.post(
        url, {**form_values(client.get(url).content.decode()), "action": "goto-" + last_step()}
    ).content.decode()
    assert 'name="traffic_events_per_second" value="0.00001"' in page
    assert 'name="traffic_messages_per_second_up" value="0.333333333"' in page
    assert '<option value="groups" selected>' in page


def test_form_asks_for_messages_up_format_and_fanout(client, chat_answers):
    response = client.post(
        NEW,
        finish(
            chat_answers,
            peak_clients="1,000",
            messages_per_second_up="2",
            payload_format="binary",
            fanout="per_user",
        ),
    )
    assert response.status_code == 302
    assert Revision.objects.get().traffic == {
        "peak_clients": 1000,
        "messages_per_second_up": 2.0,
        "payload_format": "binary",
        "fanout": "per_user",
    }


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("1,000", 1000), ("1,000,000", 1_000_000), ("1,234.5", 1_234.5), ("100 000", 100_000)],
)
def test_commas_between_thousands_are_taken(client, chat_answers, typed, stored):
    field = "events_per_second" if "." in typed else "peak_clients"
    numbers = {"peak_clients": "10", field: typed}
    response = client.post(NEW, finish(chat_answers, **numbers))
    assert response.status_code == 302
    assert Revision.objects.get().traffic[field] == stored


@pytest.mark.parametrize("typed", ["0,5", "1,5", "1,0000", "12,34,567", ",500"])
def test_a_decimal_comma_is_refused_not_misread(client, chat_answers, typed):
    response = client.post(NEW, finish(chat_answers, peak_clients="10", events_per_second=typed))
    assert response.status_code == 200
    assert "use a point for decimals" in response.content.decode()
    assert Assessment.objects.count() == 0


def test_a_point_then_three_digits_is_a_decimal(client, chat_answers):
    response = client.post(NEW, finish(chat_answers, peak_clients="10", events_per_second="1.000"))
    assert response.status_code == 302
    assert Revision.objects.get().traffic["events_per_second"] == 1.0


def test_bad_choice_gets_an_inline_error(client, chat_answers):
    response = client.post(NEW, finish(chat_answers, peak_clients="10", fanout="everyone"))
    assert response.status_code == 200
    assert "Fan-out must be one of broadcast, per_user, groups" in response.content.decode()
    assert Assessment.objects.count() == 0
