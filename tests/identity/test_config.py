"""Reading OIDC_GROUP_ROLES and the other OIDC_* variables (identity/config.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from identity.config import (
    ROLES,
    SLUG_PATTERN,
    csp_with_issuer,
    parse_group_roles,
    roles_for,
    socialaccount_providers,
)
from workspaces.models import SLUG_PATTERN as MODEL_SLUG_PATTERN
from workspaces.models import Role

OIDC = {
    "OIDC_ISSUER": "https://id.example.com/realms/main",
    "OIDC_CLIENT_ID": "advisor",
    "OIDC_CLIENT_SECRET": "secret",
}


def test_parse_group_roles_reads_every_entry() -> None:
    mapping = parse_group_roles(
        "payments-team=payments:editor, architects=payments:reviewer,"
        "platform-admins=payments:owner,platform-admins=web:viewer"
    )
    assert mapping == {
        "payments-team": {"payments": "editor"},
        "architects": {"payments": "reviewer"},
        "platform-admins": {"payments": "owner", "web": "viewer"},
    }


def test_parse_group_roles_empty_is_no_mapping() -> None:
    assert parse_group_roles("") == {}


def test_parse_group_roles_group_may_hold_equals_sign() -> None:
    assert parse_group_roles("cn=payments=payments:viewer") == {
        "cn=payments": {"payments": "viewer"}
    }


@pytest.mark.parametrize("entry", ["payments-team", "=payments:editor", "payments:editor"])
def test_parse_group_roles_refuses_entry_without_group(entry: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="is not group=workspace:role"):
        parse_group_roles(entry)


@pytest.mark.parametrize("entry", ["team=payments", "team=:editor", "team=payments:"])
def test_parse_group_roles_refuses_entry_without_workspace_and_role(entry: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="must name a workspace and a role"):
        parse_group_roles(entry)


@pytest.mark.parametrize("slug", ["Payments", "pay_ments", "-payments", "a" * 51])
def test_parse_group_roles_refuses_bad_slug(slug: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="is not a workspace slug"):
        parse_group_roles(f"team={slug}:editor")


def test_parse_group_roles_refuses_unknown_role() -> None:
    with pytest.raises(ImproperlyConfigured, match="'admin' .* is not a role"):
        parse_group_roles("team=payments:admin")


def test_parse_group_roles_refuses_two_roles_for_one_group_and_workspace() -> None:
    with pytest.raises(ImproperlyConfigured, match="twice, as editor and as owner"):
        parse_group_roles("team=payments:editor,team=payments:owner")


def test_roles_for_takes_highest_role_per_workspace() -> None:
    mapping = parse_group_roles(
        "a=payments:viewer,b=payments:owner,c=payments:editor,c=web:viewer"
    )
    assert roles_for(["a", "b", "c", "unmapped"], mapping) == {
        "payments": "owner",
        "web": "viewer",
    }


def test_config_matches_workspace_models() -> None:
    assert SLUG_PATTERN == MODEL_SLUG_PATTERN
    assert tuple(Role.values) == ROLES


def test_socialaccount_providers_none_without_issuer() -> None:
    assert socialaccount_providers({}) == {}


def test_socialaccount_providers_configures_one_app() -> None:
    providers = socialaccount_providers({**OIDC, "OIDC_PROVIDER_NAME": "Acme SSO"})
    (app,) = providers["oidc"]["APPS"]
    assert app["provider_id"] == "sso"
    assert app["name"] == "Acme SSO"
    assert app["settings"]["server_url"] == OIDC["OIDC_ISSUER"]
    assert providers["oidc"]["OAUTH_PKCE_ENABLED"] is True


def test_socialaccount_providers_default_name() -> None:
    assert socialaccount_providers(OIDC)["oidc"]["APPS"][0]["name"] == "Company sign-in"


def test_socialaccount_providers_refuses_missing_client() -> None:
    with pytest.raises(ImproperlyConfigured, match="OIDC_CLIENT_ID and OIDC_CLIENT_SECRET"):
        socialaccount_providers({"OIDC_ISSUER": OIDC["OIDC_ISSUER"]})


def test_socialaccount_providers_refuses_plain_http_issuer() -> None:
    with pytest.raises(ImproperlyConfigured, match="https://"):
        socialaccount_providers({**OIDC, "OIDC_ISSUER": "http://id.example.com"})


def test_socialaccount_providers_allows_plain_http_on_loopback() -> None:
    assert socialaccount_providers({**OIDC, "OIDC_ISSUER": "http://127.0.0.1:9000"})


def test_csp_with_issuer_allows_form_to_issuer_origin() -> None:
    policy = {"DIRECTIVES": {"form-action": ["'self'"]}}
    widened = csp_with_issuer(policy, "https://id.example.com/realms/main")
    assert widened["DIRECTIVES"]["form-action"] == ["'self'", "https://id.example.com"]
    assert policy["DIRECTIVES"]["form-action"] == ["'self'"]
