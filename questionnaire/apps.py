from __future__ import annotations

from django.apps import AppConfig


class QuestionnaireConfig(AppConfig):
    name = "questionnaire"
    verbose_name = "Questionnaire and assessments"

    def ready(self) -> None:
        from . import decisions, live
        from .catalogue import available_versions, get_catalogue

        decisions.decision_changed.connect(live.publish, dispatch_uid="decision-stream-publish")

        # Read and cross-check every catalogue once at start-up, so a broken
        # data file stops the server instead of failing a user's request.
        for version in available_versions():
            get_catalogue(version)
