from __future__ import annotations

from django.apps import AppConfig


class ServingConfig(AppConfig):
    name = "serving"
    verbose_name = "Serving"

    def ready(self) -> None:
        # Registers the deployment checks that see serving.middleware's
        # classes as the Django classes they are (serving/checks.py).
        from . import checks  # noqa: F401
