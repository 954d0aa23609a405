from __future__ import annotations

import uuid

from django.db import models

from workspaces.models import Owned

USER_AGENT_MAX_LENGTH = 512


class NetworkCheck(Owned):
    """A measurement of the path between one browser and this advisor server.

    Stored as the cleaned document the browser posted (``validation.validate_measurement``);
    findings and suggestions are derived from it when shown.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    user_agent = models.CharField(max_length=USER_AGENT_MAX_LENGTH, blank=True)
    measurement = models.JSONField()

    class Meta(Owned.Meta):
        ordering = ["-created_at"]
        # The table the model had in the questionnaire app: moving the model
        # moved no row, and assessments' revisions still point at it.
        db_table = "questionnaire_networkcheck"

    def __str__(self) -> str:
        return f"Network check {str(self.id)[:8]}"

    @classmethod
    def find(cls, value: str) -> NetworkCheck | None:
        """The check whose id ``value`` spells, None for an unknown id or for anything else."""
        try:
            pk = uuid.UUID(value)
        except ValueError:
            return None
        return cls.objects.filter(pk=pk).first()
