"""Governance leads edit IdP group mappings; auditors read them (governance.rbac)."""

from django.db import migrations

from governance import rbac


def forwards(apps, schema_editor):
    rbac.ensure_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0010_sso_group_mapping_step_up"),
        ("decisions", "0026_break_glass"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
