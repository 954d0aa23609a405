"""API tokens, and the sign-in that anonymous mode off asks of every other request.

One middleware, so that no entry point can forget it: a view added later is
behind sign-in unless it is one of the few that are public (signing in, the
admin's own sign-in, the live demo while ADVISOR_PUBLIC_DEMO is on).

Its hooks run on the event loop under ASGI and touch the database only when
they must: a bearer token is looked up, and the user is loaded only when
anonymous mode is off (a page then needs one anyway).
"""

from __future__ import annotations

from datetime import timedelta

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from advisor.http import is_json_endpoint

from .access import (
    FORBIDDEN,
    UNAUTHENTICATED,
    Principal,
    Unauthenticated,
    api_refusal,
    token_principal,
)
from .models import ApiToken

PUBLIC_MODULES = ("allauth.", "django.contrib.admin.", "identity.")
DEMO_MODULES = ("live_demo.",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
PAGE_FORMS_NEED_SIGN_IN = (
    "an API token reads pages and uses the API (/api/); a page form needs a signed-in browser"
)


def unauthenticated(request: HttpRequest, message: str | None = None) -> HttpResponse:
    """401 with a Bearer challenge from the API; the sign-in page for a person."""
    if is_json_endpoint(request) or request.headers.get("Authorization"):
        return api_refusal(UNAUTHENTICATED, message or "")
    return redirect_to_login(request.get_full_path())


TOKEN_REFUSED = "the token is unknown, revoked or expired, or its user left"


def bearer_secret(request: HttpRequest) -> str | None:
    """The token of an ``Authorization: Bearer`` header, "" for a malformed one, None for none."""
    return bearer_of(request.headers.get("Authorization"))


def bearer_of(header: str | None) -> str | None:
    """``bearer_secret`` of an Authorization header's value (also for a stream's ASGI scope)."""
    if header is None:
        return None
    scheme, _, secret = header.strip().partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


# "Last used" is shown to the minute: a script calling many times a second
# writes it once a minute, not on every call.
LAST_USED_PRECISION = timedelta(minutes=1)


def token_principal_for(secret: str) -> Principal | None:
    """The principal a token makes, with its user's role looked up once; None if it makes none."""
    token = ApiToken.authenticate(secret)
    if token is None:
        return None
    # The token's user acts only while still a member of its workspace.
    role = (
        token.user.memberships.filter(workspace_id=token.workspace_id)
        .values_list("role", flat=True)
        .first()
    )
    if role is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    principal = token_principal(token)
    principal._roles[token.workspace_id] = role
    return principal


def _needs_sign_in(callback) -> bool:
    """Whether the view behind ``callback`` answers signed-in people only, now."""
    module = getattr(callback, "__module__", "") or ""
    if module.startswith(DEMO_MODULES):
        # The demo has its own switch, whatever anonymous mode says.
        return not settings.ADVISOR_PUBLIC_DEMO
    if module.startswith(PUBLIC_MODULES):
        return False
    return not settings.ADVISOR_ANONYMOUS


class AccessMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        return self.get_response(request)

    async def process_view(self, request: HttpRequest, callback, args, kwargs):
        secret = bearer_secret(request)
        if secret is not None:
            principal = await sync_to_async(token_principal_for)(secret) if secret else None
            if principal is None:
                return unauthenticated(request, TOKEN_REFUSED)
            if request.method not in SAFE_METHODS and not is_json_endpoint(request):
                # A page form is a person's, in their browser. A program can
                # fetch a CSRF token as easily as a browser, so without this a
                # token (a leaked one too) could add members, give its user's
                # role to another account and outlive its own revocation.
                return api_refusal(FORBIDDEN, PAGE_FORMS_NEED_SIGN_IN)
            request._principal = principal
            # A token is not a session: nothing it does depends on the cookies.
            return None
        if not _needs_sign_in(callback):
            return None
        user = await request.auser()
        if not user.is_authenticated:
            return unauthenticated(request)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, Unauthenticated):
            return unauthenticated(request)
        return None
