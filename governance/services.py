"""Writes to the governance model. Each service runs in one transaction and takes the actor.

The validation functions (``*_validate``) are the single home of each rule: the admin's
forms call them to show errors on the form, and the write services call them again before
saving, so no surface can skip a rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, Q, QuerySet

from governance import rbac
from governance.audit import acting_as, change_reason
from governance.models import (
    ActionType,
    ApprovalPolicy,
    DecisionRole,
    EscalationChain,
    IdPGroupMapping,
    OwnershipAssignment,
    Roster,
    RosterMember,
)
from governance.quorums import quorum_shortfalls
from governance.rostering import RosterPlan
from governance.selectors import coverage_horizon, owning_roles, role_coverage_gaps
from governance.snapshot import current_snapshot

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _lock(model: type[Model], pk: int) -> None:
    model._default_manager.select_for_update().filter(pk=pk).first()


# --- Ownership -----------------------------------------------------------------------------


def ownership_overlaps(
    *, action_type: ActionType, effective_from: datetime, effective_to: datetime | None, exclude_pk: int | None = None
) -> QuerySet[OwnershipAssignment]:
    """Assignments of ``action_type`` whose period overlaps [effective_from, effective_to)."""
    qs = OwnershipAssignment.objects.filter(action_type=action_type).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gt=effective_from)
    )
    if effective_to is not None:
        qs = qs.filter(effective_from__lt=effective_to)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.select_related("owner_role")


def ownership_validate(assignment: OwnershipAssignment, *, allow_handover: bool = False) -> None:
    """Raise ValidationError unless ``assignment`` keeps at most one owner per instant.

    With ``allow_handover``, one open-ended assignment that starts earlier is not a conflict:
    ``ownership_assign`` ends it where the new one starts.
    """
    errors: dict[str, list[str]] = {}
    action_type = assignment.action_type
    if assignment.effective_to is not None and assignment.effective_to <= assignment.effective_from:
        errors.setdefault("effective_to", []).append("The end must be after the start.")
    if assignment.deputy_role_id and assignment.deputy_role_id == assignment.owner_role_id:
        errors.setdefault("deputy_role", []).append("The deputy role must differ from the owning role.")
    if errors:
        raise ValidationError(errors)
    overlaps = list(
        ownership_overlaps(
            action_type=action_type,
            effective_from=assignment.effective_from,
            effective_to=assignment.effective_to,
            exclude_pk=assignment.pk,
        )
    )
    if allow_handover:
        overlaps = [o for o in overlaps if not _is_handover(o, assignment)]
    if overlaps:
        described = "; ".join(
            f"{o.owner_role} from {o.effective_from:%Y-%m-%d %H:%M %Z}"
            + (f" to {o.effective_to:%Y-%m-%d %H:%M %Z}" if o.effective_to else " with no end")
            for o in overlaps
        )
        raise ValidationError(
            {
                "effective_from": [
                    f"{action_type} already has an owner in this period ({described}). "
                    "End that assignment first: an action type has exactly one owner at any instant."
                ]
            }
        )


def _is_handover(existing: OwnershipAssignment, new: OwnershipAssignment) -> bool:
    return existing.effective_to is None and existing.effective_from < new.effective_from


@transaction.atomic
def ownership_assign(
    *,
    actor: User | None,
    action_type: ActionType,
    owner_role: DecisionRole,
    effective_from: datetime,
    effective_to: datetime | None = None,
    deputy_role: DecisionRole | None = None,
    reason: str,
    ticket_ref: str = "",
) -> OwnershipAssignment:
    """Make ``owner_role`` the owner of ``action_type`` from ``effective_from``.

    An open-ended earlier assignment is ended at ``effective_from`` (a hand-over) and, when the
    new assignment is bounded, resumes at its end; any other overlap is a ValidationError.
    Locks the action type row so that two concurrent assignments cannot both pass the overlap
    check. Writes audit entries with actor and reason.
    """
    _lock(ActionType, action_type.pk)
    assignment = OwnershipAssignment(
        action_type=action_type,
        owner_role=owner_role,
        deputy_role=deputy_role,
        effective_from=effective_from,
        effective_to=effective_to,
    )
    ownership_validate(assignment, allow_handover=True)
    continuing: OwnershipAssignment | None = None
    with acting_as(actor), change_reason(reason, ticket_ref):
        for previous in ownership_overlaps(
            action_type=action_type, effective_from=effective_from, effective_to=effective_to
        ):
            if _is_handover(previous, assignment):
                previous.effective_to = effective_from
                previous.save(update_fields=["effective_to", "updated_at"])
                continuing = previous
        assignment.full_clean()
        assignment.save()
        if continuing is not None and effective_to is not None:
            # A bounded hand-over (cover for a week) hands back afterwards: no gap behind it.
            OwnershipAssignment.objects.create(
                action_type=action_type,
                owner_role=continuing.owner_role,
                deputy_role=continuing.deputy_role,
                effective_from=effective_to,
            )
    return assignment


@transaction.atomic
def ownership_save(
    *, actor: User | None, assignment: OwnershipAssignment, reason: str, ticket_ref: str = ""
) -> OwnershipAssignment:
    """Create or change ``assignment`` as given (no automatic hand-over). Locks the action type."""
    _lock(ActionType, assignment.action_type_id)
    ownership_validate(assignment)
    with acting_as(actor), change_reason(reason, ticket_ref):
        assignment.full_clean()
        assignment.save()
    return assignment


# --- Escalation chains and policies -------------------------------------------------------


def _production_changing(action_types: Iterable[ActionType]) -> list[ActionType]:
    return [a for a in action_types if a.changes_production_state or a.touches_regulated_data]


def _covered_action_types(action_types: list[ActionType]) -> list[ActionType]:
    """The action types a policy applies to: those listed, or every one when none is listed."""
    return action_types if action_types else list(ActionType.objects.all())


def escalation_chain_validate(
    *, chain: EscalationChain, step_count: int, policies: Iterable[ApprovalPolicy] | None = None
) -> None:
    """A chain has at least one step; auto-approval at its end never reaches a risky action type."""
    errors: dict[str, list[str]] = {}
    if step_count < 1:
        errors["__all__"] = ["An escalation chain needs at least one step."]
    if chain.final_outcome == EscalationChain.FinalOutcome.AUTO_APPROVE:
        if policies is None:
            policies = chain.policies.prefetch_related("action_types") if chain.pk else []
        risky = sorted(
            {a.name for p in policies for a in _production_changing(_covered_action_types(list(p.action_types.all())))}
        )
        if risky:
            errors["final_outcome"] = [
                "Auto-approval on timeout is impossible for actions that change production state or touch "
                f"regulated data, and policies using this chain cover: {', '.join(risky)}."
            ]
    if errors:
        raise ValidationError(errors)


def approval_policy_validate(
    *,
    policy: ApprovalPolicy,
    action_types: list[ActionType],
    cosigner_roles: list[DecisionRole],
    at: datetime,
) -> None:
    """The rules every policy obeys, beyond its single-row database constraints.

    - auto-approval is only for system-owned action types;
    - its chain never auto-approves a production-changing or regulated action type on timeout;
    - the owner and co-signer roles can supply ``required_approvals`` distinct people, and
      ``required_approvals`` leaves room for the owner and every co-signer role.
    """
    errors: dict[str, list[str]] = {}
    covered = _covered_action_types(action_types)
    if policy.allow_auto_approval:
        human = sorted(a.name for a in action_types if not a.system_owned)
        if human:
            errors.setdefault("allow_auto_approval", []).append(
                f"Auto-approval is only for system-owned action types; not for: {', '.join(human)}."
            )
    chain = policy.escalation_chain if policy.escalation_chain_id else None
    if chain is not None and chain.final_outcome == EscalationChain.FinalOutcome.AUTO_APPROVE:
        risky = sorted(a.name for a in _production_changing(covered))
        if risky:
            errors.setdefault("escalation_chain", []).append(
                f"This chain approves automatically when nobody acts, which is impossible for: {', '.join(risky)}."
            )
    shortfalls = _approver_shortfalls(
        policy=policy, covered=covered, cosigner_roles=cosigner_roles, at=at, listed=bool(action_types)
    )
    if shortfalls:
        errors.setdefault("required_approvals", []).extend(shortfalls)
    if errors:
        raise ValidationError(errors)


def _approver_shortfalls(
    *, policy: ApprovalPolicy, covered: list[ActionType], cosigner_roles: list[DecisionRole], at: datetime, listed: bool
) -> list[str]:
    needed = policy.required_approvals
    # Every owner in force now or scheduled later must be able to meet the policy, not only the last one.
    owners: dict[int, list[DecisionRole | None]] = {}
    for o in (
        OwnershipAssignment.objects.filter(action_type__in=covered)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=at))
        .select_related("owner_role")
        .order_by("effective_from")
    ):
        owners.setdefault(o.action_type_id, []).append(o.owner_role)
    role_sets: list[tuple[str, set[DecisionRole]]] = []
    for action_type in covered:
        if action_type.system_owned and not listed:
            continue
        for owner in owners.get(action_type.pk) or [None]:
            roles = set(cosigner_roles) | ({owner} if owner is not None else set())
            if roles and (action_type.name, roles) not in role_sets:
                role_sets.append((action_type.name, roles))
    if not role_sets and cosigner_roles:
        role_sets.append(("the co-signer roles", set(cosigner_roles)))
    all_roles = {r.pk for _name, roles in role_sets for r in roles}
    members: dict[int, set[int]] = {pk: set() for pk in all_roles}
    for role_id, user_id in RosterMember.objects.filter(roster__role_id__in=all_roles).values_list(
        "roster__role_id", "user_id"
    ):
        members[role_id].add(user_id)
    problems: list[str] = []
    for name, roles in sorted(role_sets, key=lambda item: item[0]):
        people = set().union(*(members[r.pk] for r in roles))
        role_names = ", ".join(sorted(r.name for r in roles))
        if len(people) < needed:
            problems.append(
                f"{name}: {needed} distinct approvers needed but the rosters of {role_names} have "
                f"{len(people)} member(s)."
            )
        if len(roles) > needed:
            problems.append(
                f"{name}: the owner and each co-signer role ({role_names}) must sign, which takes at least "
                f"{len(roles)} approvals; raise the required approvals to {len(roles)}."
            )
    return problems


@transaction.atomic
def approval_policy_save(
    *,
    actor: User | None,
    policy: ApprovalPolicy,
    action_types: list[ActionType],
    cosigner_roles: list[DecisionRole],
    reason: str,
    ticket_ref: str = "",
    at: datetime,
) -> ApprovalPolicy:
    """Create or change a policy: validates every rule, bumps its version, audits with reason."""
    approval_policy_validate(policy=policy, action_types=action_types, cosigner_roles=cosigner_roles, at=at)
    with acting_as(actor), change_reason(reason, ticket_ref):
        if policy.pk is not None:
            locked = ApprovalPolicy.objects.select_for_update().get(pk=policy.pk)
            policy.version = locked.version + 1
        policy.full_clean()
        policy.save()
        policy.action_types.set(action_types)
        policy.cosigner_roles.set(cosigner_roles)
    return policy


# --- Rosters -------------------------------------------------------------------------------

CONFIRM_GAPS_LABEL = "Save even though an owning role will have nobody on call or a quorum cannot be met"


def _format_gap(start: datetime, end: datetime) -> str:
    return f"{start:%a %d %b %H:%M} – {end:%a %d %b %H:%M} UTC"


def roster_coverage_problems(*, plan: RosterPlan, at: datetime) -> list[str]:
    """For the roster as ``plan`` describes it (unsaved), the owning roles it would leave with
    nobody on call within the coverage horizon, each with the gaps' times, and the policies of its
    role whose quorum it would leave unreachable (``governance.quorums``)."""
    roster = plan.roster
    start, end = coverage_horizon(at)
    roles = list(owning_roles(at=at))
    affected = [r for r in roles if r.pk == roster.role_id]
    if roster.pk:
        original_role_id = Roster.objects.filter(pk=roster.pk).values_list("role_id", flat=True).first()
        affected += [r for r in roles if r.pk == original_role_id and r.pk != roster.role_id]
    problems = []
    for role in affected:
        gaps = role_coverage_gaps(role=role, start=start, end=end, replace=plan)
        if gaps:
            shown = ", ".join(_format_gap(a, b) for a, b in gaps[:5])
            more = f" and {len(gaps) - 5} more" if len(gaps) > 5 else ""
            problems.append(f"{role.name} would have nobody on call: {shown}{more}.")
    for shortfall in quorum_shortfalls(current_snapshot(), at=at, replace=plan):
        if roster.role_id in shortfall.role_ids:
            problems.append(f"After this change {shortfall.describe()}")
    return problems


def roster_coverage_validate(*, plan: RosterPlan, at: datetime, confirmed: bool) -> None:
    """Refuse a roster change that leaves an owning role uncovered, unless explicitly confirmed."""
    problems = roster_coverage_problems(plan=plan, at=at)
    if problems and not confirmed:
        raise ValidationError(
            [*problems, f"Tick “{CONFIRM_GAPS_LABEL}” to save anyway."],
            code="coverage_gap",
        )


# --- Sign-in ---------------------------------------------------------------------------------


def idp_group_mapping_save(
    *, actor: User | None, mapping: IdPGroupMapping, reason: str, ticket_ref: str = ""
) -> IdPGroupMapping:
    """Create or change an IdP group mapping, audited with the reason. Only the Analyst, Auditor
    and Governance lead groups can be given by an IdP (never Integration, never superuser)."""
    if mapping.group_id is not None and mapping.group.name not in rbac.SSO_MAPPABLE_GROUPS:
        raise ValidationError({"group": f"An IdP can only give one of: {', '.join(rbac.SSO_MAPPABLE_GROUPS)}."})
    mapping.idp_group = mapping.idp_group.strip()
    mapping.provider = mapping.provider.strip()
    with transaction.atomic(), acting_as(actor), change_reason(reason, ticket_ref):
        mapping.full_clean()
        mapping.save()
    return mapping
