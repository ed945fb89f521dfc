"""PostgreSQL: the one sanctioned way a closed decision leaves the database, and the guards on
the retention tables.

DELETE of a decision, its events, sign-offs, outcome and escalations stays refused, except in a
transaction whose local setting ``countersign.retention_run`` names a retention run that

- exists, is in status ``removing`` (its archive is written and its manifest signed) and names a
  signed checkpoint, taken before the removal;
- lists the decision among the ones it archived (``decisions_archiveddecision``);
- for an event: lists the event's leaf position with the event's hash, below that checkpoint's
  size (the leaf stays in the tree; the checkpoint proves what was removed);

and only while no legal hold in force covers the decision (by its id or its incident).

Archived decisions and events are insert-only; a legal hold is never deleted and changes only
once, to be released; a retention run is never deleted and never changes once finished.

A superuser (or the tables' owner) can set the same setting, or disable the triggers, and delete
anything: verification then finds events missing from the log without an archive record, or an
archive record whose manifest the ledger key (kept outside the database) never signed.
"""

from django.db import migrations

from governance import rbac

ALLOWS = """
CREATE OR REPLACE FUNCTION countersign_retention_run() RETURNS text AS $$
  SELECT NULLIF(current_setting('countersign.retention_run', true), '');
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION countersign_retention_allows(decision bigint) RETURNS boolean AS $$
  SELECT countersign_retention_run() IS NOT NULL
    AND EXISTS (
      SELECT 1 FROM decisions_retentionrun r
      JOIN decisions_archiveddecision a ON a.run_id = r.id AND a.decision_pk = decision
      JOIN decisions_ledgercheckpoint c ON c.id = r.checkpoint_id
      WHERE r.public_id::text = countersign_retention_run() AND r.status = 'removing')
    AND NOT EXISTS (
      SELECT 1 FROM decisions_legalhold h JOIN decisions_decisionrequest d ON d.id = decision
      WHERE h.released_at IS NULL
        AND (h.decision_public_id = d.public_id OR (h.incident_ref <> '' AND h.incident_ref = d.incident_ref)));
$$ LANGUAGE sql STABLE;
"""

EVENT_GUARD = """
CREATE OR REPLACE FUNCTION countersign_decision_event_append_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' AND countersign_retention_allows(OLD.decision_id) AND EXISTS (
       SELECT 1 FROM decisions_ledgerleaf l
       JOIN decisions_archivedevent a ON a.position = l.position
       JOIN decisions_retentionrun r ON r.id = a.run_id
       JOIN decisions_ledgercheckpoint c ON c.id = r.checkpoint_id
       WHERE l.event_id = OLD.id AND a.event_hash = OLD.hash AND l.position < c.tree_size
         AND r.public_id::text = countersign_retention_run()) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'decision_event is append-only: %% refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

EVENT_ORIGINAL = """
CREATE OR REPLACE FUNCTION countersign_decision_event_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'decision_event is append-only: %% refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

DECISION_GUARD = """
CREATE OR REPLACE FUNCTION countersign_decision_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF countersign_retention_allows(OLD.id) THEN
      RETURN OLD;
    END IF;
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

SIGNOFF_GUARD = """
CREATE OR REPLACE FUNCTION countersign_signoff_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF countersign_retention_allows(OLD.decision_id) THEN
      RETURN OLD;
    END IF;
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

# Outcomes and escalations: never updated; deleted only by a retention run.
ROW_GUARD = """
CREATE OR REPLACE FUNCTION countersign_retention_delete_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' AND countersign_retention_allows(OLD.decision_id) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION '%% on %% refused: the record is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

HOLD_GUARD = """
CREATE OR REPLACE FUNCTION countersign_legal_hold_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'a legal hold is released, never deleted' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.released_at IS NOT NULL OR
     ROW(NEW.public_id, NEW.incident_ref, NEW.decision_public_id, NEW.reason, NEW.placed_by_id, NEW.placed_at)
     IS DISTINCT FROM
     ROW(OLD.public_id, OLD.incident_ref, OLD.decision_public_id, OLD.reason, OLD.placed_by_id, OLD.placed_at) THEN
    RAISE EXCEPTION 'legal hold %% can only be released, once', OLD.public_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

RUN_GUARD = """
CREATE OR REPLACE FUNCTION countersign_retention_run_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' OR OLD.status IN ('done', 'nothing', 'failed') THEN
    RAISE EXCEPTION 'retention run %% is recorded: %% refused', OLD.public_id, TG_OP
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

NEW_TABLES = [
    "decisions_archiveddecision",
    "decisions_archivedevent",
    "decisions_legalhold",
    "decisions_retentionrun",
]


def _pg_forwards() -> list[str]:
    statements = [ALLOWS, EVENT_GUARD, DECISION_GUARD, SIGNOFF_GUARD, ROW_GUARD, HOLD_GUARD, RUN_GUARD]
    for table in ("decisions_outcome", "decisions_escalation"):
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table};",
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION countersign_retention_delete_only();",
        ]
    for table in NEW_TABLES:
        statements.append(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse();"
        )
    for table in ("decisions_archiveddecision", "decisions_archivedevent"):
        statements.append(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION countersign_refuse();"
        )
    statements += [
        "CREATE TRIGGER decisions_legalhold_guard BEFORE UPDATE OR DELETE ON decisions_legalhold "
        "FOR EACH ROW EXECUTE FUNCTION countersign_legal_hold_guard();",
        "CREATE TRIGGER decisions_retentionrun_guard BEFORE UPDATE OR DELETE ON decisions_retentionrun "
        "FOR EACH ROW EXECUTE FUNCTION countersign_retention_run_guard();",
    ]
    return statements


def _pg_backwards() -> list[str]:
    statements = [f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t};" for t in NEW_TABLES]
    statements += [
        f"DROP TRIGGER IF EXISTS {t}_no_update_delete ON {t};"
        for t in ("decisions_archiveddecision", "decisions_archivedevent")
    ]
    statements += [
        "DROP TRIGGER IF EXISTS decisions_legalhold_guard ON decisions_legalhold;",
        "DROP TRIGGER IF EXISTS decisions_retentionrun_guard ON decisions_retentionrun;",
    ]
    for table in ("decisions_outcome", "decisions_escalation"):
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table};",
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION countersign_refuse();",
        ]
    # The guards of 0002 and 0015 without the retention path (their DELETE branch refuses).
    statements += [
        EVENT_ORIGINAL,
        DECISION_GUARD.replace("countersign_retention_allows(OLD.id)", "false"),
        SIGNOFF_GUARD.replace("countersign_retention_allows(OLD.decision_id)", "false"),
        "DROP FUNCTION IF EXISTS countersign_retention_delete_only();",
        "DROP FUNCTION IF EXISTS countersign_legal_hold_guard();",
        "DROP FUNCTION IF EXISTS countersign_retention_run_guard();",
        "DROP FUNCTION IF EXISTS countersign_retention_allows(bigint);",
        "DROP FUNCTION IF EXISTS countersign_retention_run();",
    ]
    return statements


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in _pg_forwards():
            schema_editor.execute(statement)
    rbac.ensure_groups(apps)  # leads place and release legal holds; reviewers read the runs


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in _pg_backwards():
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("decisions", "0020_retention_legal_hold"), ("governance", "0008_action_type_retention")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
