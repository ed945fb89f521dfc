"""On PostgreSQL the decision log refuses UPDATE and DELETE at the database.

A plain row trigger, not a library: the rule is one line of PL/pgSQL. TRUNCATE (an owner's
bulk operation, used by the test suite's flush) is left to database privileges: the
application's role should not own the table in production.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION countersign_decision_event_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'decision_event is append-only: %% refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER decision_event_no_update_delete
  BEFORE UPDATE OR DELETE ON decisions_decisionevent
  FOR EACH ROW EXECUTE FUNCTION countersign_decision_event_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS decision_event_no_update_delete ON decisions_decisionevent;
DROP FUNCTION IF EXISTS countersign_decision_event_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("decisions", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
