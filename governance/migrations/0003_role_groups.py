"""The RBAC baseline: four groups. Analysts and integrations get no admin permissions."""

from django.db import migrations

from governance import rbac


def forwards(apps, schema_editor):
    rbac.ensure_groups(apps)


def backwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(
        name__in=[rbac.GOVERNANCE_LEAD, rbac.AUDITOR, rbac.ANALYST, rbac.INTEGRATION]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0002_ownership_no_overlap_postgres"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
