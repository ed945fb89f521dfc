"""A realistic 24/7 SOC to explore and demo. Idempotent: running it again changes nothing.

``manage.py seed_demo`` (in the decisions app, which adds a demo integration) calls it.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from governance import rbac, services
from governance.audit import acting_as, change_reason
from governance.models import (
    ActionType,
    ApprovalPolicy,
    Certification,
    Criterion,
    DecisionRole,
    EscalationChain,
    EscalationStep,
    Level,
    OwnershipAssignment,
    Roster,
    RosterMember,
)
from governance.selectors import current_owner

User = get_user_model()

DEMO_PASSWORD = "countersign-demo"  # noqa: S105 - documented demo logins, local only
SYSTEM_USERNAME = "countersign-system"

ROLES = [
    ("incident-commander", "Incident Commander", "Owns containment and eradication during a declared incident."),
    ("shift-lead", "Shift Lead", "Runs the SOC shift; owns account and credential containment."),
    ("tier-3-analyst", "Tier-3 Analyst", "Delegated authority for network and email containment."),
    ("privacy-officer", "Privacy Officer", "Owns regulated-data handling and regulatory reporting."),
    ("soc-manager", "SOC Manager", "Last human step of every escalation chain."),
]

# slug, name, changes production state, touches regulated data, system owned, owner, deputy
ACTION_TYPES = [
    ("enrich-ticket", "Enrich ticket", False, False, True, None, None),
    ("deduplicate-alert", "Deduplicate alert", False, False, True, None, None),
    ("isolate-host", "Isolate host", True, False, False, "tier-3-analyst", "shift-lead"),
    ("disable-account", "Disable account", True, False, False, "shift-lead", "incident-commander"),
    ("reset-credentials", "Reset credentials", True, False, False, "shift-lead", "incident-commander"),
    ("block-ip", "Block IP address", True, False, False, "tier-3-analyst", "shift-lead"),
    ("quarantine-email", "Quarantine email", True, False, False, "tier-3-analyst", "shift-lead"),
    ("preserve-evidence", "Preserve evidence", False, True, False, "incident-commander", "soc-manager"),
    ("eradicate-malware", "Eradicate malware", True, False, False, "incident-commander", "soc-manager"),
    ("notify-customers", "Notify customers", True, True, False, "incident-commander", "soc-manager"),
    ("file-regulatory-report", "File regulatory report", False, True, False, "privacy-officer", "soc-manager"),
    ("revoke-leaked-secret", "Revoke leaked secret", True, False, False, "tier-3-analyst", "shift-lead"),
]

# username, first, last, role slug (or group-only account)
PEOPLE = [
    ("ines", "Ines", "Okafor", "incident-commander"),
    ("marco", "Marco", "Bianchi", "incident-commander"),
    ("sofia", "Sofia", "Lindqvist", "incident-commander"),
    ("emma", "Emma", "Walsh", "shift-lead"),
    ("liam", "Liam", "Byrne", "shift-lead"),
    ("jose", "José", "Ramírez", "shift-lead"),
    ("ana", "Ana", "Souza", "shift-lead"),
    ("kenji", "Kenji", "Sato", "shift-lead"),
    ("priya", "Priya", "Nair", "shift-lead"),
    ("tom", "Tom", "Becker", "tier-3-analyst"),
    ("nadia", "Nadia", "Haddad", "tier-3-analyst"),
    ("omar", "Omar", "Farouk", "tier-3-analyst"),
    ("claire", "Claire", "Dubois", "privacy-officer"),
    ("henrik", "Henrik", "Nilsen", "privacy-officer"),
    ("maria", "Maria", "Kowalska", "soc-manager"),
]

ROSTERS = [
    # name, role, tz, rotation days, hand-off, coverage (start, end) or None, members
    (
        "Incident commanders (weekly)",
        "incident-commander",
        "Europe/London",
        7,
        time(9),
        None,
        ["ines", "marco", "sofia"],
    ),
    ("Shift leads EMEA", "shift-lead", "UTC", 1, time(6), (time(6), time(14)), ["emma", "liam"]),
    ("Shift leads AMER", "shift-lead", "UTC", 1, time(14), (time(14), time(22)), ["jose", "ana"]),
    ("Shift leads APAC", "shift-lead", "UTC", 1, time(22), (time(22), time(6)), ["kenji", "priya"]),
    ("Tier-3 analysts (daily)", "tier-3-analyst", "Europe/Berlin", 1, time(8), None, ["tom", "nadia", "omar"]),
    ("Privacy officers (weekly)", "privacy-officer", "Europe/Dublin", 7, time(10), None, ["claire", "henrik"]),
    ("SOC management", "soc-manager", "Europe/London", 7, time(9), None, ["maria"]),
]

CHAINS = [
    (
        "Standard containment",
        EscalationChain.FinalOutcome.EXPIRE,
        [("shift-lead", 600), ("incident-commander", 900), ("soc-manager", 1800)],
    ),
    ("Critical incident", EscalationChain.FinalOutcome.EXPIRE, [("incident-commander", 300), ("soc-manager", 600)]),
    ("Privacy", EscalationChain.FinalOutcome.EXPIRE, [("privacy-officer", 1800), ("soc-manager", 3600)]),
    ("Automation review", EscalationChain.FinalOutcome.AUTO_APPROVE, [("tier-3-analyst", 3600)]),
]


STAFF_LOGINS = [
    ("lead", "Grace", "Hopper", "Governance lead: edits the governance configuration in /admin/"),
    ("auditor", "Alan", "Turing", "Auditor: reads everything in /admin/, including the audit log; changes nothing"),
]
LOGIN_NOTES = {
    "nadia": "certification expires soon",
    "omar": "certification expired: on call but may not sign",
    "maria": "also certified to notify customers",
}


def demo_logins() -> list[tuple[str, str]]:
    """(username, who they are) for every login seed_demo creates, staff first."""
    names = {slug: name for slug, name, _description in ROLES}
    logins = [(username, what) for username, _first, _last, what in STAFF_LOGINS]
    for username, first, last, role in PEOPLE:
        note = f"; {LOGIN_NOTES[username]}" if username in LOGIN_NOTES else ""
        logins.append((username, f"{first} {last}, {names[role]} (analyst: no admin access{note})"))
    return logins


class GovernanceDemo:
    """Builds the demo governance model; every step skips what already exists."""

    @transaction.atomic
    def build(self):
        if Group.objects.filter(name__in=rbac.ALL_GROUPS).count() < len(rbac.ALL_GROUPS):
            rbac.ensure_groups(django_apps)  # the data migration's groups were flushed (a test database)
        system = self._system_user()
        with acting_as(system), change_reason("Demo data (manage.py seed_demo)"):
            roles = self._roles()
            people = self._people(roles)
            action_types = self._action_types()
            self._ownership(system, action_types, roles)
            self._rosters(roles, people)
            self._certifications(roles, people, action_types)
            chains = self._chains(roles)
            self._policies(system, roles, action_types, chains)
        return system, action_types

    def _system_user(self):
        user, created = User.objects.get_or_create(
            username=SYSTEM_USERNAME, defaults={"is_active": False, "first_name": "Countersign", "last_name": "system"}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        return user

    def _roles(self) -> dict[str, DecisionRole]:
        roles = {}
        for slug, name, description in ROLES:
            roles[slug], _ = DecisionRole.objects.get_or_create(
                slug=slug, defaults={"name": name, "description": description}
            )
        return roles

    def _user(self, username, first, last, *, groups, staff=False):
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@soc.example",
                "is_staff": staff,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        user.groups.add(*Group.objects.filter(name__in=groups))
        return user

    def _people(self, roles) -> dict[str, object]:
        people = {}
        for username, first, last, _role in PEOPLE:
            people[username] = self._user(username, first, last, groups=[rbac.ANALYST])
        groups = {"lead": rbac.GOVERNANCE_LEAD, "auditor": rbac.AUDITOR}
        for username, first, last, _what in STAFF_LOGINS:
            self._user(username, first, last, groups=[groups[username]], staff=True)
        return people

    def _action_types(self) -> dict[str, ActionType]:
        result = {}
        for slug, name, prod, regulated, system_owned, _owner, _deputy in ACTION_TYPES:
            result[slug], _ = ActionType.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "changes_production_state": prod,
                    "touches_regulated_data": regulated,
                    "system_owned": system_owned,
                },
            )
        return result

    def _ownership(self, system, action_types, roles) -> None:
        now = timezone.now()
        start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=365)
        for slug, *_flags, owner, deputy in ACTION_TYPES:
            if owner is None or OwnershipAssignment.objects.filter(action_type=action_types[slug]).exists():
                continue
            services.ownership_assign(
                actor=system,
                action_type=action_types[slug],
                owner_role=roles[owner],
                deputy_role=roles[deputy] if deputy else None,
                effective_from=start,
                reason="Initial ownership model",
                ticket_ref="GOV-1",
            )
        assert current_owner(action_type=action_types["isolate-host"], at=now) is not None  # noqa: S101

    def _rosters(self, roles, people) -> None:
        today = timezone.now().date()
        anchor = today - timedelta(days=today.weekday())  # this Monday
        for name, role, tz, days, handoff, coverage, members in ROSTERS:
            roster, created = Roster.objects.get_or_create(
                name=name,
                defaults={
                    "role": roles[role],
                    "time_zone": tz,
                    "rotation_days": days,
                    "handoff_time": handoff,
                    "rotation_start": anchor if days == 7 else date(2026, 1, 1),
                    "coverage_start": coverage[0] if coverage else None,
                    "coverage_end": coverage[1] if coverage else None,
                },
            )
            if created:
                for position, username in enumerate(members):
                    RosterMember.objects.create(roster=roster, user=people[username], position=position)

    def _certifications(self, roles, people, action_types) -> None:
        now = timezone.now()
        for username, _first, _last, role in PEOPLE:
            user = people[username]
            if Certification.objects.filter(user=user).exists():
                continue
            valid_until = now + timedelta(days=300)
            if username == "nadia":
                valid_until = now + timedelta(days=12)  # expiring soon: shows on the overview
            if username == "omar":
                valid_until = now - timedelta(days=5)  # expired: on call but may not sign
            Certification.objects.create(
                user=user,
                role=roles[role],
                valid_from=now - timedelta(days=365),
                valid_until=valid_until,
                evidence="SOC decision-owner training 2026",
            )
        maria = people["maria"]
        if not Certification.objects.filter(user=maria, action_type=action_types["notify-customers"]).exists():
            Certification.objects.create(
                user=maria,
                action_type=action_types["notify-customers"],
                valid_from=now - timedelta(days=365),
                valid_until=now + timedelta(days=335),
                evidence="Customer-communication drill",
            )

    def _chains(self, roles) -> dict[str, EscalationChain]:
        chains = {}
        for name, outcome, steps in CHAINS:
            chain, created = EscalationChain.objects.get_or_create(name=name, defaults={"final_outcome": outcome})
            if created:
                for position, (role, wait) in enumerate(steps):
                    EscalationStep.objects.create(chain=chain, position=position, role=roles[role], wait_seconds=wait)
            chains[name] = chain
        return chains

    def _policies(self, system, roles, action_types, chains) -> None:
        specs: list[dict[str, Any]] = [
            dict(
                name="Automation: enrichment and deduplication",
                priority=10,
                action_types=["enrich-ticket", "deduplicate-alert"],
                allow_auto_approval=True,
                time_to_act_seconds=3600,
                chain="Automation review",
            ),
            dict(
                name="Critical blast radius: two approvers",
                priority=20,
                min_blast_radius=Level.CRITICAL,
                required_approvals=2,
                cosigner_roles=["incident-commander"],
                time_to_act_seconds=300,
                chain="Critical incident",
                # In a critical incident one certified owner may act before the second approver,
                # reviewed within 12 hours.
                allows_break_glass=True,
                break_glass_review_hours=12,
            ),
            dict(
                name="Regulated data: privacy officer co-signs",
                priority=30,
                regulated_data=Criterion.YES,
                required_approvals=2,
                cosigner_roles=["privacy-officer"],
                time_to_act_seconds=1800,
                chain="Privacy",
            ),
            dict(
                name="High blast radius: owner within 10 minutes",
                priority=40,
                min_blast_radius=Level.HIGH,
                time_to_act_seconds=600,
                chain="Critical incident",
            ),
            dict(
                name="Confident, contained: owner within 30 minutes",
                priority=50,
                min_ai_confidence=Decimal("0.900"),
                max_blast_radius=Level.MEDIUM,
                time_to_act_seconds=1800,
                chain="Standard containment",
            ),
            dict(name="Default: the owner signs", priority=100, time_to_act_seconds=900, chain="Standard containment"),
        ]
        for spec in specs:
            if ApprovalPolicy.objects.filter(name=spec["name"]).exists():
                continue
            listed = [action_types[s] for s in spec.pop("action_types", [])]
            cosigners = [roles[s] for s in spec.pop("cosigner_roles", [])]
            chain = chains[spec.pop("chain")]
            services.approval_policy_save(
                actor=system,
                policy=ApprovalPolicy(escalation_chain=chain, **spec),
                action_types=listed,
                cosigner_roles=cosigners,
                reason="Initial approval thresholds",
                ticket_ref="GOV-2",
                at=timezone.now(),
            )
