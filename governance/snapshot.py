"""An in-memory snapshot of everything routing reads, cached per process by a version token.

Routing a decision needs policies, ownership, rosters, overrides, certifications and users.
Loading them costs about ten queries; the snapshot is reused while
``governance_configversion.token`` is unchanged, so a warm intake spends one query on it.
Database triggers change the token on every write to those tables (see migration 0005),
whatever the write path. The token is random, so a rolled-back change never resurrects a stale
snapshot. Nothing here is shared between processes: each one checks the token itself.

Everything in the snapshot is read-only. Time is not part of it: callers evaluate it at the
instant they care about.
"""

from __future__ import annotations

import contextlib
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connections
from django.db.models import Prefetch, QuerySet

from governance.models import (
    ActionType,
    ApprovalPolicy,
    Certification,
    ConfigVersion,
    DecisionRole,
    EscalationStep,
    OwnershipAssignment,
    Roster,
    RosterMember,
    RosterOverride,
)
from governance.rostering import RosterPlan

User = get_user_model()


def rosters_with_plans(*, roles: list[DecisionRole] | None = None) -> QuerySet[Roster]:
    """Rosters with everything needed to resolve them in memory (members, overrides, users)."""
    # One prefetch_related call per Prefetch: the stubs type a call's Prefetch querysets as one
    # model, and these two differ. Django appends the lookups either way.
    qs = (
        Roster.objects.select_related("role")
        .prefetch_related(
            Prefetch("memberships", queryset=RosterMember.objects.select_related("user").order_by("position", "pk"))
        )
        .prefetch_related(Prefetch("overrides", queryset=RosterOverride.objects.select_related("user")))
    )
    if roles is not None:
        qs = qs.filter(role__in=roles)
    return qs


@dataclass
class GovernanceSnapshot:
    token: str | None
    policies: list[ApprovalPolicy] = field(default_factory=list)
    roles: dict[int, DecisionRole] = field(default_factory=dict)
    assignments: dict[int, list[OwnershipAssignment]] = field(default_factory=dict)
    plans: dict[int, list[RosterPlan]] = field(default_factory=dict)
    certifications: dict[int, list[Certification]] = field(default_factory=dict)
    permissions: dict[tuple[str, str], int] = field(default_factory=dict)
    action_types: dict[str, ActionType] = field(default_factory=dict)

    def permission_id(self, app_label: str, codename: str) -> int:
        """Permission rows never change at run time; kept here to spare a query per grant."""
        return self.permissions[(app_label, codename)]

    @classmethod
    def load(cls, token: str | None, using: str = "default") -> GovernanceSnapshot:
        policies = list(
            ApprovalPolicy.objects.using(using)
            .filter(enabled=True)
            .select_related("escalation_chain")
            .prefetch_related(
                "action_types",
                "cosigner_roles",
                Prefetch("escalation_chain__steps", queryset=EscalationStep.objects.select_related("role")),
            )
            .order_by("priority")
        )
        roles = {r.pk: r for r in DecisionRole.objects.using(using)}
        assignments: dict[int, list[OwnershipAssignment]] = defaultdict(list)
        for a in OwnershipAssignment.objects.using(using).order_by("effective_from"):
            a.owner_role = roles[a.owner_role_id]
            a.deputy_role = roles.get(a.deputy_role_id) if a.deputy_role_id else None
            assignments[a.action_type_id].append(a)
        rosters = rosters_with_plans().using(using).order_by("role_id", "name")
        plans: dict[int, list[RosterPlan]] = defaultdict(list)
        for roster in rosters:
            roster.role = roles[roster.role_id]
            plans[roster.role_id].append(RosterPlan.of(roster))
        certifications: dict[int, list[Certification]] = defaultdict(list)
        for cert in Certification.objects.using(using).order_by("-valid_until"):
            certifications[cert.user_id].append(cert)
        permissions = {
            (app_label, codename): pk
            for pk, app_label, codename in Permission.objects.using(using).values_list(
                "pk", "content_type__app_label", "codename"
            )
        }
        return cls(
            token=token,
            permissions=permissions,
            action_types={a.slug: a for a in ActionType.objects.using(using)},
            policies=policies,
            roles=roles,
            assignments=dict(assignments),
            plans=dict(plans),
            certifications=dict(certifications),
        )


_cache: dict[str, GovernanceSnapshot] = {}
_lock = threading.Lock()


def current_token(using: str = "default") -> str | None:
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT token FROM {ConfigVersion._meta.db_table} WHERE id = 1")  # noqa: S608
        row = cursor.fetchone()
    return row[0] if row else None


_pinned: ContextVar[GovernanceSnapshot | None] = ContextVar("countersign_pinned_snapshot", default=None)


@contextlib.contextmanager
def pinned_snapshot(using: str = "default") -> Iterator[GovernanceSnapshot]:
    """Within the block every read uses one snapshot: a consistent view, one token query."""
    outer = _pinned.get()
    if outer is not None:
        yield outer
        return
    snapshot = current_snapshot(using)
    token = _pinned.set(snapshot)
    try:
        yield snapshot
    finally:
        _pinned.reset(token)


def current_snapshot(using: str = "default") -> GovernanceSnapshot:
    """The snapshot for the configuration as this connection sees it now (one query when warm)."""
    pinned = _pinned.get()
    if pinned is not None:
        return pinned
    token = current_token(using)
    cached = _cache.get(using)
    if token is not None and cached is not None and cached.token == token:
        return cached
    snapshot = GovernanceSnapshot.load(token, using)
    if token is not None:
        with _lock:
            _cache[using] = snapshot
    return snapshot
