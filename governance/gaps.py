"""Ownership gaps: where the governance configuration leaves a risky action without a named,
certified, on-call human owner, or lets one through too easily.

Every check reads the cached governance snapshot (one query when it is warm, whatever the size
of the configuration), so the dashboard and the admin index can show them on every load.
Each gap names what is wrong and links to the admin page that fixes it; the list is plain data
(JSON-able) so a review report can freeze it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from governance.models import EscalationChain, Level
from governance.rostering import coverage_gaps
from governance.selectors import certifications_expiring
from governance.snapshot import GovernanceSnapshot, current_snapshot

EXPIRY_WINDOW = timedelta(days=30)


class GapKind:
    UNOWNED_ACTION_TYPE = "unowned_action_type"
    UNCOVERED_ROLE = "uncovered_role"
    UNCERTIFIED_ON_CALL = "uncertified_on_call"
    CERTIFICATION_EXPIRING = "certification_expiring"
    SINGLE_APPROVER_HIGH_BLAST = "single_approver_high_blast"
    CHAIN_WITHOUT_HUMAN = "chain_without_human"

    LABELS = {
        UNOWNED_ACTION_TYPE: "Action types with no current owner",
        UNCOVERED_ROLE: "Owning roles with uncovered hours in the next 14 days",
        UNCERTIFIED_ON_CALL: "On-call members without a valid certification",
        CERTIFICATION_EXPIRING: "Certifications expiring within 30 days",
        SINGLE_APPROVER_HIGH_BLAST: "Policies letting a high or critical blast radius through with one approver",
        CHAIN_WITHOUT_HUMAN: "Chains that end in a production change without a human",
    }
    # Which gaps leave a risky action without its owner now or soon (the rest are warnings).
    CRITICAL = frozenset({UNOWNED_ACTION_TYPE, UNCOVERED_ROLE, UNCERTIFIED_ON_CALL, CHAIN_WITHOUT_HUMAN})


@dataclass(frozen=True)
class Gap:
    kind: str
    subject: str
    detail: str
    fix_url: str
    fix_label: str

    @property
    def critical(self) -> bool:
        return self.kind in GapKind.CRITICAL

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _admin(name: str, *args: int, **query: int | str) -> str:
    url = reverse(f"admin:governance_{name}", args=args)
    return f"{url}?{urlencode(query)}" if query else url


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:.0f} h" if hours >= 1 else f"{seconds / 60:.0f} min"


def _unowned(snapshot: GovernanceSnapshot, at: datetime) -> list[Gap]:
    gaps = []
    for action_type in sorted(snapshot.action_types.values(), key=lambda a: a.name):
        if action_type.system_owned:
            continue
        if any(a.is_current(at) for a in snapshot.assignments.get(action_type.pk, [])):
            continue
        gaps.append(
            Gap(
                kind=GapKind.UNOWNED_ACTION_TYPE,
                subject=action_type.name,
                detail="No role owns it now: its decisions go straight to the escalation chain.",
                fix_url=_admin("ownershipassignment_add", action_type=action_type.pk),
                fix_label="Assign an owner",
            )
        )
    return gaps


def _owning_role_ids(snapshot: GovernanceSnapshot, at: datetime) -> set[int]:
    """Roles owning (or deputising for) a human-owned action type now or later."""
    system_owned = {a.pk for a in snapshot.action_types.values() if a.system_owned}
    ids: set[int] = set()
    for action_type_id, assignments in snapshot.assignments.items():
        if action_type_id in system_owned:
            continue
        for a in assignments:
            if a.effective_to is None or a.effective_to > at:
                ids.add(a.owner_role_id)
                if a.deputy_role_id:
                    ids.add(a.deputy_role_id)
    return ids


def _uncovered(snapshot: GovernanceSnapshot, at: datetime, horizon: timedelta) -> list[Gap]:
    end = at + horizon
    gaps = []
    for role_id in _owning_role_ids(snapshot, at):
        role = snapshot.roles[role_id]
        windows = coverage_gaps(snapshot.plans.get(role_id, []), at, end)
        if not windows:
            continue
        total = sum((finish - begin).total_seconds() for begin, finish in windows)
        first_start, first_end = windows[0]
        gaps.append(
            Gap(
                kind=GapKind.UNCOVERED_ROLE,
                subject=role.name,
                detail=(
                    f"{_hours(total)} uncovered in {len(windows)} window(s); first "
                    f"{first_start:%Y-%m-%d %H:%M} – {first_end:%Y-%m-%d %H:%M} UTC."
                ),
                fix_url=_admin("roster_changelist", role__id__exact=role.pk)
                if snapshot.plans.get(role_id)
                else _admin("roster_add", role=role.pk),
                fix_label="Fix the rosters" if snapshot.plans.get(role_id) else "Create a roster",
            )
        )
    return sorted(gaps, key=lambda g: g.subject)


def _owned_action_type_ids(snapshot: GovernanceSnapshot, role_id: int, at: datetime) -> set[int]:
    return {
        action_type_id
        for action_type_id, assignments in snapshot.assignments.items()
        for a in assignments
        if (a.owner_role_id == role_id or a.deputy_role_id == role_id)
        and (a.effective_to is None or a.effective_to > at)
    }


def _uncertified(snapshot: GovernanceSnapshot, at: datetime, horizon: timedelta) -> list[Gap]:
    """People on call (rotation or override) at some instant of the horizon without a
    certification for the role, or for an action type it owns, valid at that instant."""
    end = at + horizon
    found: dict[tuple[int, int], tuple[datetime, object, object]] = {}
    for role_id, plans in snapshot.plans.items():
        owned = _owned_action_type_ids(snapshot, role_id, at)
        for plan in plans:
            for instant in sorted({at, *plan.change_points(at, end)}):
                on_call = plan.on_call(instant)
                if on_call is None:
                    continue
                user = on_call[0]
                if not user.is_active or (role_id, user.pk) in found:
                    continue
                certified = any(
                    (c.role_id == role_id or c.action_type_id in owned) and c.is_valid_at(instant)
                    for c in snapshot.certifications.get(user.pk, [])
                )
                if not certified:
                    found[(role_id, user.pk)] = (instant, user, plan.roster)
    gaps = []
    for (role_id, _user_id), (instant, user, roster) in found.items():
        role = snapshot.roles[role_id]
        when = "now" if instant == at else f"from {instant:%Y-%m-%d %H:%M} UTC"
        gaps.append(
            Gap(
                kind=GapKind.UNCERTIFIED_ON_CALL,
                subject=f"{_person(user)} ({role.name})",
                detail=f"On call via {roster.name} {when} without a valid certification for {role.name}.",
                fix_url=_admin("certification_add", user=user.pk, role=role.pk),
                fix_label="Record a certification",
            )
        )
    return sorted(gaps, key=lambda g: g.subject)


def _expiring(at: datetime, within: timedelta) -> list[Gap]:
    # The snapshot keeps certifications without their people; one query fetches both.
    gaps = []
    for c in certifications_expiring(at=at, within=within):
        gaps.append(
            Gap(
                kind=GapKind.CERTIFICATION_EXPIRING,
                subject=f"{_person(c.user)} · {c.role or c.action_type}",
                detail=f"Expires {c.valid_until:%Y-%m-%d} ({(c.valid_until - at).days} days).",
                fix_url=_admin("certification_change", c.pk),
                fix_label="Renew",
            )
        )
    return gaps


def _covers_production(snapshot: GovernanceSnapshot, policy) -> list[str]:
    """Names of the production-changing action types an (enabled) policy can match."""
    action_types = list(policy.action_types.all()) or list(snapshot.action_types.values())
    return sorted(a.name for a in action_types if a.changes_production_state)


def _single_approver(snapshot: GovernanceSnapshot) -> list[Gap]:
    gaps = []
    for policy in snapshot.policies:
        lets_high_through = policy.max_blast_radius is None or policy.max_blast_radius >= Level.HIGH
        if policy.required_approvals > 1 or not lets_high_through:
            continue
        low = Level(policy.min_blast_radius).label if policy.min_blast_radius else "Low"
        high = Level(policy.max_blast_radius).label if policy.max_blast_radius else "Critical"
        gaps.append(
            Gap(
                kind=GapKind.SINGLE_APPROVER_HIGH_BLAST,
                subject=policy.name,
                detail=f"Matches blast radius {low}–{high} and needs a single approver.",
                fix_url=_admin("approvalpolicy_change", policy.pk),
                fix_label="Require more approvers",
            )
        )
    return gaps


def _chains_without_human(snapshot: GovernanceSnapshot) -> list[Gap]:
    by_chain: dict[int, tuple[object, set[str]]] = {}
    for policy in snapshot.policies:
        chain = policy.escalation_chain
        if chain.final_outcome != EscalationChain.FinalOutcome.AUTO_APPROVE:
            continue
        production = _covers_production(snapshot, policy)
        if production:
            by_chain.setdefault(chain.pk, (chain, set()))[1].update(production)
    gaps = []
    for chain, names in by_chain.values():
        listed = ", ".join(sorted(names)[:5]) + (" …" if len(names) > 5 else "")
        gaps.append(
            Gap(
                kind=GapKind.CHAIN_WITHOUT_HUMAN,
                subject=chain.name,
                detail=(
                    f"Ends by approving automatically, and policies route production-changing actions to it: {listed}."
                ),
                fix_url=_admin("escalationchain_change", chain.pk),
                fix_label="Make it expire",
            )
        )
    return sorted(gaps, key=lambda g: g.subject)


def ownership_gaps(*, at: datetime, horizon: timedelta | None = None) -> list[Gap]:
    """Every ownership gap at ``at``, critical kinds first. Reads one governance snapshot."""
    horizon = horizon or timedelta(days=settings.COVERAGE_HORIZON_DAYS)
    snapshot = current_snapshot()
    return [
        *_unowned(snapshot, at),
        *_uncovered(snapshot, at, horizon),
        *_uncertified(snapshot, at, horizon),
        *_chains_without_human(snapshot),
        *_single_approver(snapshot),
        *_expiring(at, EXPIRY_WINDOW),
    ]


def gaps_by_kind(gaps: list[Gap] | list[dict]) -> list[dict]:
    """Grouped for display: every kind listed (an empty kind is good news worth showing).
    Takes live gaps or the dicts a frozen report holds."""
    gaps = [g.as_dict() if isinstance(g, Gap) else g for g in gaps]
    return [
        {
            "kind": kind,
            "label": label,
            "critical": kind in GapKind.CRITICAL,
            "gaps": [g for g in gaps if g["kind"] == kind],
        }
        for kind, label in GapKind.LABELS.items()
    ]
