"""The shared cache table when CACHE_URL names the database (the default): rate limits need it
from the first request. Does nothing for other cache backends (Redis)."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("decisions", "0008_reassign")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop, elidable=False)]
