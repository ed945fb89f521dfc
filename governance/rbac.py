"""The four role groups and what each may do. Used by data migrations, so it only touches
models through the ``apps`` registry it is given (historical models in a migration)."""

from __future__ import annotations

from typing import Any

GOVERNANCE_LEAD = "Governance lead"
ANALYST = "Analyst"
AUDITOR = "Auditor"
INTEGRATION = "Integration"
ALL_GROUPS = (GOVERNANCE_LEAD, ANALYST, AUDITOR, INTEGRATION)
# The groups an IdP may give at SSO login (governance.identity.groups). Never Integration:
# integrations authenticate with keys; no mapping can make a superuser either.
SSO_MAPPABLE_GROUPS = (GOVERNANCE_LEAD, AUDITOR, ANALYST)

GOVERNANCE_MODELS = (
    "decisionrole",
    "actiontype",
    "ownershipassignment",
    "roster",
    "rostermember",
    "rosteroverride",
    "certification",
    "escalationchain",
    "escalationstep",
    "approvalpolicy",
    "idpgroupmapping",
)
# Ownership, policies, chains and roles are ended or disabled, never deleted: history stays whole.
LEAD_MAY_DELETE = ("rostermember", "rosteroverride", "escalationstep")


def governance_lead_codenames() -> list[tuple[str, str]]:
    perms = []
    for model in GOVERNANCE_MODELS:
        for action in ("add", "change", "view"):
            perms.append(("governance", f"{action}_{model}"))
        if model in LEAD_MAY_DELETE:
            perms.append(("governance", f"delete_{model}"))
    perms += [("auditlog", "view_logentry"), ("auth", "view_user")]
    return perms


# Models of the decisions app that reviewers (leads, auditors) may read. Listed by name so
# that this module keeps importing nothing from ``decisions``.
DECISION_MODELS = ("decisionrequest", "signoff", "decisionevent", "outcome", "integration")


def _existing(apps: Any, codenames: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Keep the permissions whose app is migrated already (decisions comes after governance)."""
    Permission = apps.get_model("auth", "Permission")
    present = set(
        Permission.objects.filter(content_type__app_label__in={a for a, _ in codenames}).values_list(
            "content_type__app_label", "codename"
        )
    )
    return [pair for pair in codenames if pair in present]


def auditor_codenames(apps: Any, app_labels: tuple[str, ...]) -> list[tuple[str, str]]:
    """Read-only on every model of ``app_labels`` (and the audit log)."""
    Permission = apps.get_model("auth", "Permission")
    found = Permission.objects.filter(content_type__app_label__in=app_labels, codename__startswith="view_")
    return [(p.content_type.app_label, p.codename) for p in found.select_related("content_type")]


def ensure_permissions(apps: Any) -> None:
    """Create the permission rows now; Django would only do it after all migrations ran."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def grant(apps: Any, group_name: str, codenames: list[tuple[str, str]]) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=group_name)
    for app_label, codename in codenames:
        perm = Permission.objects.get(content_type__app_label=app_label, codename=codename)
        group.permissions.add(perm)


def ensure_groups(apps: Any) -> None:
    """Create the four groups with their permissions (idempotent). The data migration runs it;
    so can anything that finds them missing (a flushed test database)."""
    ensure_permissions(apps)
    reviewer = _existing(apps, [("decisions", f"view_{model}") for model in DECISION_MODELS])
    reviewer += _existing(apps, [("decisions", "reassign_decisionrequest")])
    reviewer += _existing(
        apps,
        [
            ("decisions", f"{action}_{model}")
            for model in ("integration", "integrationapikey")
            for action in ("add", "change", "view")
        ],
    )
    # The periodic review: leads set the schedule and sign reviews off; auditors read them.
    reviewer += _existing(
        apps,
        [
            ("decisions", "view_reviewreport"),
            ("decisions", "signoff_reviewreport"),
            ("decisions", "view_reviewschedule"),
            ("decisions", "add_reviewschedule"),
            ("decisions", "change_reviewschedule"),
            # Retention: leads place and release legal holds; everyone reads the runs.
            ("decisions", "view_legalhold"),
            ("decisions", "add_legalhold"),
            ("decisions", "change_legalhold"),
            ("decisions", "view_retentionrun"),
            ("decisions", "view_archiveddecision"),
            # What-if replay: leads draft policy changes, replay and activate them; auditors read them.
            ("decisions", "view_policydraft"),
            ("decisions", "add_policydraft"),
            ("decisions", "change_policydraft"),
            ("decisions", "delete_policydraft"),
            ("decisions", "activate_policydraft"),
        ],
    )
    # Shift swaps are made on the analyst pages; leads read them and approve those a roster asks them to.
    reviewer += _existing(apps, [("governance", "view_shiftswap"), ("governance", "approve_shiftswap")])
    # Models added later (IdP group mappings) have no permission rows yet in the older migrations.
    grant(apps, GOVERNANCE_LEAD, _existing(apps, governance_lead_codenames()) + reviewer)
    grant(apps, AUDITOR, auditor_codenames(apps, ("governance", "auditlog", "auth", "decisions")))
    grant(apps, ANALYST, [])
    grant(apps, INTEGRATION, [])
