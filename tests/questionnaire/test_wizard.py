from __future__ import annotations

import pytest

from questionnaire.catalogue import Catalogue
from questionnaire.models import TITLE_MAX_LENGTH
from questionnaire.wizard import INVALID_ANSWER, MISSING_ANSWER, Wizard

# The catalogue's steps, in order: interactivity (4 questions, one of them
# optional), network (5, one of them optional), payload (2) and overhead (5).
INTERACTIVITY, NETWORK, PAYLOAD, OVERHEAD = range(4)
LAST_STEP = OVERHEAD
TOO_LONG = "x" * (TITLE_MAX_LENGTH + 1)
# What the wizard holds before anything is answered: the optional questions' defaults.
DEFAULTS = {"server_commands": "no", "stream_buffering": "unknown"}
OPTIONAL = set(DEFAULTS)


def slugs_of(catalogue: Catalogue, step: int) -> list[str]:
    return [question.slug for question in catalogue.sections[step].questions]


def without(answers: dict[str, str], *slugs: str) -> dict[str, str]:
    return {slug: value for slug, value in answers.items() if slug not in slugs}


def test_from_data_empty_form_starts_with_only_the_defaults(catalogue):
    wizard = Wizard.from_data(catalogue, {})

    assert (wizard.step, wizard.answers, wizard.title, wizard.errors) == (0, DEFAULTS, "", {})


def test_from_data_keeps_valid_answers(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, chat_answers)

    assert wizard.answers == {**chat_answers, **DEFAULTS}


def test_from_data_ignores_fields_that_are_not_questions(catalogue):
    wizard = Wizard.from_data(catalogue, {"csrfmiddlewaretoken": "x", "surprise": "none"})

    assert (wizard.answers, wizard.errors) == (DEFAULTS, {})


def test_from_data_empty_value_is_unanswered_not_invalid(catalogue):
    wizard = Wizard.from_data(catalogue, {"client_messages": ""})

    assert ("client_messages" in wizard.answers, wizard.errors) == (False, {})


def test_from_data_strips_title(catalogue):
    wizard = Wizard.from_data(catalogue, {"title": "  Ops dashboard \n"})

    assert wizard.title == "Ops dashboard"


def test_from_data_reads_step(catalogue):
    wizard = Wizard.from_data(catalogue, {"step": "2"})

    assert wizard.step == PAYLOAD


@pytest.mark.parametrize(
    ("posted", "expected"),
    [("abc", 0), ("", 0), ("1.5", 0), ("-3", 0), ("4", LAST_STEP), ("9999", LAST_STEP)],
)
def test_from_data_out_of_range_step_is_clamped(catalogue, posted, expected):
    wizard = Wizard.from_data(catalogue, {"step": posted})

    assert wizard.step == expected


def test_from_data_invalid_value_is_an_error(catalogue):
    wizard = Wizard.from_data(catalogue, {"client_messages": "carrier-pigeon"})

    assert wizard.errors == {"client_messages": INVALID_ANSWER}


def test_from_data_invalid_value_is_dropped_from_answers(catalogue):
    wizard = Wizard.from_data(catalogue, {"client_messages": "carrier-pigeon", "auth": "cookie"})

    assert wizard.answers == {"auth": "cookie", **DEFAULTS}


def test_from_data_title_too_long_is_an_error(catalogue):
    wizard = Wizard.from_data(catalogue, {"title": TOO_LONG})

    assert set(wizard.errors) == {"title"}


def test_from_data_title_at_limit_is_accepted(catalogue):
    wizard = Wizard.from_data(catalogue, {"title": "x" * TITLE_MAX_LENGTH})

    assert wizard.errors == {}


def test_from_data_title_length_counts_after_stripping(catalogue):
    wizard = Wizard.from_data(catalogue, {"title": " " + "x" * TITLE_MAX_LENGTH + " "})

    assert wizard.errors == {}


def test_apply_next_with_step_answered_moves_on(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, {**chat_answers, "step": "0"})

    wizard.apply("next")

    assert (wizard.step, wizard.errors) == (NETWORK, {})


def test_apply_next_only_needs_the_shown_step(catalogue, chat_answers):
    answers = {
        slug: chat_answers[slug]
        for slug in slugs_of(catalogue, INTERACTIVITY)
        if slug not in OPTIONAL
    }
    wizard = Wizard.from_data(catalogue, {**answers, "step": "0"})

    wizard.apply("next")

    assert wizard.step == NETWORK


def test_apply_next_with_missing_answers_stays(catalogue, chat_answers):
    wizard = Wizard.from_data(
        catalogue, {**without(chat_answers, "upstream_latency"), "step": "0"}
    )

    wizard.apply("next")

    assert wizard.step == INTERACTIVITY


def test_apply_next_with_missing_answers_names_each_of_them(catalogue):
    wizard = Wizard.from_data(catalogue, {"step": "1", "hosting": "paas"})

    wizard.apply("next")

    assert wizard.errors == {
        "middleboxes": MISSING_ANSWER,
        "http_version": MISSING_ANSWER,
        "load_balancer": MISSING_ANSWER,
    }


def test_apply_next_invalid_value_blocks_with_its_own_message(catalogue, chat_answers):
    wizard = Wizard.from_data(
        catalogue, {**chat_answers, "client_messages": "carrier-pigeon", "step": "0"}
    )

    wizard.apply("next")

    assert (wizard.step, wizard.errors) == (INTERACTIVITY, {"client_messages": INVALID_ANSWER})


def test_apply_next_title_too_long_blocks_first_step(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, {**chat_answers, "title": TOO_LONG, "step": "0"})

    wizard.apply("next")

    assert (wizard.step, set(wizard.errors)) == (INTERACTIVITY, {"title"})


def test_apply_next_title_error_not_shown_on_later_steps(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, {**chat_answers, "title": TOO_LONG, "step": "1"})

    wizard.apply("next")

    assert (wizard.step, wizard.errors) == (PAYLOAD, {})


def test_apply_next_hides_errors_of_other_steps(catalogue, chat_answers):
    data = {**chat_answers, "payload_format": "carrier-pigeon", "step": "0"}
    wizard = Wizard.from_data(catalogue, data)

    wizard.apply("next")

    assert (wizard.step, wizard.errors) == (NETWORK, {})


def test_apply_next_on_last_step_stays_there(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, {**chat_answers, "step": str(LAST_STEP)})

    wizard.apply("next")

    assert (wizard.step, wizard.finished) == (LAST_STEP, False)


def test_apply_back_moves_to_previous_step(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, {**chat_answers, "step": "2"})

    wizard.apply("back")

    assert wizard.step == NETWORK


def test_apply_back_does_not_require_answers(catalogue):
    wizard = Wizard.from_data(catalogue, {"step": "2"})

    wizard.apply("back")

    assert (wizard.step, wizard.errors) == (NETWORK, {})


def test_apply_back_keeps_answers(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, {**chat_answers, "step": "2"})

    wizard.apply("back")

    assert wizard.answers == {**chat_answers, **DEFAULTS}


def test_apply_back_on_first_step_stays(catalogue):
    wizard = Wizard.from_data(catalogue, {"step": "0"})

    wizard.apply("back")

    assert wizard.step == INTERACTIVITY


def test_apply_back_shows_invalid_value_of_the_step_it_lands_on(catalogue):
    wizard = Wizard.from_data(catalogue, {"hosting": "mainframe", "step": "2"})

    wizard.apply("back")

    assert wizard.errors == {"hosting": INVALID_ANSWER}


def test_apply_goto_jumps_to_step(catalogue):
    wizard = Wizard.from_data(catalogue, {"step": "0"})

    wizard.apply("goto-3")

    assert (wizard.step, wizard.errors) == (OVERHEAD, {})


def test_apply_goto_does_not_require_answers_of_the_step_left(catalogue):
    wizard = Wizard.from_data(catalogue, {"step": "1"})

    wizard.apply("goto-0")

    assert (wizard.step, wizard.errors) == (INTERACTIVITY, {})


@pytest.mark.parametrize("action", ["goto-4", "goto-99", "goto--1", "goto-x", "goto-"])
def test_apply_goto_unknown_step_stays(catalogue, action):
    wizard = Wizard.from_data(catalogue, {"step": "2"})

    wizard.apply(action)

    assert wizard.step == PAYLOAD


# int() raises past 4,300 digits; the step is checked before it.
@pytest.mark.parametrize("digits", ["1" * 10, "1" * 4301, "1" * 5000, "0" * 5000 + "1"])
def test_apply_goto_huge_step_stays(catalogue, digits):
    wizard = Wizard.from_data(catalogue, {"step": "2"})

    wizard.apply(f"goto-{digits}")

    assert wizard.step == PAYLOAD


def test_from_data_huge_step_starts_at_the_first(catalogue):
    assert Wizard.from_data(catalogue, {"step": "2" * 5000}).step == INTERACTIVITY


def test_apply_goto_superscript_digit_stays(catalogue):
    wizard = Wizard.from_data(catalogue, {"step": "2"})

    wizard.apply("goto-²")

    assert wizard.step == PAYLOAD


def test_apply_finish_with_every_answer_finishes(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, {**chat_answers, "step": str(LAST_STEP)})

    wizard.apply("finish")

    assert (wizard.finished, wizard.errors) == (True, {})


def test_apply_finish_works_from_any_step(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, {**chat_answers, "step": "1"})

    wizard.apply("finish")

    assert wizard.finished


def test_apply_finish_with_answer_missing_does_not_finish(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, {**without(chat_answers, "hosting"), "step": "3"})

    wizard.apply("finish")

    assert not wizard.finished


def test_apply_finish_with_answer_missing_lands_on_its_step(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, {**without(chat_answers, "hosting"), "step": "3"})

    wizard.apply("finish")

    assert (wizard.step, wizard.errors) == (NETWORK, {"hosting": MISSING_ANSWER})


def test_apply_finish_lands_on_first_step_with_a_problem(catalogue, chat_answers):
    data = {**without(chat_answers, "payload_format", "scale"), "step": "3"}
    wizard = Wizard.from_data(catalogue, data)

    wizard.apply("finish")

    assert (wizard.step, wizard.errors) == (PAYLOAD, {"payload_format": MISSING_ANSWER})


def test_apply_finish_with_invalid_value_lands_on_its_step(catalogue, chat_answers):
    data = {**chat_answers, "delivery": "carrier-pigeon", "step": "0"}
    wizard = Wizard.from_data(catalogue, data)

    wizard.apply("finish")

    assert (wizard.finished, wizard.step, wizard.errors) == (
        False,
        OVERHEAD,
        {"delivery": INVALID_ANSWER},
    )


def test_apply_finish_with_title_too_long_lands_on_first_step(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, {**chat_answers, "title": TOO_LONG, "step": "3"})

    wizard.apply("finish")

    assert (wizard.finished, wizard.step, set(wizard.errors)) == (False, 0, {"title"})


def test_apply_finish_with_nothing_answered_shows_first_step_errors(catalogue):
    wizard = Wizard.from_data(catalogue, {"step": "3"})

    wizard.apply("finish")

    required = [slug for slug in slugs_of(catalogue, INTERACTIVITY) if slug not in OPTIONAL]
    assert wizard.errors == dict.fromkeys(required, MISSING_ANSWER)


def test_fields_are_the_shown_steps_questions(catalogue):
    wizard = Wizard.from_data(catalogue, {"step": "2"})

    assert [field.question.slug for field in wizard.fields] == slugs_of(catalogue, PAYLOAD)


def test_fields_carry_current_values(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, {**chat_answers, "step": "2"})

    assert [field.value for field in wizard.fields] == ["text", "medium"]


def test_fields_carry_errors(catalogue):
    wizard = Wizard.from_data(catalogue, {"step": "2", "message_rate": "ludicrous"})
    wizard.apply("next")

    assert {field.question.slug: field.error for field in wizard.fields} == {
        "payload_format": MISSING_ANSWER,
        "message_rate": INVALID_ANSWER,
    }


def test_hidden_answers_are_the_other_steps_answers(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, {**chat_answers, "step": "1"})

    assert dict(wizard.hidden_answers) == without(
        {**chat_answers, **DEFAULTS}, *slugs_of(catalogue, NETWORK)
    )


def test_hidden_answers_leave_out_unanswered_questions(catalogue):
    wizard = Wizard.from_data(catalogue, {"auth": "token", "hosting": "paas", "step": "1"})

    # The interactivity step's optional question counts as answered with its default.
    assert wizard.hidden_answers == [("server_commands", "no"), ("auth", "token")]


def test_hidden_answers_leave_out_invalid_values(catalogue):
    wizard = Wizard.from_data(catalogue, {"auth": "carrier-pigeon", "step": "0"})

    # The first step shows its own optional question: only the other default is hidden.
    assert wizard.hidden_answers == [("stream_buffering", "unknown")]


def test_steps_count_answers_per_section(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, without(chat_answers, "hosting", "scale"))

    # The first two steps count their optional question's default as answered.
    assert [step.answered for step in wizard.steps] == [4, 4, 2, 4]


def test_steps_complete_only_when_every_question_answered(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, without(chat_answers, "hosting"))

    assert [step.complete for step in wizard.steps] == [True, False, True, True]


def test_steps_mark_the_current_one(catalogue):
    wizard = Wizard.from_data(catalogue, {"step": "2"})

    assert [step.current for step in wizard.steps] == [False, False, True, False]


def test_steps_are_numbered_from_one(catalogue):
    wizard = Wizard.from_data(catalogue, {})

    assert [step.number for step in wizard.steps] == [1, 2, 3, 4]


def test_answered_count_counts_valid_answers(catalogue):
    wizard = Wizard.from_data(catalogue, {"auth": "token", "hosting": "mainframe"})

    assert wizard.answered_count == 1 + len(DEFAULTS)


@pytest.mark.parametrize(
    ("step", "first", "last"), [("0", True, False), ("1", False, False), ("3", False, True)]
)
def test_is_first_and_is_last_follow_step(catalogue, step, first, last):
    wizard = Wizard.from_data(catalogue, {"step": step})

    assert (wizard.is_first, wizard.is_last) == (first, last)


# --- The optional question ----------------------------------------------------------------


def test_optional_field_shows_its_default_ticked(catalogue):
    wizard = Wizard.from_data(catalogue, {"step": "1"})

    assert {field.question.slug: field.value for field in wizard.fields}["stream_buffering"] == (
        "unknown"
    )


def test_optional_default_when_the_wizard_starts_from_a_preset(catalogue, chat_answers):
    # The views start the wizard from a preset or an older revision directly.
    wizard = Wizard(catalogue=catalogue, answers=dict(chat_answers))

    assert wizard.answers["stream_buffering"] == "unknown"


def test_optional_answer_given_replaces_the_default(catalogue):
    wizard = Wizard.from_data(catalogue, {"stream_buffering": "buffered"})

    assert (wizard.answers["stream_buffering"], wizard.errors) == ("buffered", {})


def test_optional_answer_invalid_is_an_error(catalogue, chat_answers):
    wizard = Wizard.from_data(
        catalogue, {**chat_answers, "stream_buffering": "carrier-pigeon", "step": "1"}
    )

    wizard.apply("next")

    assert (wizard.step, wizard.errors) == (NETWORK, {"stream_buffering": INVALID_ANSWER})


def test_apply_next_does_not_wait_for_the_optional_question(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, {**chat_answers, "step": "1"})

    wizard.apply("next")

    assert (wizard.step, wizard.errors) == (PAYLOAD, {})


def test_apply_finish_without_the_optional_question_finishes(catalogue, chat_answers):
    assert "stream_buffering" not in chat_answers
    wizard = Wizard.from_data(catalogue, {**chat_answers, "step": str(LAST_STEP)})

    wizard.apply("finish")

    assert (wizard.finished, wizard.answers["stream_buffering"]) == (True, "unknown")


def test_steps_network_complete_without_answering_the_optional_question(catalogue, chat_answers):
    wizard = Wizard.from_data(catalogue, chat_answers)

    assert [step.complete for step in wizard.steps] == [True, True, True, True]


def test_hidden_answers_carry_the_optional_default_on_other_steps(catalogue):
    wizard = Wizard.from_data(catalogue, {"step": "2"})

    assert wizard.hidden_answers == [("server_commands", "no"), ("stream_buffering", "unknown")]


def test_started_not_by_the_default_alone(catalogue):
    assert not Wizard.from_data(catalogue, dict(DEFAULTS)).started


@pytest.mark.parametrize("data", [{"scale": "small"}, {"stream_buffering": "buffered"}])
def test_started_by_any_answer_given(catalogue, data):
    assert Wizard.from_data(catalogue, data).started
