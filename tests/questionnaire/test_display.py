from __future__ import annotations

import pytest

from questionnaire.catalogue import get_catalogue
from questionnaire.display import AnswerChange, revision_history
from questionnaire.models import Assessment

pytestmark = pytest.mark.django_db


@pytest.fixture
def v1_answers() -> dict[str, str]:
    # Version 1 never asked stream_buffering: its answers leave it out.
    return dict(get_catalogue("1").preset("chat").answers)


@pytest.fixture
def from_v1(v1_answers) -> Assessment:
    assessment, _ = Assessment.create_scored("Team chat", v1_answers, get_catalogue("1"))
    return assessment


def changes_of(assessment: Assessment) -> tuple[AnswerChange, ...]:
    """What the newest revision changed, as the result page lists it."""
    return revision_history(list(assessment.revisions.order_by("number")))[0].changes


def test_history_v1_to_v2_default_of_new_optional_question_is_no_change(
    from_v1, v1_answers, catalogue
):
    from_v1.revise("Team chat", v1_answers, catalogue)

    assert (from_v1.latest.answers["stream_buffering"], changes_of(from_v1)) == ("unknown", ())


def test_history_v1_to_v2_measured_answer_is_a_change_from_not_measured(
    from_v1, v1_answers, catalogue
):
    from_v1.revise("Team chat", {**v1_answers, "stream_buffering": "buffered"}, catalogue)
    question = catalogue.question("stream_buffering")

    assert changes_of(from_v1) == (
        AnswerChange(
            question=question.text,
            before=question.option("unknown").label,
            after=question.option("buffered").label,
        ),
    )


def test_history_v1_to_v2_shows_only_the_answer_changed(from_v1, v1_answers, catalogue):
    from_v1.revise("Team chat", {**v1_answers, "http_version": "http1"}, catalogue)

    assert [change.question for change in changes_of(from_v1)] == [
        catalogue.question("http_version").text
    ]


def test_history_v2_answer_left_out_counts_as_default(catalogue, chat_answers):
    measured, _ = Assessment.create_scored(
        "Team chat", {**chat_answers, "stream_buffering": "unknown"}, catalogue
    )
    without = {slug: value for slug, value in chat_answers.items() if slug != "stream_buffering"}
    measured.revise("Team chat", without, catalogue)

    assert changes_of(measured) == ()


def test_result_page_v1_to_v2_says_no_answers_changed(client, from_v1, v1_answers, catalogue):
    from_v1.revise("Team chat", v1_answers, catalogue)
    page = client.get(from_v1.get_absolute_url()).text

    assert ("No answers changed." in page, "(not asked)" in page) == (True, False)
