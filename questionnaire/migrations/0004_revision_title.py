# The title moves onto each revision, like the answers: editing it in a new
# revision no longer renames the earlier ones. Assessment.title stays, as a
# copy of the latest revision's title for lists.

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_titles(apps, schema_editor):
    # Earlier titles were overwritten in place and are gone: the assessment's
    # current title is the best every existing revision can get. One UPDATE,
    # however many revisions there are.
    Assessment = apps.get_model('questionnaire', 'Assessment')
    Revision = apps.get_model('questionnaire', 'Revision')
    Revision.objects.update(
        title=Subquery(Assessment.objects.filter(pk=OuterRef('assessment_id')).values('title')[:1])
    )


class Migration(migrations.Migration):

    dependencies = [
        ('questionnaire', '0003_network_check_moved'),
    ]

    operations = [
        migrations.AddField(
            model_name='revision',
            name='title',
            field=models.CharField(blank=True, default='', max_length=200),
            preserve_default=False,
        ),
        # Backwards nothing is needed: Assessment.title already holds the
        # latest revision's title, which is all the old schema kept.
        migrations.RunPython(copy_titles, migrations.RunPython.noop),
    ]
