"""On PostgreSQL a review report's frozen content cannot change at the database: only the
sign-off fields may be written, once, and a report is never deleted.

The same plain row trigger as the decision log's (migration 0002). TRUNCATE (the test suite's
flush) is left to database privileges.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION countersign_review_report_frozen() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'a review report is never deleted' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.public_id IS DISTINCT FROM OLD.public_id
     OR NEW.schedule_id IS DISTINCT FROM OLD.schedule_id
     OR NEW.period_start IS DISTINCT FROM OLD.period_start
     OR NEW.period_end IS DISTINCT FROM OLD.period_end
     OR NEW.frozen_at IS DISTINCT FROM OLD.frozen_at
     OR NEW.figures IS DISTINCT FROM OLD.figures
     OR NEW.gaps IS DISTINCT FROM OLD.gaps
     OR NEW.log_verification IS DISTINCT FROM OLD.log_verification THEN
    RAISE EXCEPTION 'a review report is frozen: only its sign-off may be written'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.signed_off_at IS NOT NULL
     AND (NEW.signed_off_at IS DISTINCT FROM OLD.signed_off_at
          OR NEW.signed_off_by_id IS DISTINCT FROM OLD.signed_off_by_id
          OR NEW.signoff_notes IS DISTINCT FROM OLD.signoff_notes
          OR NEW.follow_up_actions IS DISTINCT FROM OLD.follow_up_actions) THEN
    RAISE EXCEPTION 'this review report is signed off already' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER review_report_frozen
  BEFORE UPDATE OR DELETE ON decisions_reviewreport
  FOR EACH ROW EXECUTE FUNCTION countersign_review_report_frozen();
"""
DROP = """
DROP TRIGGER IF EXISTS review_report_frozen ON decisions_reviewreport;
DROP FUNCTION IF EXISTS countersign_review_report_frozen();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("decisions", "0011_decision_created_index")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
