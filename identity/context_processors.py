from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def sign_in(request: HttpRequest) -> dict:
    """Whether the sign-in page offers a password form (ADVISOR_LOCAL_LOGIN), and
    whether people without an account may use the site (ADVISOR_ANONYMOUS)."""
    return {
        "local_login": settings.ADVISOR_LOCAL_LOGIN,
        "anonymous_mode": settings.ADVISOR_ANONYMOUS,
    }
