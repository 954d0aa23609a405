from __future__ import annotations

from django.apps import AppConfig


class QuestionnaireConfig(AppConfig):
    name = "questionnaire"
    verbose_name = "Questionnaire and assessments"

    def ready(self) -> None:
        from . import notify
        from .catalogue import available_versions, get_catalogue

        # Emails for review requests and decisions, once each change commits.
        notify.connect()

        # Read and cross-check every catalogue once at start-up, so a broken
        # data file stops the server instead of failing a user's request.
        for version in available_versions():
            get_catalogue(version)
