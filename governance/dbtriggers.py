"""Database triggers that keep ``governance_configversion.token`` changing on every write to a
table routing reads (see governance.snapshot). Used by migrations only.

PostgreSQL: one statement-level trigger per table (INSERT, UPDATE, DELETE, TRUNCATE).
SQLite: row-level triggers per table and operation. The token is random, so a rolled-back
change can never make a stale cached snapshot look current again.

SQLite drops a table's triggers when a migration rebuilds the table (``ALTER`` it cannot do in
place): such a migration must call ``install`` again for that table. A test checks every
table still has them.
"""

from __future__ import annotations

TABLES = [
    "governance_decisionrole",
    "governance_actiontype",
    "governance_ownershipassignment",
    "governance_roster",
    "governance_rostermember",
    "governance_rosteroverride",
    "governance_certification",
    "governance_escalationchain",
    "governance_escalationstep",
    "governance_approvalpolicy",
    "governance_approvalpolicy_action_types",
    "governance_approvalpolicy_cosigner_roles",
]
USER_TABLE = "auth_user"
USER_COLUMNS = "is_active, username, first_name, last_name"

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION countersign_bump_config_version() RETURNS trigger AS $$
BEGIN
  UPDATE governance_configversion SET token = md5(random()::text || clock_timestamp()::text), changed_at = now()
  WHERE id = 1;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""
SQLITE_BODY = (
    "BEGIN UPDATE governance_configversion SET token = lower(hex(randomblob(16))), "
    "changed_at = datetime('now') WHERE id = 1; END;"
)


def _pg(schema_editor, tables: list[str], with_users: bool) -> None:
    schema_editor.execute(PG_FUNCTION)
    for table in tables:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_config_version ON {table};")
        schema_editor.execute(
            f"CREATE TRIGGER {table}_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION countersign_bump_config_version();"
        )
    if with_users:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {USER_TABLE}_config_version ON {USER_TABLE};")
        schema_editor.execute(
            f"CREATE TRIGGER {USER_TABLE}_config_version AFTER INSERT OR DELETE OR UPDATE OF {USER_COLUMNS} "
            f"ON {USER_TABLE} FOR EACH STATEMENT EXECUTE FUNCTION countersign_bump_config_version();"
        )


def _sqlite(schema_editor, tables: list[str], with_users: bool) -> None:
    for table in tables:
        for op in ("INSERT", "UPDATE", "DELETE"):
            name = f"{table}_cv_{op.lower()}"
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name};")
            schema_editor.execute(f"CREATE TRIGGER {name} AFTER {op} ON {table} FOR EACH ROW {SQLITE_BODY}")
    if with_users:
        for op in ("INSERT", "DELETE", f"UPDATE OF {USER_COLUMNS}"):
            name = f"{USER_TABLE}_cv_{op.split()[0].lower()}"
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name};")
            schema_editor.execute(f"CREATE TRIGGER {name} AFTER {op} ON {USER_TABLE} FOR EACH ROW {SQLITE_BODY}")


def install(schema_editor, tables: list[str] | None = None, *, with_users: bool = True) -> None:
    """(Re)create the triggers on ``tables`` (default: all of them). Idempotent."""
    chosen = TABLES if tables is None else tables
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _pg(schema_editor, chosen, with_users)
    elif vendor == "sqlite":
        _sqlite(schema_editor, chosen, with_users)


def uninstall(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for table in [*TABLES, USER_TABLE]:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_config_version ON {table};")
        elif vendor == "sqlite":
            for name in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_cv_{name};")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS countersign_bump_config_version();")
