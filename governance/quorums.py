"""Quorums nobody can fill: an enabled policy asks for more distinct approvers than the people
who could ever be asked at one time.

At any instant a roster puts at most one person on call, so the people routing can ask for a
decision at once are at most one per roster of the owning role and of each co-signer role, and
only those holding a valid certification count. A policy's quorum for an action type is
unreachable when those rosters cannot supply ``required_approvals`` distinct certified people,
or a co-signer role has none at all: routing then escalates such decisions at once
(``decisions.lifecycle.stages``), the gap report lists it, and the roster save warns of it.

Deliberately a capacity bound, not the full slot matching the sign-off applies: people who
belong to several of the roles are counted once, rosters are counted per role.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from governance.models import ActionType, ApprovalPolicy, DecisionRole
from governance.rostering import RosterPlan
from governance.snapshot import GovernanceSnapshot, current_snapshot

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class Shortfall:
    """``policy`` cannot meet its quorum for ``action_types`` owned by ``owner``."""

    policy: ApprovalPolicy
    owner: DecisionRole
    action_types: tuple[str, ...]
    capacity: int
    empty_roles: tuple[str, ...]
    role_ids: tuple[int, ...]

    def describe(self) -> str:
        names = ", ".join(self.action_types)
        text = (
            f"{self.policy.name} needs {self.policy.required_approvals} distinct approvers for {names}, but at most "
            f"{self.capacity} certified people of {self.owner.name} and its co-signer roles can be on call at once"
        )
        if self.empty_roles:
            text += f"; nobody certified can sign for {', '.join(self.empty_roles)}"
        return text + ": its decisions escalate at once."


def _certified(snapshot: GovernanceSnapshot, user: User, role_id: int, action_type_id: int, at: datetime) -> bool:
    return user.is_active and any(
        (c.role_id == role_id or c.action_type_id == action_type_id) and c.is_valid_at(at)
        for c in snapshot.certifications.get(user.pk, [])
    )


def _plans(snapshot: GovernanceSnapshot, role_id: int, replace: RosterPlan | None) -> list[RosterPlan]:
    plans = snapshot.plans.get(role_id, [])
    if replace is None:
        return plans
    kept = [p for p in plans if replace.roster.pk is None or p.roster.pk != replace.roster.pk]
    return [*kept, replace] if replace.roster.role_id == role_id else kept


def _capacity(
    snapshot: GovernanceSnapshot, role_ids: list[int], action_type_id: int, at: datetime, replace: RosterPlan | None
) -> tuple[int, list[int]]:
    """(how many distinct certified people the roles' rosters can put on call at once, the roles with none)."""
    people: set[int] = set()
    rosters = 0
    empty = []
    for role_id in role_ids:
        found = False
        for plan in _plans(snapshot, role_id, replace):
            candidates = [*plan.members, *(o.user for o in plan.overrides if o.ends_at > at)]
            certified = {u.pk for u in candidates if _certified(snapshot, u, role_id, action_type_id, at)}
            if certified:
                found = True
                rosters += 1
                people |= certified
        if not found:
            empty.append(role_id)
    return min(len(people), rosters), empty


def _covered(snapshot: GovernanceSnapshot, policy: ApprovalPolicy) -> list[ActionType]:
    listed = list(policy.action_types.all()) or list(snapshot.action_types.values())
    return sorted((a for a in listed if not a.system_owned), key=lambda a: a.name)


def quorum_shortfalls(
    snapshot: GovernanceSnapshot, *, at: datetime, replace: RosterPlan | None = None
) -> list[Shortfall]:
    """Every enabled policy and current owner whose quorum cannot be met at ``at`` (``replace``:
    an unsaved version of one roster, to check a change before saving it)."""
    found: dict[tuple[int, int], tuple[ApprovalPolicy, DecisionRole, list[str], int, list[int], list[int]]] = {}
    for policy in snapshot.policies:
        cosigners = [r.pk for r in policy.cosigner_roles.all()]
        for action_type in _covered(snapshot, policy):
            owner = next((a for a in snapshot.assignments.get(action_type.pk, []) if a.is_current(at)), None)
            if owner is None:
                continue  # an unowned action type is a gap of its own
            roles = list(dict.fromkeys([owner.owner_role_id, *cosigners]))
            capacity, empty = _capacity(snapshot, roles, action_type.pk, at, replace)
            empty_cosigners = [r for r in empty if r != owner.owner_role_id]
            if capacity >= policy.required_approvals and not empty_cosigners:
                continue
            key = (policy.pk, owner.owner_role_id)
            entry = found.setdefault(key, (policy, owner.owner_role, [], capacity, empty_cosigners, roles))
            entry[2].append(action_type.name)
    return [
        Shortfall(
            policy=policy,
            owner=owner,
            action_types=tuple(names),
            capacity=capacity,
            empty_roles=tuple(sorted(snapshot.roles[r].name for r in empty)),
            role_ids=tuple(roles),
        )
        for policy, owner, names, capacity, empty, roles in found.values()
    ]


def policy_quorum_warnings(*, policy: ApprovalPolicy, at: datetime) -> list[str]:
    """What the admin warns of after saving ``policy``: its unreachable quorums, if any."""
    return [s.describe() for s in quorum_shortfalls(current_snapshot(), at=at) if s.policy.pk == policy.pk]
