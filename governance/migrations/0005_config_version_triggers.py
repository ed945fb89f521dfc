"""Triggers that change governance_configversion.token on any write to a table routing reads
(see governance.dbtriggers)."""

from django.db import migrations

from governance import dbtriggers


def forwards(apps, schema_editor):
    ConfigVersion = apps.get_model("governance", "ConfigVersion")
    ConfigVersion.objects.update_or_create(pk=1, defaults={"token": "initial"})
    dbtriggers.install(schema_editor)


def backwards(apps, schema_editor):
    dbtriggers.uninstall(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("governance", "0004_config_version"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
