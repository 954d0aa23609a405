"""allauth pages this advisor does not offer: they are answered 404 before allauth sees them."""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django.urls import re_path


def not_offered(request: HttpRequest, *args, **kwargs):
    raise Http404("This advisor does not offer that page.")


# Operators give local accounts their passwords (manage.py workspace
# add-member --create-user, the admin). A reset by email, setting a first
# password or adding an address would let a single-sign-on user make
# themselves a local password and sign in past the identity provider (and its
# second factor); linking accounts would let a local account take over a
# company identity. (A first sign-on whose username is taken still
# picks another on allauth's social sign-up page.)
NOT_OFFERED = [
    re_path(r"^password/(?:set|reset)/", not_offered),
    re_path(r"^email/", not_offered),
    re_path(r"^confirm-email/", not_offered),
    re_path(r"^(?:3rdparty|social)/(?:connections/)?$", not_offered),
]
