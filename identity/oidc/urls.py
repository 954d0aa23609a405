from __future__ import annotations

from django.urls import include, path

from identity.config import PROVIDER

from . import views

# /accounts/oidc/<provider_id>/login/ and .../login/callback/: the callback is
# the redirect URI registered at the identity provider (docs/access.md).
urlpatterns = [
    path(
        f"{PROVIDER}/<str:provider_id>/",
        include(
            [
                path("login/", views.login, name=f"{PROVIDER}_login"),
                path("login/callback/", views.callback, name=f"{PROVIDER}_callback"),
            ]
        ),
    )
]
