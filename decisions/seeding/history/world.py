"""What the history simulation reads of the governance model, and how fast: the approval
policies as ``match_policy`` reads them, who is on call for a role at an instant (resolved once
per interval in which nothing changes), and the lookups the simulation makes for every decision
(its requirements, the certified signers, the owner, the snapshot entries), cached.

Certifications count exactly as routing counts them (from their start until they expire or are
revoked); the demo files them, and its ownership, a year back, so a history of up to a year
is signed by people certified at the time. One liberty: an action type whose ownership starts
after an instant is taken as owned by its first owner then.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from decisions.lifecycle.snapshots import Requirements, chain_entry, signer_entry
from governance.models import (
    ActionType,
    ApprovalPolicy,
    Certification,
    DecisionRole,
    EscalationChain,
    OwnershipAssignment,
)
from governance.selectors import OnCall, Signer, match_policy
from governance.snapshot import GovernanceSnapshot


def held(cert: Certification, at: datetime) -> bool:
    """Valid at ``at``, as routing and the evidence pack check it (start, expiry, revocation)."""
    return cert.valid_from <= at < cert.valid_until and (cert.revoked_at is None or cert.revoked_at > at)


class _Listed:
    """A prefetched relation as ``.all()`` answers it."""

    def __init__(self, items: list[ActionType]) -> None:
        self.items = items

    def all(self) -> list[ActionType]:
        return self.items


class _PolicyView:
    """An approval policy as ``match_policy`` reads it, its action types listed once: building
    the real many-to-many manager on every access costs more than the whole match."""

    def __init__(self, policy: ApprovalPolicy) -> None:
        self.policy = policy
        self.action_types = _Listed(list(policy.action_types.all()))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.policy, name)


class _OnCallIndex:
    """Who is on call for a role at an instant, resolved once per interval between two change
    points (hand-offs, coverage edges, overrides, certification starts, expiries and
    revocations) instead of once per decision: within an interval nothing the answer depends on
    changes."""

    def __init__(self, snapshot: GovernanceSnapshot, start: datetime, end: datetime) -> None:
        self.snapshot = snapshot
        self.start, self.end = start - timedelta(days=2), end + timedelta(days=2)
        self.certification_points = {
            instant
            for certifications in snapshot.certifications.values()
            for c in certifications
            for instant in (c.valid_from, c.valid_until, c.revoked_at)
            if instant is not None
        }
        self.points: dict[int, list[datetime]] = {}
        self.cache: dict[tuple[int, int], list[OnCall]] = {}

    def segment(self, role: DecisionRole, at: datetime) -> int:
        """Which of ``role``'s intervals ``at`` falls in (answers are cached by it)."""
        points = self.points.get(role.id)
        if points is None:
            plans = self.snapshot.plans.get(role.id, [])
            found = set().union(
                self.certification_points, *(plan.change_points(self.start, self.end) for plan in plans)
            )
            points = self.points[role.id] = sorted(found)
        return bisect.bisect_right(points, at)

    def on_call(self, role: DecisionRole, at: datetime) -> list[OnCall]:
        """Who is on call for ``role`` at ``at``, as ``selectors.on_call_for_roles`` finds them."""
        key = (role.id, self.segment(role, at))
        found = self.cache.get(key)
        if found is None:
            found, seen = [], set()
            for plan in self.snapshot.plans.get(role.id, []):  # as selectors.on_call_for_roles
                slot = plan.on_call(at)
                if slot is None or not slot[0].is_active or slot[0].id in seen:
                    continue
                seen.add(slot[0].id)
                found.append(OnCall(user=slot[0], role=plan.roster.role, roster=plan.roster, source=slot[1]))
            self.cache[key] = found
        return found


class World:
    """The governance model as the simulation reads it, from one pinned snapshot: the lookups
    routing makes (requirements, signers, owner) and the snapshot entries, each computed once
    and cached, since thousands of decisions ask the same questions."""

    def __init__(self, snapshot: GovernanceSnapshot, start: datetime, end: datetime) -> None:
        self._snapshot = snapshot
        self._on_call = _OnCallIndex(snapshot, start, end)
        self._policies = {p.id: p for p in snapshot.policies}
        self._policy_views = [_PolicyView(p) for p in snapshot.policies]
        self._cosigner_roles = {p.id: list(p.cosigner_roles.all()) for p in snapshot.policies}
        self._entries: dict[tuple[int, int, int, str, int, bool], dict[str, Any]] = {}
        self._signer_cache: dict[tuple[int, int, bool, int], list[Signer]] = {}
        self._chains: dict[int | None, dict[str, Any]] = {}

    def role(self, pk: int) -> DecisionRole:
        """The decision role with id ``pk`` (a chain step names its role by id)."""
        return self._snapshot.roles[pk]

    def requirements(self, decision: SimpleNamespace) -> Requirements:
        """As ``routing.requirements_for``, over the policy views."""
        match = match_policy(
            action_type=decision.action_type,
            severity=decision.severity,
            blast_radius=decision.blast_radius,
            ai_confidence=decision.ai_confidence,
            regulated_data=decision.affects_regulated_data,
            customer_impact=decision.customer_impact,
            # Stand-ins for the policies: match_policy reads only their fields and
            # ``action_types.all()``, which a view answers; the match names a view.
            policies=cast("list[ApprovalPolicy]", self._policy_views),
        )
        if match is None:
            return Requirements.fail_safe()
        policy = self._policies[match.policy.id]
        return Requirements.of(policy, match.reasons, self._cosigner_roles[policy.id])

    # --- who may sign ---------------------------------------------------------------------

    def signers(
        self, action_type: ActionType, role: DecisionRole, at: datetime, *, deputy: bool = False
    ) -> list[Signer]:
        """As ``selectors.certified_signers``, over the on-call index and ``held`` (the same
        answer within one of the index's intervals)."""
        key = (role.id, action_type.id, deputy, self._on_call.segment(role, at))
        found = self._signer_cache.get(key)
        if found is None:
            found = self._signer_cache[key] = self._signers(action_type, role, at, deputy=deputy)
        return found

    def _signers(self, action_type: ActionType, role: DecisionRole, at: datetime, *, deputy: bool) -> list[Signer]:
        found = []
        for person in self._on_call.on_call(role, at):
            certs = [
                c
                for c in self._snapshot.certifications.get(person.user.id, [])
                if (c.role_id == role.id or c.action_type_id == action_type.id) and held(c, at)
            ]
            if certs:  # certifications are ordered by valid_until, latest first
                found.append(Signer(person.user, role, person.roster, person.source, certs[0], via_deputy=deputy))
        return found

    def owner(self, action_type: ActionType, at: datetime) -> OwnershipAssignment | None:
        """The ownership current at ``at``, as ``selectors.current_owner`` finds it (with the
        liberty the module docstring states)."""
        assignments = self._snapshot.assignments.get(action_type.id, [])
        current = next((a for a in assignments if a.is_current(at)), None)
        if current is None and assignments and assignments[0].effective_from > at:
            return assignments[0]  # see the module docstring
        return current

    def entry(self, signer: Signer) -> dict[str, Any]:
        """``snapshots.signer_entry``, once per signer."""
        key = (
            signer.user.id,
            signer.role.id,
            signer.roster.id,
            signer.source,
            signer.certification.id,
            signer.via_deputy,
        )
        if key not in self._entries:
            self._entries[key] = signer_entry(signer)
        return self._entries[key]

    def chain(self, chain: EscalationChain | None) -> dict[str, Any]:
        """``snapshots.chain_entry``, once per chain."""
        key = chain.id if chain is not None else None
        if key not in self._chains:
            self._chains[key] = chain_entry(chain)
        return self._chains[key]


def still_held(signers: list[Signer], at: datetime) -> list[Signer]:
    """The signers whose certification (valid when they were made eligible) still holds at ``at``."""
    return [s for s in signers if held(s.certification, at)]
