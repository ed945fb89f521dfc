"""Reads of the governance model: who owns, who is on call, who may sign, which policy applies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Q, QuerySet

from governance.models import (
    ActionType,
    ApprovalPolicy,
    Certification,
    Criterion,
    DecisionRole,
    Level,
    OwnershipAssignment,
    Roster,
)
from governance.rostering import RosterPlan, coverage_gaps
from governance.snapshot import current_snapshot, rosters_with_plans

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class OnCall:
    """One person on call for a role at an instant, and through which roster."""

    user: User
    role: DecisionRole
    roster: Roster
    source: str  # "rotation" or "override"


@dataclass(frozen=True)
class Signer:
    """A person who may certify a decision at an instant, and why."""

    user: User
    role: DecisionRole
    roster: Roster
    source: str
    certification: Certification
    via_deputy: bool = False

    def why(self) -> str:
        how = "covering by override" if self.source == "override" else "on the rotation"
        deputy = " (deputy role)" if self.via_deputy else ""
        return (
            f"on call for {self.role.name}{deputy} via roster {self.roster.name} {how}; "
            f"certified until {self.certification.valid_until:%Y-%m-%d}"
        )


def on_call(*, role: DecisionRole, at: datetime) -> list[OnCall]:
    """Who is on call for ``role`` at ``at``: one person per roster at most, overrides first.

    Reads the cached governance snapshot: one query when it is warm, whatever the size.
    """
    return on_call_for_roles(roles=[role], at=at).get(role.pk, [])


def on_call_for_roles(*, roles: list[DecisionRole], at: datetime) -> dict[int, list[OnCall]]:
    """``on_call`` for several roles at once, keyed by role pk; people listed once per role."""
    snapshot = current_snapshot()
    result: dict[int, list[OnCall]] = {role.pk: [] for role in roles}
    for role in roles:
        seen: set[int] = set()
        for plan in snapshot.plans.get(role.pk, []):
            found = plan.on_call(at)
            if found is None:
                continue
            user, source, _override = found
            if not user.is_active or user.pk in seen:
                continue
            seen.add(user.pk)
            result[role.pk].append(OnCall(user=user, role=plan.roster.role, roster=plan.roster, source=source))
    return result


def current_owner(*, action_type: ActionType, at: datetime) -> OwnershipAssignment | None:
    """The ownership assignment in force for ``action_type`` at ``at``, or None (a gap)."""
    for assignment in current_snapshot().assignments.get(action_type.pk, []):
        if assignment.is_current(at):
            return assignment
    return None


def valid_certifications(*, at: datetime) -> QuerySet[Certification]:
    return Certification.objects.filter(valid_from__lte=at, valid_until__gt=at).filter(
        Q(revoked_at__isnull=True) | Q(revoked_at__gt=at)
    )


def certified_signers(
    *, action_type: ActionType, role: DecisionRole, at: datetime, via_deputy: bool = False
) -> list[Signer]:
    """People on call for ``role`` at ``at`` holding a valid certification for it or the action type.

    When a person holds several, the one valid longest is recorded.
    """
    certifications = current_snapshot().certifications
    signers = []
    for person in on_call(role=role, at=at):
        valid = [
            c
            for c in certifications.get(person.user.pk, [])
            if (c.role_id == role.pk or c.action_type_id == action_type.pk) and c.is_valid_at(at)
        ]
        if valid:
            signers.append(
                Signer(
                    user=person.user,
                    role=role,
                    roster=person.roster,
                    source=person.source,
                    certification=max(valid, key=lambda c: c.valid_until),
                    via_deputy=via_deputy,
                )
            )
    return signers


def eligible_signers(*, action_type: ActionType, at: datetime) -> list[Signer]:
    """Who may certify a decision of ``action_type`` at ``at``: on call for the owning role AND certified.

    When nobody in the owning role qualifies, the deputy role (if any) is asked instead.
    Empty for an action type without a current owner.
    """
    owner = current_owner(action_type=action_type, at=at)
    if owner is None:
        return []
    signers = certified_signers(action_type=action_type, role=owner.owner_role, at=at)
    if not signers and owner.deputy_role is not None:
        signers = certified_signers(action_type=action_type, role=owner.deputy_role, at=at, via_deputy=True)
    return signers


@dataclass(frozen=True)
class PolicyMatch:
    """The first rule that matched, and the reasons it matched, in words."""

    policy: ApprovalPolicy
    reasons: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


@dataclass(frozen=True)
class DecisionAttributes:
    """What a policy rule is matched against."""

    action_type: ActionType
    severity: int
    blast_radius: int
    ai_confidence: Decimal
    regulated_data: bool
    customer_impact: bool


def _criterion(rule: str, value: bool, label: str) -> tuple[bool, str | None]:
    if rule == Criterion.ANY:
        return True, None
    wanted = rule == Criterion.YES
    return value == wanted, f"{label}: {'yes' if value else 'no'}"


def policy_matches(policy: ApprovalPolicy, attrs: DecisionAttributes) -> list[str] | None:
    """The reasons ``policy`` matches ``attrs``, or None when it does not.

    ``policy.action_types`` must be prefetched.
    """
    reasons: list[str] = []
    listed = list(policy.action_types.all())
    if listed:
        if attrs.action_type.pk not in {a.pk for a in listed}:
            return None
        reasons.append(f"action type {attrs.action_type.slug} is listed")
    if policy.min_severity is not None:
        if attrs.severity < policy.min_severity:
            return None
        reasons.append(f"severity {Level(attrs.severity).label} ≥ {Level(policy.min_severity).label}")
    if policy.min_blast_radius is not None:
        if attrs.blast_radius < policy.min_blast_radius:
            return None
        reasons.append(f"blast radius {Level(attrs.blast_radius).label} ≥ {Level(policy.min_blast_radius).label}")
    if policy.max_blast_radius is not None:
        if attrs.blast_radius > policy.max_blast_radius:
            return None
        reasons.append(f"blast radius {Level(attrs.blast_radius).label} ≤ {Level(policy.max_blast_radius).label}")
    if policy.min_ai_confidence is not None:
        if attrs.ai_confidence < policy.min_ai_confidence:
            return None
        reasons.append(f"AI confidence {attrs.ai_confidence} ≥ {policy.min_ai_confidence}")
    if policy.max_ai_confidence is not None:
        if attrs.ai_confidence > policy.max_ai_confidence:
            return None
        reasons.append(f"AI confidence {attrs.ai_confidence} ≤ {policy.max_ai_confidence}")
    for rule, value, label in (
        (policy.regulated_data, attrs.regulated_data, "regulated data"),
        (policy.customer_impact, attrs.customer_impact, "customer impact"),
    ):
        ok, why = _criterion(rule, value, label)
        if not ok:
            return None
        if why:
            reasons.append(why)
    if not reasons:
        reasons.append("catch-all rule")
    return reasons


def match_policy(
    *,
    action_type: ActionType,
    severity: int,
    blast_radius: int,
    ai_confidence: Decimal | float,
    regulated_data: bool = False,
    customer_impact: bool = False,
    policies: list[ApprovalPolicy] | None = None,
) -> PolicyMatch | None:
    """The first enabled rule, by priority, that matches; None when no rule does.

    Regulated data counts when the submission says so *or* the action type touches it.
    """
    attrs = DecisionAttributes(
        action_type=action_type,
        severity=int(severity),
        blast_radius=int(blast_radius),
        ai_confidence=Decimal(str(ai_confidence)),
        regulated_data=bool(regulated_data) or action_type.touches_regulated_data,
        customer_impact=bool(customer_impact),
    )
    for policy in policies if policies is not None else current_snapshot().policies:
        if not policy.enabled:
            continue
        reasons = policy_matches(policy, attrs)
        if reasons is not None:
            return PolicyMatch(policy=policy, reasons=reasons)
    return None


def role_coverage_gaps(
    *, role: DecisionRole, start: datetime, end: datetime, replace: RosterPlan | None = None
) -> list[tuple[datetime, datetime]]:
    """When nobody is on call for ``role`` in [start, end).

    ``replace`` substitutes an unsaved version of one roster (to check a change before saving it).
    """
    plans = [RosterPlan.of(r) for r in rosters_with_plans(roles=[role])]
    if replace is not None:
        plans = [p for p in plans if p.roster.pk != replace.roster.pk or replace.roster.pk is None]
        if replace.roster.role_id == role.pk:
            plans.append(replace)
    return coverage_gaps(plans, start, end)


def coverage_horizon(now: datetime) -> tuple[datetime, datetime]:
    return now, now + timedelta(days=settings.COVERAGE_HORIZON_DAYS)


def owning_roles(*, at: datetime) -> QuerySet[DecisionRole]:
    """Roles that own at least one human-owned action type now or later."""
    return DecisionRole.objects.filter(
        Q(owned_assignments__effective_to__isnull=True) | Q(owned_assignments__effective_to__gt=at),
        owned_assignments__action_type__system_owned=False,
    ).distinct()


def certifications_expiring(*, at: datetime, within: timedelta) -> QuerySet[Certification]:
    return (
        valid_certifications(at=at)
        .filter(valid_until__lte=at + within)
        .select_related("user", "role", "action_type")
        .order_by("valid_until")
    )


def governance_overview(*, at: datetime) -> dict[str, Any]:
    """Who is on call now for every role, by role name. Reads the cached snapshot only (the
    ownership gaps the admin index shows beside it come from ``governance.gaps``)."""
    roles = sorted(current_snapshot().roles.values(), key=lambda r: r.name)
    on_call_now = on_call_for_roles(roles=roles, at=at)
    return {"on_call": [{"role": r, "people": on_call_now.get(r.pk, [])} for r in roles]}
