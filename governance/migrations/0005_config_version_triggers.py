"""Triggers that change governance_configversion.token on any write to a table routing reads.

PostgreSQL: one statement-level trigger per table (INSERT, UPDATE, DELETE, TRUNCATE).
SQLite: row-level triggers per table and operation. The token is random, so a rolled-back
change can never make a stale cached snapshot look current again.
"""

from django.db import migrations

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


def _pg(schema_editor) -> None:
    schema_editor.execute(PG_FUNCTION)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION countersign_bump_config_version();"
        )
    schema_editor.execute(
        f"CREATE TRIGGER {USER_TABLE}_config_version AFTER INSERT OR DELETE OR UPDATE OF {USER_COLUMNS} "
        f"ON {USER_TABLE} FOR EACH STATEMENT EXECUTE FUNCTION countersign_bump_config_version();"
    )


SQLITE_BODY = (
    "BEGIN UPDATE governance_configversion SET token = lower(hex(randomblob(16))), "
    "changed_at = datetime('now') WHERE id = 1; END;"
)


def _sqlite(schema_editor) -> None:
    for table in TABLES:
        for op in ("INSERT", "UPDATE", "DELETE"):
            schema_editor.execute(
                f"CREATE TRIGGER {table}_cv_{op.lower()} AFTER {op} ON {table} FOR EACH ROW {SQLITE_BODY}"
            )
    for op in ("INSERT", "DELETE", f"UPDATE OF {USER_COLUMNS}"):
        name = op.split()[0].lower()
        schema_editor.execute(
            f"CREATE TRIGGER {USER_TABLE}_cv_{name} AFTER {op} ON {USER_TABLE} FOR EACH ROW {SQLITE_BODY}"
        )


def forwards(apps, schema_editor):
    ConfigVersion = apps.get_model("governance", "ConfigVersion")
    ConfigVersion.objects.update_or_create(pk=1, defaults={"token": "initial"})
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _pg(schema_editor)
    elif vendor == "sqlite":
        _sqlite(schema_editor)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in [*TABLES, USER_TABLE]:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_config_version ON {table};")
        elif vendor == "sqlite":
            for name in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_cv_{name};")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS countersign_bump_config_version();")


class Migration(migrations.Migration):
    dependencies = [("governance", "0004_config_version"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
