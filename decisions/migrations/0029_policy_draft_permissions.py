from django.db import migrations

from governance import rbac


def forwards(apps, schema_editor):
    rbac.ensure_groups(apps)  # leads draft, replay and activate policies; auditors read the drafts


class Migration(migrations.Migration):
    dependencies = [("decisions", "0028_policy_drafts")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)]
