from __future__ import annotations

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class NetworkCheckConfig(AppConfig):
    name = "network_check"
    verbose_name = "Network check"

    def ready(self) -> None:
        from questionnaire.catalogue import available_versions, get_catalogue

        from .suggestions import catalogue_problems

        # A catalogue that maps a measure or an outcome this check does not
        # have would silently suggest nothing: stop the server instead.
        for version in available_versions():
            problems = catalogue_problems(get_catalogue(version))
            if problems:
                raise ImproperlyConfigured(f"catalogue {version}: {'; '.join(problems)}")
