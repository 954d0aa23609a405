from __future__ import annotations

from django.apps import AppConfig


class OidcConfig(AppConfig):
    # Registered as an app only so that allauth finds provider.py in it.
    name = "identity.oidc"
    label = "identity_oidc"
    verbose_name = "OpenID Connect sign-in"
