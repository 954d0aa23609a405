"""manage.py apitoken and workspace: what operators run, each change logged as "operator"."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from workspaces.models import ApiToken, AuditAction, AuditEvent, Membership, Workspace

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def alice(member):
    return member("editor", username="alice")


# --- apitoken create -------------------------------------------------------------------------


def test_token_create_prints_only_the_token(alice):
    out = run("apitoken", "create", "alice", "--workspace", "ops")

    assert re.fullmatch(r"adv_[A-Za-z0-9_-]{43}\n", out)


def test_token_create_prints_a_working_token(client, alice):
    secret = run("apitoken", "create", "alice", "--workspace", "ops").strip()

    response = client.get("/api/assessments/", headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == 200


def test_token_create_stores_only_its_hash(alice):
    secret = run("apitoken", "create", "alice", "--workspace", "ops").strip()

    row = ApiToken.objects.values().get()

    assert not any(secret in str(value) for value in row.values())


def test_token_create_name_and_expiry(alice):
    run(
        "apitoken", "create", "alice", "--workspace", "ops", "--name", "ci", "--expires-days", "30"
    )

    token = ApiToken.objects.get()
    lifetime = round((token.expires_at - token.created_at) / timedelta(days=1))
    assert (token.name, lifetime) == ("ci", 30)


def test_token_create_is_audited_as_operator(alice):
    run("apitoken", "create", "alice", "--workspace", "ops")

    entry = AuditEvent.objects.get()
    assert (entry.action, entry.actor) == (AuditAction.TOKEN_CREATED, "operator")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("nobody", "--workspace", "ops"), "no user"),
        (("alice", "--workspace", "nowhere"), "no workspace"),
        (("alice", "--workspace", "sales"), "not a member"),
        (("alice", "--workspace", "ops", "--expires-days", "0"), "--expires-days"),
        (("alice", "--workspace", "ops", "--expires-days", "-3"), "--expires-days"),
        (("alice", "--workspace", "ops", "--expires-days", "ten"), "--expires-days"),
        (("alice", "--workspace", "ops", "--expires-days", "99999"), "--expires-days"),
        (("alice", "--workspace", "ops", "--name", "x" * 101), "--name"),
    ],
)
def test_token_create_refused_creates_nothing(alice, sales, args, says):
    with pytest.raises(CommandError, match=says):
        run("apitoken", "create", *args)

    assert (ApiToken.objects.count(), AuditEvent.objects.count()) == (0, 0)


def test_token_create_for_inactive_user_refused(alice):
    alice.is_active = False
    alice.save()

    with pytest.raises(CommandError, match="inactive"):
        run("apitoken", "create", "alice", "--workspace", "ops")


# --- apitoken revoke -------------------------------------------------------------------------


@pytest.fixture
def secret(alice) -> str:
    return run("apitoken", "create", "alice", "--workspace", "ops").strip()


def test_token_revoke_by_prefix(secret):
    run("apitoken", "revoke", secret[:12])

    assert ApiToken.objects.get().status == "revoked"


def test_token_revoke_by_whole_token(secret):
    run("apitoken", "revoke", secret)

    assert ApiToken.objects.get().status == "revoked"


def test_token_revoke_is_audited_as_operator(secret):
    run("apitoken", "revoke", secret[:12])

    entry = AuditEvent.objects.latest("id")
    assert (entry.action, entry.actor) == (AuditAction.TOKEN_REVOKED, "operator")


def test_token_revoked_stops_working(client, secret):
    run("apitoken", "revoke", secret[:12])

    response = client.get("/api/assessments/", headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == 401


@pytest.mark.parametrize("given", ["adv_", "adv_zzzzzzzzzzzz"])
def test_token_revoke_unknown_or_short_refused(secret, given):
    with pytest.raises(CommandError):
        run("apitoken", "revoke", given)

    assert ApiToken.objects.get().status == "active"


def test_token_revoke_twice_refused(secret):
    run("apitoken", "revoke", secret[:12])

    with pytest.raises(CommandError, match="no live token"):
        run("apitoken", "revoke", secret[:12])


def test_token_revoke_ambiguous_prefix_refused(secret, alice, ops):
    twin = ApiToken.objects.get()
    ApiToken.objects.create(
        user=alice, workspace=ops, prefix=twin.prefix, token_hash="0" * 64, name="twin"
    )

    with pytest.raises(CommandError, match="2 live tokens"):
        run("apitoken", "revoke", secret[:12])

    assert list(ApiToken.objects.values_list("revoked_at", flat=True)) == [None, None]


# --- workspace -------------------------------------------------------------------------------


def test_workspace_create(db):
    run("workspace", "create", "platform", "--name", "Platform team")

    assert Workspace.objects.values_list("slug", "name").get() == ("platform", "Platform team")


def test_workspace_create_is_audited_as_operator(db):
    run("workspace", "create", "platform", "--name", "Platform team")

    entry = AuditEvent.objects.get()
    assert (entry.action, entry.actor) == (AuditAction.WORKSPACE_CREATED, "operator")


@pytest.mark.parametrize(
    ("slug", "name"), [("Bad Slug", "x"), ("edge-", "x"), ("ops", "Again"), ("fine", "  ")]
)
def test_workspace_create_invalid_refused(ops, slug, name):
    with pytest.raises(CommandError, match="workspace not created"):
        run("workspace", "create", slug, "--name", name)

    assert Workspace.objects.count() == 1


def test_add_member_existing_user(ops, django_user_model):
    bob = django_user_model.objects.create_user("bob")

    run("workspace", "add-member", "ops", "bob", "--role", "viewer")

    assert Membership.objects.get(user=bob).role == "viewer"


def test_add_member_is_audited_as_operator(ops, django_user_model):
    django_user_model.objects.create_user("bob")

    run("workspace", "add-member", "ops", "bob", "--role", "viewer")

    entry = AuditEvent.objects.get()
    assert (entry.action, entry.actor) == (AuditAction.MEMBER_ADDED, "operator")


def test_add_member_again_changes_the_role(alice):
    run("workspace", "add-member", "ops", "alice", "--role", "owner")

    assert (Membership.objects.get(user=alice).role, AuditEvent.objects.get().action) == (
        "owner",
        AuditAction.MEMBER_ROLE_CHANGED,
    )


def test_add_member_unknown_user_refused(ops):
    with pytest.raises(CommandError, match="--create-user"):
        run("workspace", "add-member", "ops", "carol", "--role", "viewer")

    assert get_user_model().objects.count() == 0


def test_add_member_unknown_workspace_refused(alice):
    with pytest.raises(CommandError, match="no workspace"):
        run("workspace", "add-member", "nowhere", "alice", "--role", "viewer")


def test_add_member_unknown_role_refused(alice):
    with pytest.raises(CommandError):
        run("workspace", "add-member", "ops", "alice", "--role", "admin")

    assert Membership.objects.get(user=alice).role == "editor"


def test_add_member_creates_sso_user_without_password(ops, monkeypatch):
    monkeypatch.delenv("ADVISOR_NEW_USER_PASSWORD", raising=False)

    run("workspace", "add-member", "ops", "carol", "--role", "viewer", "--create-user")

    assert get_user_model().objects.get(username="carol").has_usable_password() is False


def test_add_member_creates_user_with_password_from_env(ops, monkeypatch):
    monkeypatch.setenv("ADVISOR_NEW_USER_PASSWORD", "a long and unusual passphrase 42")

    run("workspace", "add-member", "ops", "carol", "--role", "viewer", "--create-user")

    carol = get_user_model().objects.get(username="carol")
    assert carol.check_password("a long and unusual passphrase 42")


def test_add_member_weak_password_creates_nothing(ops, monkeypatch, settings):
    settings.AUTH_PASSWORD_VALIDATORS = [
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"}
    ]
    monkeypatch.setenv("ADVISOR_NEW_USER_PASSWORD", "short")

    with pytest.raises(CommandError, match="user not created"):
        run("workspace", "add-member", "ops", "carol", "--role", "viewer", "--create-user")

    assert (get_user_model().objects.count(), Membership.objects.count()) == (0, 0)


def test_add_member_bad_username_creates_nothing(ops):
    with pytest.raises(CommandError, match="user not created"):
        run("workspace", "add-member", "ops", "not a name!", "--role", "viewer", "--create-user")

    assert get_user_model().objects.count() == 0


def test_add_member_cannot_demote_the_last_owner(member):
    owner = member("owner", username="olga")

    with pytest.raises(CommandError, match="last owner"):
        run("workspace", "add-member", "ops", "olga", "--role", "viewer")

    assert Membership.objects.get(user=owner).role == "owner"


def test_add_member_sets_the_email_of_a_new_user(ops, monkeypatch):
    monkeypatch.delenv("ADVISOR_NEW_USER_PASSWORD", raising=False)

    new_carol = ["workspace", "add-member", "ops", "carol", "--role", "reviewer", "--create-user"]

    out = run(*new_carol, "--email", " carol@Example.COM ")

    assert get_user_model().objects.get(username="carol").email == "carol@example.com"
    assert "carol's email address is carol@example.com" in out


def test_add_member_sets_the_email_of_an_existing_user(alice):
    run("workspace", "add-member", "ops", "alice", "--role", "owner", "--email", "a@example.com")

    alice.refresh_from_db()
    assert (alice.email, Membership.objects.get(user=alice).role) == ("a@example.com", "owner")


@pytest.mark.parametrize(
    "email",
    ["", "alice", "alice@", "alice@example.com\nBcc: all@example.com", "a" * 250 + "@example.com"],
)
def test_add_member_bad_email_changes_nothing(alice, email):
    alice.email = "old@example.com"
    alice.save()

    with pytest.raises(CommandError, match="--email"):
        run("workspace", "add-member", "ops", "alice", "--role", "owner", "--email", email)
    new_dave = ["workspace", "add-member", "ops", "dave", "--role", "viewer", "--create-user"]
    with pytest.raises(CommandError, match="--email"):
        run(*new_dave, "--email", email)

    alice.refresh_from_db()
    assert (alice.email, Membership.objects.get(user=alice).role) == ("old@example.com", "editor")
    assert not get_user_model().objects.filter(username="dave").exists()
    assert not AuditEvent.objects.exists()


def test_add_member_refused_keeps_the_old_email(member):
    owner = member("owner", username="olga")
    owner.email = "olga@example.com"
    owner.save()

    with pytest.raises(CommandError, match="last owner"):
        run(
            "workspace",
            "add-member",
            "ops",
            "olga",
            "--role",
            "viewer",
            "--email",
            "o@example.com",
        )

    owner.refresh_from_db()
    assert owner.email == "olga@example.com"


def test_workspace_list(member, sales):
    member("owner")
    member("viewer")

    assert run("workspace", "list").splitlines() == ["ops\tOps\t2", "sales\tSales\t0"]
