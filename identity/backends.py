"""Password backends that refuse every password while ADVISOR_LOCAL_LOGIN is off.

Both of the site's password checks go through these: allauth's sign-in
page and the admin's. With local sign-in off, single sign-on is the only
way in, whatever form a password is posted to. Signing in by SSO uses no
backend's authenticate(), only get_user(), which still works.
"""

from __future__ import annotations

from allauth.account.auth_backends import AuthenticationBackend
from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class LocalPasswordBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if not settings.ADVISOR_LOCAL_LOGIN:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class AccountBackend(AuthenticationBackend):
    def authenticate(self, request, **credentials):
        if not settings.ADVISOR_LOCAL_LOGIN:
            return None
        return super().authenticate(request, **credentials)
