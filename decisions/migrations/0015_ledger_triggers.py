"""The database refuses what it can, and queues every new event for the log's tree.

Both vendors: a trigger puts each inserted decision event in ``decisions_ledgerpending`` (in the
inserting transaction, whoever inserts it, COPY included); existing events are queued here.

PostgreSQL also refuses, whatever the client:
- TRUNCATE of the log, the decisions, their sign-offs, outcomes and escalations, the review
  reports and every ledger table (statement triggers: TRUNCATE fires no row trigger);
- DELETE of decisions, sign-offs, outcomes, escalations and ledger rows (pending rows excepted:
  the sequencer moves them into the tree);
- UPDATE of a closed decision except its log head (the services append events to closed
  decisions: webhook attempts, outcomes), and moving a decision back from a verdict;
- UPDATE of a sign-off except voiding it once; any UPDATE of an outcome, an escalation, a leaf,
  a tile, a checkpoint or a verification; shrinking the ledger head.
What a superuser (or the tables' owner) can still do is disable triggers; the signed
checkpoints outside the database then catch the change (README, "The record").
"""

from django.db import migrations

PG_REFUSE = """
CREATE OR REPLACE FUNCTION countersign_refuse() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '%% on %% refused: the record is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

PG_DECISION = """
CREATE OR REPLACE FUNCTION countersign_decision_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'a decision is never deleted' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.status <> 'pending' AND (
       NEW.status IS DISTINCT FROM OLD.status OR NEW.final_action IS DISTINCT FROM OLD.final_action
       OR NEW.decided_at IS DISTINCT FROM OLD.decided_at OR NEW.owner_role_id IS DISTINCT FROM OLD.owner_role_id
       OR NEW.policy_id IS DISTINCT FROM OLD.policy_id OR NEW.snapshot IS DISTINCT FROM OLD.snapshot
       OR NEW.required_approvals IS DISTINCT FROM OLD.required_approvals
       OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.public_id IS DISTINCT FROM OLD.public_id
       OR NEW.integration_id IS DISTINCT FROM OLD.integration_id OR NEW.action_type_id IS DISTINCT FROM OLD.action_type_id
       OR NEW.title IS DISTINCT FROM OLD.title OR NEW.recommendation IS DISTINCT FROM OLD.recommendation
       OR NEW.target IS DISTINCT FROM OLD.target OR NEW.evidence IS DISTINCT FROM OLD.evidence
       OR NEW.submitted_by_id IS DISTINCT FROM OLD.submitted_by_id
       OR NEW.event_count < OLD.event_count) THEN
    RAISE EXCEPTION 'decision %% is closed (%%): only its log head may move forward', OLD.public_id, OLD.status
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

PG_SIGNOFF = """
CREATE OR REPLACE FUNCTION countersign_signoff_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'a sign-off is never deleted' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.voided_at IS NOT NULL OR NEW.voided_at IS NULL OR
     ROW(NEW.public_id, NEW.decision_id, NEW.signer_id, NEW.signed_as_id, NEW.eligible_role_ids, NEW.verdict,
         NEW.reason_code, NEW.rationale, NEW.override_action, NEW.step, NEW.payload_version,
         NEW.certification_id_at_signing, NEW.created_at)
     IS DISTINCT FROM
     ROW(OLD.public_id, OLD.decision_id, OLD.signer_id, OLD.signed_as_id, OLD.eligible_role_ids, OLD.verdict,
         OLD.reason_code, OLD.rationale, OLD.override_action, OLD.step, OLD.payload_version,
         OLD.certification_id_at_signing, OLD.created_at) THEN
    RAISE EXCEPTION 'sign-off %% is recorded: it can only be voided, once', OLD.public_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

PG_HEAD = """
CREATE OR REPLACE FUNCTION countersign_ledger_head_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.size < OLD.size THEN
    RAISE EXCEPTION 'the log only grows' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

PG_ENQUEUE = """
CREATE OR REPLACE FUNCTION countersign_ledger_enqueue() RETURNS trigger AS $$
BEGIN
  INSERT INTO decisions_ledgerpending (event_id) SELECT id FROM new_events;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER decision_event_enqueue AFTER INSERT ON decisions_decisionevent
  REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION countersign_ledger_enqueue();
"""

NO_TRUNCATE = [
    "decisions_decisionevent",
    "decisions_decisionrequest",
    "decisions_signoff",
    "decisions_outcome",
    "decisions_escalation",
    "decisions_reviewreport",
    "decisions_ledgerpending",
    "decisions_ledgerleaf",
    "decisions_ledgernode",
    "decisions_ledgerhead",
    "decisions_ledgercheckpoint",
    "decisions_ledgerverification",
]
NO_UPDATE_DELETE = [
    "decisions_outcome",
    "decisions_escalation",
    "decisions_ledgerleaf",
    "decisions_ledgernode",
    "decisions_ledgercheckpoint",
    "decisions_ledgerverification",
]
# Indexes the state checks read: the closing event of each decision, a sign-off's event.
PG_INDEXES = """
CREATE INDEX decision_event_closing_idx ON decisions_decisionevent (decision_id, seq)
  WHERE kind IN ('decided', 'expired', 'cancelled', 'auto_approved');
CREATE INDEX decision_event_signoff_idx ON decisions_decisionevent ((data ->> 'signoff')) WHERE kind = 'signed';
CREATE INDEX decision_event_outcome_idx ON decisions_decisionevent (decision_id) WHERE kind = 'outcome_reported';
"""

SQLITE_ENQUEUE = """
CREATE TRIGGER IF NOT EXISTS decision_event_enqueue AFTER INSERT ON decisions_decisionevent
BEGIN
  INSERT INTO decisions_ledgerpending (event_id) VALUES (NEW.id);
END;
"""
BACKFILL = "INSERT INTO decisions_ledgerpending (event_id) SELECT id FROM decisions_decisionevent ORDER BY id"


def _pg_statements() -> list[str]:
    statements = [PG_REFUSE, PG_DECISION, PG_SIGNOFF, PG_HEAD, PG_ENQUEUE, PG_INDEXES]
    for table in NO_TRUNCATE:
        statements.append(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse();"
        )
    for table in NO_UPDATE_DELETE:
        statements.append(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION countersign_refuse();"
        )
    statements += [
        "CREATE TRIGGER decisions_ledgerpending_no_update BEFORE UPDATE ON decisions_ledgerpending "
        "FOR EACH ROW EXECUTE FUNCTION countersign_refuse();",
        "CREATE TRIGGER decisions_decisionrequest_guard BEFORE UPDATE OR DELETE ON decisions_decisionrequest "
        "FOR EACH ROW EXECUTE FUNCTION countersign_decision_guard();",
        "CREATE TRIGGER decisions_signoff_guard BEFORE UPDATE OR DELETE ON decisions_signoff "
        "FOR EACH ROW EXECUTE FUNCTION countersign_signoff_guard();",
        "CREATE TRIGGER decisions_ledgerhead_guard BEFORE UPDATE OR DELETE ON decisions_ledgerhead "
        "FOR EACH ROW EXECUTE FUNCTION countersign_ledger_head_guard();",
    ]
    return statements


def _pg_drop() -> list[str]:
    drops = [f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t};" for t in NO_TRUNCATE]
    drops += [f"DROP TRIGGER IF EXISTS {t}_no_update_delete ON {t};" for t in NO_UPDATE_DELETE]
    drops += [
        "DROP TRIGGER IF EXISTS decisions_ledgerpending_no_update ON decisions_ledgerpending;",
        "DROP TRIGGER IF EXISTS decisions_decisionrequest_guard ON decisions_decisionrequest;",
        "DROP TRIGGER IF EXISTS decisions_signoff_guard ON decisions_signoff;",
        "DROP TRIGGER IF EXISTS decisions_ledgerhead_guard ON decisions_ledgerhead;",
        "DROP TRIGGER IF EXISTS decision_event_enqueue ON decisions_decisionevent;",
        "DROP INDEX IF EXISTS decision_event_closing_idx;",
        "DROP INDEX IF EXISTS decision_event_signoff_idx;",
        "DROP INDEX IF EXISTS decision_event_outcome_idx;",
        "DROP FUNCTION IF EXISTS countersign_ledger_enqueue();",
        "DROP FUNCTION IF EXISTS countersign_ledger_head_guard();",
        "DROP FUNCTION IF EXISTS countersign_signoff_guard();",
        "DROP FUNCTION IF EXISTS countersign_decision_guard();",
        "DROP FUNCTION IF EXISTS countersign_refuse();",
    ]
    return drops


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(BACKFILL)
    if vendor == "postgresql":
        for statement in _pg_statements():
            schema_editor.execute(statement)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_ENQUEUE)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in _pg_drop():
            schema_editor.execute(statement)
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS decision_event_enqueue;")
    schema_editor.execute("DELETE FROM decisions_ledgerpending")


class Migration(migrations.Migration):
    dependencies = [("decisions", "0014_ledger")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
