"""Auditors and governance leads read every decision; integrations and analysts act through
object permissions and the API, not model permissions."""

from django.db import migrations

from governance import rbac


def forwards(apps, schema_editor):
    rbac.ensure_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("decisions", "0002_decision_event_append_only"), ("governance", "0003_role_groups")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
