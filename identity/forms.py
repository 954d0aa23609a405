from __future__ import annotations

from allauth.account.forms import LoginForm
from django import forms
from django.conf import settings


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
