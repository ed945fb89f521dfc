"""Governance leads edit IdP group mappings; auditors read them (governance.rbac)."""

from django.db import migrations

from governance import rbac


def forwards(apps, schema_editor):
    rbac.ensure_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0009_sso_group_mapping_step_up"),
        ("decisions", "0023_decision_event_failure_index"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
