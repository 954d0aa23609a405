from __future__ import annotations

from django.apps import AppConfig


class QuestionnaireConfig(AppConfig):
    name = "questionnaire"
    verbose_name = "Questionnaire and assessments"

    def ready(self) -> None:
        from . import decisions, live, notify
        from .catalogue import available_versions, get_catalogue

        # Emails for review requests and decisions, once each change commits.
        notify.connect()
        # The live decision streams' wake-ups (live.py).
        decisions.decision_changed.connect(live.publish, dispatch_uid="decision-stream-publish")

        # Read and cross-check every catalogue once at start-up, so a broken
        # data file stops the server instead of failing a user's request.
        for version in available_versions():
            get_catalogue(version)
