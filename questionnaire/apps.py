from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings


class QuestionnaireConfig(AppConfig):
    name = "questionnaire"
    verbose_name = "Questionnaire and assessments"

    def ready(self) -> None:
        from django.core.signals import request_started
        from django.db.models.signals import post_delete, post_save

        from workspaces.models import Membership

        from . import decisions, live, notify, prerender, render_pool
        from .catalogue import available_versions, get_catalogue
        from .snapshot import deploy_fingerprint

        # Emails for review requests and decisions, once each change commits.
        notify.connect()
        # A changed decision's report, made in advance (prerender.py).
        prerender.connect()
        # The live decision streams' wake-ups (live.py).
        decisions.decision_changed.connect(live.publish, dispatch_uid="decision-stream-publish")
        for changed in (post_save, post_delete):
            changed.connect(
                live.membership_changed, sender=Membership, dispatch_uid="decision-stream-member"
            )

        # Read and cross-check every catalogue once at start-up, so a broken
        # data file stops the server instead of failing a user's request.
        for version in available_versions():
            get_catalogue(version)
        # The files as this process loaded them name its cached renderings
        # (snapshot.py): hashed now, not at the first render, which may come
        # after a deploy has already replaced them on disk.
        deploy_fingerprint()
        # The PDF render workers start in the background at the first
        # request, so the first download does not wait for them.
        if settings.ADVISOR_REPORT_WORKERS_EARLY:
            request_started.connect(
                render_pool.start_at_first_request, dispatch_uid=render_pool.EARLY_START
            )
