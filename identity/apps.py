from __future__ import annotations

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Signing in"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the audit and group receivers)
