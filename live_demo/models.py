from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from network_check.models import USER_AGENT_MAX_LENGTH


class WorkloadRun(models.Model):
    """One run of an assessment's own workload over both transports, as the browser measured it.

    Evidence for one revision: its page and its PDF show it. Stored as the
    cleaned document the browser posted (``workload.validation.validate_run``);
    who may add one is who may revise the assessment (``workspaces.access``).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    revision = models.ForeignKey(
        "questionnaire.Revision", on_delete=models.CASCADE, related_name="workload_runs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    user_agent = models.CharField(max_length=USER_AGENT_MAX_LENGTH, blank=True)
    workload = models.JSONField()
    measurement = models.JSONField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Workload run {str(self.id)[:8]}"
