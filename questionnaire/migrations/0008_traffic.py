from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("questionnaire", "0007_decisions"),
    ]

    operations = [
        migrations.AddField(
            model_name="revision",
            name="traffic",
            field=models.JSONField(blank=True, null=True),
        ),
    ]
