from __future__ import annotations

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Signing in"

    def ready(self) -> None:
        from django.contrib import admin

        from . import signals  # noqa: F401  (connects the audit and group receivers)
        from .forms import AdminLoginForm

        # The admin's sign-in under the same failed sign-in limits as ours.
        admin.site.login_form = AdminLoginForm
