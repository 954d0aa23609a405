"""Assessments and network checks stored before workspaces are kept, readable, and claimable."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from network_check.models import NetworkCheck
from questionnaire.models import Assessment
from questionnaire.scoring import evaluate
from tests.migrations import latest, migrate, migrated_back
from tests.network_check.measurements import measurement
from workspaces.access import Action, Principal, decide
from workspaces.models import Membership, Role, Workspace

# The last state before workspaces existed.
BEFORE = [
    ("questionnaire", "0004_revision_title"),
    ("network_check", "0001_initial"),
    ("workspaces", None),
]
STATE_BEFORE = [("questionnaire", "0004_revision_title"), ("network_check", "0001_initial")]


@pytest.fixture
def stored_before(catalogue):
    """An assessment with one revision and its network check, stored before workspaces."""
    answers = catalogue.with_defaults(catalogue.preset("dashboard").answers)
    result = evaluate(catalogue, answers)
    with migrated_back(BEFORE, STATE_BEFORE) as apps:
        check = apps.get_model("network_check", "NetworkCheck").objects.create(
            measurement=measurement(), user_agent="Old/1.0"
        )
        assessment = apps.get_model("questionnaire", "Assessment").objects.create(
            title="Stored before", recommendation=result.recommendation, confidence="moderate"
        )
        apps.get_model("questionnaire", "Revision").objects.create(
            assessment=assessment,
            number=1,
            title="Stored before",
            catalogue_version=catalogue.version,
            answers=dict(answers),
            result=result.to_dict(),
            network_check=check,
        )
    # migrated_back migrated the database forward again on leaving.
    return assessment.pk, check.pk


@pytest.mark.django_db(transaction=True)
def test_stored_rows_kept_and_marked_unassigned(stored_before):
    assessment_pk, check_pk = stored_before
    assessment = Assessment.objects.get(pk=assessment_pk)
    check = NetworkCheck.objects.get(pk=check_pk)
    assert (assessment.title, assessment.scope) == ("Stored before", "unassigned")
    assert check.scope == "unassigned"
    assert assessment.revisions.get().network_check == check


@pytest.mark.django_db(transaction=True)
def test_rows_made_after_the_migration_are_not_unassigned(stored_before):
    check = NetworkCheck.objects.create(measurement=measurement())
    assert check.scope == "anonymous"


@pytest.mark.django_db(transaction=True)
def test_stored_assessment_still_readable_by_its_link(stored_before):
    assessment_pk, _ = stored_before
    response = Client().get(f"/assessments/{assessment_pk}/")
    assert response.status_code == 200
    assert "Stored before" in response.text


@pytest.mark.django_db(transaction=True)
def test_stored_assessment_claimable_only_by_an_owner(stored_before):
    assessment_pk, _ = stored_before
    assessment = Assessment.objects.get(pk=assessment_pk)
    workspace = Workspace.objects.create(slug="team", name="Team")
    users = get_user_model().objects
    owner, editor = users.create_user("owner"), users.create_user("editor")
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    Membership.objects.create(workspace=workspace, user=editor, role=Role.EDITOR)
    assert decide(Principal(user=owner), Action.CLAIM, assessment) == 0
    assert decide(Principal(user=editor), Action.CLAIM, assessment) == 403
    assert decide(Principal(user=editor), Action.REVISE, assessment) == 403


@pytest.mark.django_db(transaction=True)
def test_migrations_reversible_with_data(stored_before):
    migrate(BEFORE)
    migrate(latest())
    assert Assessment.objects.filter(unassigned=True).count() == 1
