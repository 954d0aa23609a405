"""The audit log is append-only; tokens and share links are stored as hashes."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from questionnaire.models import Assessment, ShareLink
from workspaces.models import ApiToken, AppendOnly, AuditAction, AuditEvent, Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def event() -> AuditEvent:
    return AuditEvent.objects.create(action=AuditAction.SIGN_IN, actor="alice")


def test_audit_event_cannot_be_changed(event):
    event.actor = "mallory"
    with pytest.raises(AppendOnly):
        event.save()
    assert AuditEvent.objects.get().actor == "alice"


def test_audit_event_cannot_be_deleted(event):
    with pytest.raises(AppendOnly):
        event.delete()
    assert AuditEvent.objects.count() == 1


def test_audit_log_cannot_be_updated_or_deleted_in_bulk(event):
    with pytest.raises(AppendOnly):
        AuditEvent.objects.update(actor="mallory")
    with pytest.raises(AppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get().actor == "alice"


def test_audit_event_outlives_its_user_and_workspace():
    user = get_user_model().objects.create_user("gone")
    workspace = Workspace.objects.create(slug="gone", name="Gone")
    AuditEvent.objects.create(
        action=AuditAction.SIGN_IN, actor="gone", actor_user=user, workspace=workspace
    )
    user_pk = user.pk
    user.delete()
    workspace.delete()
    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_user_id) == ("gone", user_pk)


def test_token_secret_long_and_unguessable():
    user = get_user_model().objects.create_user("alice")
    workspace = Workspace.objects.create(slug="team", name="Team")
    secrets = {ApiToken.issue(user, workspace)[1] for _ in range(20)}
    assert len(secrets) == 20
    # 32 random bytes, base64url: 43 characters after "adv_".
    assert all(len(secret) == 4 + 43 for secret in secrets)


def test_share_link_stored_only_as_hash(chat_answers):
    assessment, _ = Assessment.create_scored("Shared", chat_answers)
    link, secret = ShareLink.issue(assessment, expires_in_days=7)
    stored = ShareLink.objects.filter(pk=link.pk).values().get()
    assert all(secret not in str(value) for value in stored.values())
    assert ShareLink.find(secret) == link
    assert len(secret) - len("shr_") >= 22  # at least 128 bits in base64url


def test_share_link_find_refuses_other_strings(chat_answers):
    assessment, _ = Assessment.create_scored("Shared", chat_answers)
    link, secret = ShareLink.issue(assessment)
    assert ShareLink.find(secret[:-1]) is None
    assert ShareLink.find("shr_" + "x" * 500) is None
    assert ShareLink.find(link.token_hash) is None
