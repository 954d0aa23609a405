"""Moving the title onto revisions gives every stored revision its assessment's title."""

from __future__ import annotations

import pytest

from questionnaire.models import Assessment, Revision
from tests.migrations import latest, migrate, migrated_back

# The last state with the title on the assessment only.
BEFORE_REVISION_TITLE = [("questionnaire", "0003_network_check_moved")]


@pytest.fixture
def before_titles():
    """The apps as they were before revisions had titles; migrated forward afterwards."""
    with migrated_back(BEFORE_REVISION_TITLE) as apps:
        yield apps


def old_assessment_with_revisions(apps, title: str, count: int):
    old_assessment = apps.get_model("questionnaire", "Assessment")
    old_revision = apps.get_model("questionnaire", "Revision")
    assessment = old_assessment.objects.create(
        title=title, recommendation="sse", confidence="slight"
    )
    for number in range(1, count + 1):
        old_revision.objects.create(
            assessment=assessment, number=number, catalogue_version="2", answers={}, result={}
        )
    return assessment


@pytest.mark.django_db(transaction=True)
def test_every_revision_gets_its_assessments_title(before_titles):
    chat = old_assessment_with_revisions(before_titles, "Team chat", 3)
    board = old_assessment_with_revisions(before_titles, "Ops board", 1)
    untitled = old_assessment_with_revisions(before_titles, "", 2)

    migrate(latest())

    def titles(assessment) -> list[str]:
        revisions = Revision.objects.filter(assessment_id=assessment.pk).order_by("number")
        return list(revisions.values_list("title", flat=True))

    # Before the migration no earlier title was kept anywhere: the current
    # one is the best each revision can get.
    assert (titles(chat), titles(board), titles(untitled)) == (
        ["Team chat"] * 3,
        ["Ops board"],
        ["", ""],
    )
    assert Assessment.objects.get(pk=chat.pk).title == "Team chat"


@pytest.mark.django_db(transaction=True)
def test_migrating_back_keeps_the_latest_title(before_titles, chat_answers):
    migrate(latest())
    assessment, _ = Assessment.create_scored("Team chat", chat_answers)
    assessment.revise("Renamed chat", chat_answers)

    old_apps = migrate(BEFORE_REVISION_TITLE).loader.project_state(BEFORE_REVISION_TITLE).apps

    old_assessment = old_apps.get_model("questionnaire", "Assessment")
    assert old_assessment.objects.get(pk=assessment.pk).title == "Renamed chat"
