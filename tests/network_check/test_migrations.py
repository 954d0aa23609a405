"""Moving NetworkCheck into its own app keeps every stored check and every revision's link."""

from __future__ import annotations

import uuid

import pytest

from network_check.models import NetworkCheck
from questionnaire.models import Revision
from tests.migrations import latest, migrate, migrated_back

from .measurements import measurement

# The last state with NetworkCheck in the questionnaire app.
BEFORE_MOVE = [("questionnaire", "0002_network_check"), ("network_check", None)]
STATE_BEFORE_MOVE = [
    ("questionnaire", "0002_network_check"),
    ("contenttypes", "0002_remove_content_type_name"),
]


@pytest.fixture
def before_move():
    """The apps as they were before the move; the database migrated forward afterwards."""
    with migrated_back(BEFORE_MOVE, STATE_BEFORE_MOVE) as apps:
        yield apps


@pytest.mark.django_db(transaction=True)
def test_moving_the_model_keeps_checks_and_links(before_move):
    old_check = before_move.get_model("questionnaire", "NetworkCheck")
    old_assessment = before_move.get_model("questionnaire", "Assessment")
    old_revision = before_move.get_model("questionnaire", "Revision")
    stored = measurement(simulated=["blocked"])
    check = old_check.objects.create(measurement=stored, user_agent="Old/1.0")
    assessment = old_assessment.objects.create(
        title="Before the move", recommendation="sse", confidence="slight"
    )
    old_revision.objects.create(
        assessment=assessment,
        number=1,
        catalogue_version="2",
        answers={},
        result={},
        network_check=check,
    )

    migrate(latest())

    moved = NetworkCheck.objects.get(pk=check.pk)
    revision = Revision.objects.select_related("network_check").get(assessment_id=assessment.pk)
    assert (moved.measurement, moved.user_agent) == (stored, "Old/1.0")
    assert revision.network_check == moved
    assert list(moved.revisions.all()) == [revision]


@pytest.mark.django_db(transaction=True)
def test_deleting_a_moved_check_still_only_unlinks_revisions(before_move):
    old_check = before_move.get_model("questionnaire", "NetworkCheck")
    old_assessment = before_move.get_model("questionnaire", "Assessment")
    old_revision = before_move.get_model("questionnaire", "Revision")
    check = old_check.objects.create(measurement=measurement(), user_agent="")
    assessment = old_assessment.objects.create(recommendation="sse", confidence="slight")
    old_revision.objects.create(
        assessment=assessment,
        number=1,
        catalogue_version="2",
        answers={},
        result={},
        network_check=check,
    )

    migrate(latest())
    NetworkCheck.objects.get(pk=check.pk).delete()

    assert Revision.objects.get(assessment_id=assessment.pk).network_check_id is None


@pytest.mark.django_db(transaction=True)
def test_content_type_follows_the_model(before_move):
    content_types = before_move.get_model("contenttypes", "ContentType")
    # Made by post_migrate when the test database was set up, and labelled
    # back to the questionnaire when the move was undone.
    old, _ = content_types.objects.get_or_create(app_label="questionnaire", model="networkcheck")

    migrate(latest())

    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    assert ContentType.objects.get_for_model(NetworkCheck).pk == old.pk


def test_table_name_is_unchanged():
    # Rows stay where they were: the move renamed no table.
    assert NetworkCheck._meta.db_table == "questionnaire_networkcheck"
    assert isinstance(NetworkCheck._meta.pk.default(), uuid.UUID)
