"""On PostgreSQL, the database itself refuses overlapping ownership periods.

An exclusion constraint needs btree_gist and range types that SQLite lacks, so it is added
here for PostgreSQL only; on SQLite the service's lock-and-check (serialised by SQLite's
single writer) keeps the same rule.
"""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE governance_ownershipassignment
  ADD CONSTRAINT ownership_no_overlap
  EXCLUDE USING gist (
    action_type_id WITH =,
    tstzrange(effective_from, COALESCE(effective_to, 'infinity'::timestamptz), '[)') WITH &&
  );
"""
DROP = "ALTER TABLE governance_ownershipassignment DROP CONSTRAINT IF EXISTS ownership_no_overlap;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
