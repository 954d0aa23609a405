"""The API's view decorator: `advisor.http.json_methods`, plus CSRF for signed-in sessions.

`json_methods` exempts the API from Django's CSRF check, because a program
(a token) or an anonymous browser session carries no authority a cookie
could lend another site's page: its writes are kept to this site by the JSON
content type and the Origin check. A signed-in person's session cookie is
such an authority, so a write made with it alone (no Bearer token) must also
pass Django's CSRF check, as Django REST framework's SessionAuthentication
asks. A token request never needs one: no browser adds the header by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware

from advisor.http import error_response, json_methods

from .access import principal_of


class _CsrfCheck(CsrfViewMiddleware):
    """Django's own check, with its reason returned instead of the failure page."""

    def _reject(self, request: HttpRequest, reason: str) -> str:
        return reason


def csrf_refusal(request: HttpRequest) -> HttpResponse | None:
    """403 ``{"errors": {"csrf": ...}}`` for an unsafe request by a session user, token missing."""
    principal = principal_of(request)
    if principal.token is not None or principal.user is None:
        return None
    check = _CsrfCheck(lambda request: None)
    check.process_request(request)
    # No callback: nothing here is exempt. Safe methods pass inside.
    reason = check.process_view(request, None, (), {})
    if reason is None:
        return None
    return error_response(
        403,
        {
            "csrf": f"CSRF check failed ({reason}). A signed-in browser sends the csrftoken "
            "cookie's value in an X-CSRFToken header; a program sends an API token instead."
        },
    )


def api_methods(*methods: str) -> Callable:
    """`json_methods` (405, 415, Origin, rate), then the session CSRF check, then the view."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            return csrf_refusal(request) or view(request, *args, **kwargs)

        return json_methods(*methods)(checked)

    return decorator
