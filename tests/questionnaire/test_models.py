from __future__ import annotations

import pytest
from django.db import IntegrityError

from questionnaire.catalogue import available_versions, get_catalogue
from questionnaire.models import Assessment, Revision
from questionnaire.scoring import evaluate

pytestmark = pytest.mark.django_db


@pytest.fixture
def assessment(chat_answers) -> Assessment:
    assessment, _ = Assessment.create_scored("Team chat", chat_answers)
    return assessment


def test_create_scored_saves_one_revision(assessment):
    assert list(assessment.revisions.values_list("number", flat=True)) == [1]


def test_create_scored_stores_title(assessment):
    assert Assessment.objects.get(pk=assessment.pk).title == "Team chat"


def test_create_scored_records_catalogue_version(assessment, catalogue):
    assert assessment.latest.catalogue_version == catalogue.version == available_versions()[-1]


def test_create_scored_stores_answers(assessment, catalogue, chat_answers):
    assert Revision.objects.get(assessment=assessment).answers == catalogue.with_defaults(
        chat_answers
    )


def test_create_scored_stores_the_default_of_a_left_out_optional_question(
    assessment, chat_answers
):
    assert "stream_buffering" not in chat_answers
    assert Revision.objects.get(assessment=assessment).answers["stream_buffering"] == "unknown"


def test_create_scored_keeps_a_given_optional_answer(chat_answers):
    assessment, _ = Assessment.create_scored("", {**chat_answers, "stream_buffering": "buffered"})

    assert assessment.latest.answers["stream_buffering"] == "buffered"


def test_create_scored_with_older_catalogue_adds_no_later_question(chat_answers):
    assessment, _ = Assessment.create_scored("", chat_answers, get_catalogue("1"))

    assert (assessment.latest.catalogue_version, assessment.latest.answers) == (
        "1",
        chat_answers,
    )


def test_create_scored_stores_result_snapshot(assessment, catalogue, chat_answers):
    stored = Revision.objects.get(assessment=assessment).result

    assert stored == evaluate(catalogue, chat_answers).to_dict()


def test_create_scored_denormalises_recommendation(assessment):
    saved = Assessment.objects.get(pk=assessment.pk)

    assert (saved.recommendation, saved.confidence) == (
        saved.latest.result["recommendation"],
        saved.latest.result["confidence"],
    )


def test_create_scored_chat_recommends_websocket(assessment):
    assert assessment.recommendation == "websocket"


def test_create_scored_with_explicit_catalogue(dashboard_answers):
    assessment, _ = Assessment.create_scored("", dashboard_answers, get_catalogue("1"))

    assert (assessment.recommendation, assessment.latest.catalogue_version) == ("sse", "1")


def test_revise_adds_revision_numbered_two(assessment, dashboard_answers):
    revision = assessment.revise("Team chat", dashboard_answers)

    assert revision.number == 2


def test_revise_keeps_both_revisions(assessment, dashboard_answers):
    assessment.revise("Team chat", dashboard_answers)

    assert list(assessment.revisions.values_list("number", flat=True)) == [1, 2]


def test_revise_leaves_first_revision_unchanged(assessment, chat_answers, dashboard_answers):
    first = Revision.objects.get(assessment=assessment, number=1)
    before = (first.answers, first.result, first.catalogue_version, first.created_at)

    assessment.revise("Renamed", dashboard_answers)

    first.refresh_from_db()
    assert (first.answers, first.result, first.catalogue_version, first.created_at) == before


def test_revise_stores_new_answers_and_result(assessment, catalogue, dashboard_answers):
    revision = assessment.revise("Team chat", dashboard_answers)

    revision.refresh_from_db()
    assert (revision.answers, revision.result) == (
        catalogue.with_defaults(dashboard_answers),
        evaluate(catalogue, dashboard_answers).to_dict(),
    )


def test_revise_stores_the_default_of_a_left_out_optional_question(assessment, chat_answers):
    assessment.revise("", {**chat_answers, "stream_buffering": "buffered"})

    revision = assessment.revise("", chat_answers)

    assert revision.answers["stream_buffering"] == "unknown"


def test_revise_updates_denormalised_recommendation(assessment, dashboard_answers):
    assessment.revise("Team chat", dashboard_answers)

    saved = Assessment.objects.get(pk=assessment.pk)
    assert (saved.recommendation, saved.confidence) == (
        "sse",
        evaluate(saved.latest.catalogue, dashboard_answers).confidence,
    )


def test_revise_refreshes_the_instance(assessment, dashboard_answers):
    assessment.revise("Renamed", dashboard_answers)

    assert (assessment.title, assessment.recommendation) == ("Renamed", "sse")


def test_revise_updates_title(assessment, chat_answers):
    assessment.revise("Renamed", chat_answers)

    assert Assessment.objects.get(pk=assessment.pk).title == "Renamed"


def test_revise_twice_numbers_three(assessment, chat_answers, dashboard_answers):
    assessment.revise("", dashboard_answers)

    assert assessment.revise("", chat_answers).number == 3


def test_revise_bumps_updated_at(assessment, chat_answers):
    before = Assessment.objects.get(pk=assessment.pk).updated_at

    assessment.revise("Team chat", chat_answers)

    assert Assessment.objects.get(pk=assessment.pk).updated_at > before


def test_latest_is_highest_numbered_revision(assessment, catalogue, dashboard_answers):
    assessment.revise("", dashboard_answers)

    assert (assessment.latest.number, assessment.latest.answers) == (
        2,
        catalogue.with_defaults(dashboard_answers),
    )


def test_revision_numbers_are_unique_per_assessment(assessment):
    with pytest.raises(IntegrityError):
        Revision.objects.create(
            assessment=assessment, number=1, catalogue_version="1", answers={}, result={}
        )


def test_revisions_are_ordered_by_number(assessment, chat_answers, dashboard_answers):
    assessment.revise("", dashboard_answers)
    assessment.revise("", chat_answers)

    assert [revision.number for revision in assessment.revisions.all()] == [1, 2, 3]


def test_revision_catalogue_is_the_one_it_was_scored_with(assessment, catalogue):
    assert assessment.latest.catalogue == catalogue


def test_str_is_title(assessment):
    assert str(assessment) == "Team chat"


def test_str_without_title_uses_short_id(chat_answers):
    assessment, _ = Assessment.create_scored("", chat_answers)

    assert str(assessment) == f"Assessment {str(assessment.pk)[:8]}"


def test_revision_str_names_assessment_and_number(assessment):
    assert str(assessment.latest) == "Team chat r1"


def test_display_title_without_title(chat_answers):
    assessment, _ = Assessment.create_scored("", chat_answers)

    assert assessment.display_title == "Untitled assessment"


def test_get_absolute_url_is_result_page(assessment):
    assert assessment.get_absolute_url() == f"/assessments/{assessment.pk}/"


def test_assessments_are_listed_most_recently_updated_first(chat_answers, dashboard_answers):
    older, _ = Assessment.create_scored("older", chat_answers)
    Assessment.create_scored("newer", chat_answers)
    older.revise("older", dashboard_answers)

    assert [assessment.title for assessment in Assessment.objects.all()] == ["older", "newer"]


def test_deleting_assessment_deletes_revisions(assessment, dashboard_answers):
    assessment.revise("", dashboard_answers)

    assessment.delete()

    assert Revision.objects.count() == 0


# --- Titles belong to revisions ------------------------------------------------------


def test_create_scored_stores_title_on_revision_1(assessment):
    assert assessment.latest.title == "Team chat"


def test_revise_keeps_the_earlier_revisions_title(assessment, chat_answers):
    assessment.revise("Renamed", chat_answers)

    titles = list(assessment.revisions.order_by("number").values_list("title", flat=True))
    assert titles == ["Team chat", "Renamed"]


def test_assessment_title_follows_the_latest_revision(assessment, chat_answers):
    assessment.revise("Renamed", chat_answers)
    assessment.revise("Renamed again", chat_answers)

    saved = Assessment.objects.get(pk=assessment.pk)
    assert saved.title == saved.latest.title == "Renamed again"


def test_revision_display_title_without_title(chat_answers):
    _, revision = Assessment.create_scored("", chat_answers)

    assert revision.display_title == "Untitled assessment"
