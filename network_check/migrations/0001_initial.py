"""NetworkCheck, moved here from the questionnaire app with its table and rows.

The table ``questionnaire_networkcheck`` was made by questionnaire's 0002 and
keeps its name (``Meta.db_table``), so this migration changes only Django's
idea of which app the model belongs to: no table is created, copied or
renamed, and revisions' foreign keys keep pointing at the same rows.
questionnaire's 0003 then drops the model from its own state.
"""

from __future__ import annotations

import uuid

from django.db import migrations, models


def rename_content_type(apps, schema_editor) -> None:
    """Keep the model's content type (and so its permissions and admin log) as it moves."""
    _relabel(apps, "questionnaire", "network_check")


def restore_content_type(apps, schema_editor) -> None:
    _relabel(apps, "network_check", "questionnaire")


def _relabel(apps, old: str, new: str) -> None:
    content_types = apps.get_model("contenttypes", "ContentType")
    # A fresh database has none yet; post_migrate makes it under the new label.
    if content_types.objects.filter(app_label=new, model="networkcheck").exists():
        return
    content_types.objects.filter(app_label=old, model="networkcheck").update(app_label=new)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("questionnaire", "0002_network_check"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="NetworkCheck",
                    fields=[
                        (
                            "id",
                            models.UUIDField(
                                default=uuid.uuid4,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("user_agent", models.CharField(blank=True, max_length=512)),
                        ("measurement", models.JSONField()),
                    ],
                    options={
                        "ordering": ["-created_at"],
                        "db_table": "questionnaire_networkcheck",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(rename_content_type, restore_content_type),
    ]
