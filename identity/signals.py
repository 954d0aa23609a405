"""The audit log's entries for signing in and out, and the groups' sync at SSO sign-in.

Django's signals, not allauth's, for the audit: they fire for every way in
(allauth's pages, the admin's sign-in) and for every failed password.
"""

from __future__ import annotations

from allauth.account.signals import user_logged_in as allauth_logged_in
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from workspaces.audit import record
from workspaces.models import AuditAction

from .config import PROVIDER
from .groups import on_sso_sign_in

# A username longer than this is not one (the user model allows 150).
USERNAME_CHARS = 150


@receiver(user_logged_in, dispatch_uid="identity.audit_sign_in")
def audit_sign_in(sender, request, user, **kwargs) -> None:
    if request is None:
        return
    # The request may have been looked at as anonymous before this sign-in
    # (workspaces.access caches its principal); from now on it is the user.
    request.__dict__.pop("_principal", None)
    record(request, AuditAction.SIGN_IN, user=user, actor=user.get_username())


@receiver(user_login_failed, dispatch_uid="identity.audit_sign_in_failed")
def audit_sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django has already masked the password in ``credentials``; only the
    # username tried is kept.
    username = str(credentials.get("username") or credentials.get("email") or "")
    record(
        request,
        AuditAction.SIGN_IN_FAILED,
        detail={"username": username[:USERNAME_CHARS]},
    )


@receiver(user_logged_out, dispatch_uid="identity.audit_sign_out")
def audit_sign_out(sender, request, user, **kwargs) -> None:
    if request is None or user is None:
        return
    record(request, AuditAction.SIGN_OUT, user=user, actor=user.get_username())


@receiver(allauth_logged_in, dispatch_uid="identity.sync_groups")
def sync_groups(sender, request, user, sociallogin=None, **kwargs) -> None:
    if sociallogin is None or sociallogin.account.get_provider(request).id != PROVIDER:
        return
    on_sso_sign_in(request, user, sociallogin.account.extra_data or {})
