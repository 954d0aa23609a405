# NetworkCheck moved to the network_check app (see its 0001_initial): the
# table and its rows stay where they are, only the state changes here.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('questionnaire', '0002_network_check'),
        ('network_check', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='revision',
                    name='network_check',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='revisions', to='network_check.networkcheck'),
                ),
                migrations.DeleteModel(name='NetworkCheck'),
            ],
            database_operations=[],
        ),
    ]
