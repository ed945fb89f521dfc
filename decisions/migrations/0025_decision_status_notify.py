"""PostgreSQL: NOTIFY countersign_decision_status with the decision's public id whenever its status
changes (delivered on commit), for the API's long-poll (decisions/lifecycle/waiting.py)."""

from django.db import migrations

FORWARDS = [
    """
CREATE OR REPLACE FUNCTION countersign_decision_status_notify() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('countersign_decision_status', NEW.public_id::text);
  RETURN NULL;
END
$$ LANGUAGE plpgsql;
""",
    """
CREATE TRIGGER decisions_decisionrequest_status_notify
  AFTER UPDATE OF status ON decisions_decisionrequest
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION countersign_decision_status_notify();
""",
]
BACKWARDS = [
    "DROP TRIGGER IF EXISTS decisions_decisionrequest_status_notify ON decisions_decisionrequest;",
    "DROP FUNCTION IF EXISTS countersign_decision_status_notify();",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARDS:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARDS:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("decisions", "0024_pending_count")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
