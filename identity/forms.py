from __future__ import annotations

from allauth.account.adapter import get_adapter
from allauth.account.forms import LoginForm
from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm


class PasswordLoginForm(LoginForm):
    """allauth's sign-in form, closed while ADVISOR_LOCAL_LOGIN is off.

    The backends refuse the password anyway (identity/backends.py); this
    says why, instead of "not correct", to someone posting one.
    """

    def clean(self):
        if not settings.ADVISOR_LOCAL_LOGIN:
            raise forms.ValidationError(
                "Signing in with a password is turned off here: use single sign-on."
            )
        return super().clean()


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's sign-in, counted against allauth's failed sign-in limits.

    Django's own form calls authenticate() directly, which no limit guards:
    the admin's page would let anyone guess a staff account's password
    without end. allauth's adapter checks the limits (the client's and the
    username's, shared with the sign-in page) before the password, and counts
    a failure against both.
    """

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            self.user_cache = get_adapter(self.request).authenticate(
                self.request, username=username, password=password
            )
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
