"""Reading the sign-in settings from the environment (used by advisor/settings.py).

Plain Python, no models: the settings module imports it before apps load.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

# The same as workspaces.models.SLUG_PATTERN and Role's values (a test holds
# them equal): the models cannot be imported while settings load.
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$"
ROLES = ("owner", "editor", "reviewer", "viewer")  # highest first

# The allauth provider (identity/oidc) and the one app configured for it:
# together they make the callback URL, /accounts/oidc/sso/login/callback/,
# which is registered at the identity provider and so must never change.
PROVIDER = "oidc"
PROVIDER_ID = "sso"
CALLBACK_PATH = f"/accounts/{PROVIDER}/{PROVIDER_ID}/login/callback/"

GroupRoles = dict[str, dict[str, str]]


def parse_group_roles(text: str, *, name: str = "OIDC_GROUP_ROLES") -> GroupRoles:
    """``"group=slug:role,..."`` as {group: {workspace slug: role}}.

    The last "=" splits the group from the rest, so a group name may hold
    one ("cn=payments" of a directory); a comma may not. A group given the
    same workspace twice with different roles is refused: which was meant?
    """
    mapping: GroupRoles = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        group, equals, target = entry.rpartition("=")
        group = group.strip()
        if not equals or not group:
            raise ImproperlyConfigured(
                f"{name}: {entry!r} is not group=workspace:role "
                "(for example payments-team=payments:editor)"
            )
        slug, colon, role = (part.strip() for part in target.partition(":"))
        if not colon or not slug or not role:
            raise ImproperlyConfigured(
                f"{name}: {entry!r} must name a workspace and a role after '=', "
                "as in payments-team=payments:editor"
            )
        if not re.match(SLUG_PATTERN, slug):
            raise ImproperlyConfigured(
                f"{name}: {slug!r} in {entry!r} is not a workspace slug "
                "(lower-case letters, digits and inner hyphens, 1 to 50)"
            )
        if role not in ROLES:
            raise ImproperlyConfigured(
                f"{name}: {role!r} in {entry!r} is not a role; use one of {', '.join(ROLES)}"
            )
        given = mapping.setdefault(group, {})
        if given.get(slug, role) != role:
            raise ImproperlyConfigured(
                f"{name}: group {group!r} is given workspace {slug!r} twice, "
                f"as {given[slug]} and as {role}"
            )
        given[slug] = role
    return mapping


def roles_for(groups: list[str], mapping: GroupRoles) -> dict[str, str]:
    """{workspace slug: role} for these groups: the highest role where several map."""
    roles: dict[str, str] = {}
    for group in groups:
        for slug, role in mapping.get(group, {}).items():
            if slug not in roles or ROLES.index(role) < ROLES.index(roles[slug]):
                roles[slug] = role
    return roles


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_issuer(issuer: str) -> str:
    """The issuer URL as given, if it is one: HTTPS, or plain HTTP on loopback (tests)."""
    parts = urlsplit(issuer)
    if parts.scheme == "https" and parts.hostname:
        return issuer
    if parts.scheme == "http" and _loopback(parts.hostname):
        return issuer
    raise ImproperlyConfigured(
        f"OIDC_ISSUER must be an https:// URL (plain http only on loopback), not {issuer!r}"
    )


def socialaccount_providers(environ: Mapping[str, str]) -> dict:
    """SOCIALACCOUNT_PROVIDERS for OIDC_* in ``environ``: {} without OIDC_ISSUER.

    The app is configured here rather than as a database SocialApp, so the
    environment alone says which identity provider signs people in.
    """
    issuer = environ.get("OIDC_ISSUER", "").strip()
    if not issuer:
        return {}
    check_issuer(issuer)
    client_id = environ.get("OIDC_CLIENT_ID", "").strip()
    secret = environ.get("OIDC_CLIENT_SECRET", "")
    if not client_id or not secret:
        raise ImproperlyConfigured(
            "OIDC_ISSUER is set, so OIDC_CLIENT_ID and OIDC_CLIENT_SECRET must be too "
            "(the client registered at the identity provider)"
        )
    scopes = environ.get("OIDC_SCOPES", "").split() or ["openid", "profile", "email"]
    if "openid" not in scopes:
        raise ImproperlyConfigured(f"OIDC_SCOPES must include openid, not {scopes!r}")
    return {
        PROVIDER: {
            # PKCE (S256) binds the code to this browser's sign-in, even
            # where the identity provider does not require it.
            "OAUTH_PKCE_ENABLED": True,
            "SCOPE": scopes,
            "APPS": [
                {
                    "provider_id": PROVIDER_ID,
                    "name": environ.get("OIDC_PROVIDER_NAME", "").strip() or "Company sign-in",
                    "client_id": client_id,
                    "secret": secret,
                    "settings": {
                        "server_url": issuer,
                        # Groups may be in the userinfo only (Okta, Keycloak
                        # without a mapper to the ID token).
                        "fetch_userinfo": True,
                    },
                }
            ],
        }
    }


def issuer_origin(issuer: str) -> str:
    parts = urlsplit(issuer)
    return f"{parts.scheme}://{parts.netloc}"


def csp_with_issuer(policy: dict, issuer: str) -> dict:
    """``policy`` with the issuer's origin allowed as a form's target.

    The sign-in button posts to us and is redirected to the identity
    provider's authorization endpoint; browsers hold that redirect to the
    form-action directive too, so without this the button would be refused.
    """
    if not issuer:
        return policy
    directives = dict(policy["DIRECTIVES"])
    directives["form-action"] = [*directives["form-action"], issuer_origin(issuer)]
    return {**policy, "DIRECTIVES": directives}
