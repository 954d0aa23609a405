"""The answers-to-workload mapping: data next to the catalogue, read by a pure function."""

from __future__ import annotations

import pytest

from questionnaire.catalogue import get_catalogue
from questionnaire.workload import (
    LIMITS,
    PARAMETERS,
    describe,
    mapping,
    read_workload,
    too_few_messages,
    workload_of,
)


def answers_of(slug: str) -> dict[str, str]:
    return dict(get_catalogue("2").preset(slug).answers)


def test_workload_of_binary_frequent_realtime_answers():
    answers = {
        "message_rate": "high",
        "payload_format": "binary",
        "client_messages": "frequent",
        "upstream_latency": "realtime",
    }
    workload = workload_of(answers, "2")
    assert workload == {
        "events_per_second_down": 50,
        "payload_format": "binary",
        "payload_bytes": 2048,
        "messages_per_second_up": 5,
        "answer_budget_ms": 100,
        "duration_s": 30,
    }


def test_workload_of_broadcast_only_sends_nothing_up():
    workload = workload_of(answers_of("activity-feed"), "2")
    assert workload["messages_per_second_up"] == 0
    assert workload["events_per_second_down"] == 1
    assert workload["answer_budget_ms"] == 1000


def test_workload_of_no_answers_is_the_defaults():
    assert workload_of({}, "2") == mapping("2")["defaults"]


def test_workload_of_unknown_answers_and_questions_change_nothing():
    odd = {"message_rate": "ludicrous", "server_commands": "often"}
    assert workload_of(odd, "2") == workload_of({}, "2")


def test_workload_of_newer_catalogue_uses_newest_mapping_before_it():
    answers = answers_of("chat")
    assert workload_of(answers, "3") == workload_of(answers, "2")
    assert workload_of(answers, "17.1") == workload_of(answers, "1")


def test_workload_of_traffic_figures_win_over_answers():
    traffic = {"peak_clients": 10, "events_per_second": 20, "payload_bytes": 300}
    workload = workload_of(answers_of("chat"), "2", traffic)
    assert workload["events_per_second_down"] == 20
    assert workload["payload_bytes"] == 300


def test_workload_of_traffic_beyond_limits_is_brought_within():
    traffic = {"peak_clients": 10, "events_per_second": 5000, "payload_bytes": 10_000_000}
    workload = workload_of({}, "2", traffic)
    assert workload["events_per_second_down"] == LIMITS["events_per_second_down"][2]
    # 1 MiB a second at most: 50 events/s of at most 20 KiB.
    assert workload["payload_bytes"] * workload["events_per_second_down"] <= 1024 * 1024


def test_workload_of_preset_override():
    workload = workload_of(answers_of("iot-control"), "2", preset="iot-control")
    assert workload["payload_format"] == "binary"
    assert workload["payload_bytes"] == 256


@pytest.mark.parametrize("preset", [p.slug for p in get_catalogue("2").presets])
def test_every_preset_maps_to_a_runnable_workload(preset):
    workload = workload_of(answers_of(preset), "2", preset=preset)
    assert read_workload(workload) == (workload, {})


def test_describe_says_the_workload_in_a_sentence():
    workload = {
        "events_per_second_down": 10,
        "payload_format": "binary",
        "payload_bytes": 2048,
        "messages_per_second_up": 5,
        "answer_budget_ms": 100,
        "duration_s": 30,
    }
    assert describe(workload) == (
        "10 events/s of 2 KiB binary down, 5 messages/s up, answers within 100 ms, for 30 s"
    )


def good() -> dict:
    return workload_of({}, "2")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("events_per_second_down", 0),
        ("events_per_second_down", "fast"),
        ("events_per_second_down", float("nan")),
        ("payload_bytes", 2.5),
        ("payload_bytes", True),
        ("payload_format", "xml"),
        ("messages_per_second_up", 11),
        ("answer_budget_ms", -1),
        ("duration_s", 3),
        ("duration_s", "1e3"),
    ],
)
def test_read_workload_names_the_bad_parameter(name, value):
    workload, errors = read_workload({**good(), name: value})
    assert workload is None
    assert list(errors) == [name]


def test_read_workload_names_every_missing_and_unknown_parameter():
    _, errors = read_workload({"speed": 3})
    assert set(errors) == {*PARAMETERS, "speed"}


def test_read_workload_refuses_more_than_a_mebibyte_a_second():
    _, errors = read_workload({**good(), "events_per_second_down": 50, "payload_bytes": 65536})
    assert "payload_bytes" in errors


def test_read_workload_takes_form_text():
    form = {name: str(value) for name, value in good().items()}
    assert read_workload(form) == (good(), {})


def test_describe_says_one_event_and_one_message_in_the_singular():
    workload = {**good(), "events_per_second_down": 1, "messages_per_second_up": 1}
    assert describe(workload).startswith("1 event/s of ")
    assert ", 1 message/s up," in describe(workload)


def test_too_few_messages_warns_of_a_run_that_sends_none_up():
    workload = {**good(), "messages_per_second_up": 0.05, "duration_s": 10}
    assert too_few_messages(workload) == [
        "At 0.05 messages/s up for 10 s this run sends no messages up (0.5 expected): "
        "the up path would not be measured. To measure it, run it for at least 20 s."
    ]


def test_too_few_messages_suggests_a_rate_beyond_the_longest_run():
    workload = {**good(), "messages_per_second_up": 0.001, "duration_s": 120}
    assert too_few_messages(workload)[0].endswith("send at least 0.01 messages/s up.")


def test_too_few_messages_warns_of_down_too():
    workload = {**good(), "events_per_second_down": 0.1, "duration_s": 5}
    assert too_few_messages(workload)[0].startswith("At 0.1 events/s down for 5 s")


def test_too_few_messages_none_for_enough_or_nothing_up():
    assert too_few_messages({**good(), "messages_per_second_up": 0.05, "duration_s": 20}) == []
    assert too_few_messages({**good(), "messages_per_second_up": 0}) == []
