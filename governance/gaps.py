"""Ownership gaps: where the governance configuration leaves a risky action without a named,
certified, on-call human owner, or lets one through too easily.

Every check reads the cached governance snapshot (one query when it is warm, whatever the size
of the configuration) plus one query for the certifications about to expire, so the dashboard
and the admin index can show them on every load. Each gap names what is wrong and links to the
admin page that fixes it; the list is plain data (JSON-able) so a review report can freeze it.

What each kind means, and why (the same definitions routing and the save-time checks use):

- ``unowned_action_type``: a human-owned action type with no ownership assignment in force now,
  or whose assignments stop within the horizon with nobody after them. Its decisions skip the
  owner and go straight down the escalation chain.
- ``uncovered_role``: a role owning a human-owned action type has nobody (active) on call during
  part of the horizon *while it owns it*. Like the save-time roster check
  (``services.roster_coverage_validate``) the deputy role is not counted: it is a fallback, not
  cover. Resolution is ``RosterPlan.on_call`` at every instant where it can change (hand-offs,
  coverage windows, overrides), so it is DST-safe and overrides win.
- ``uncertified_on_call``: somebody is on call in the horizon, in a role that may be asked to sign
  at that instant (owner or deputy of an assignment then in force, co-signer of an enabled policy,
  step of an enabled policy's chain), without a certification valid at that instant for the role
  or for every action type the role may be asked to sign. Certification and ownership
  boundaries are checked too, so an expiry in the middle of a shift is found.
- ``unreachable_quorum``: an enabled policy needs more distinct approvers for an action type
  than its owner's and co-signers' rosters can put on call at once (one certified person per
  roster), or a co-signer role has nobody certified (``governance.quorums``). Routing escalates
  such decisions at once; the roster save warns of it.
- ``certification_expiring``: a certification of an active person, valid now, whose scope (its
  role or action type) stops being covered within 30 days: renewals for the same scope are
  followed, so a short extension that also ends within the window is reported at its end.
- ``single_approver_high_blast``: an enabled policy that can match a high or critical blast
  radius for a human-owned action type and needs one approver. Not reported when an
  earlier-priority enabled policy catches every high or critical decision for all of its
  human-owned action types (see ``_catches_all_high``): it can then never see one.
- ``chain_without_human``: a chain ending in auto-approval that an enabled policy routes
  production-changing or regulated action types to (``services.escalation_chain_validate``
  refuses that at save; this catches what changed later, such as an action type flipped to
  production-changing, or rows written outside the admin). Routing expires those decisions
  rather than approve them, but the configuration then says something it does not do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from governance.models import ApprovalPolicy, Certification, Criterion, EscalationChain, Level, Roster
from governance.quorums import quorum_shortfalls
from governance.rostering import RosterPlan
from governance.selectors import certifications_expiring
from governance.snapshot import GovernanceSnapshot, current_snapshot

if TYPE_CHECKING:
    from django.contrib.auth.models import User

EXPIRY_WINDOW = timedelta(days=30)

Span = tuple[datetime, datetime]


class GapKind:
    UNOWNED_ACTION_TYPE = "unowned_action_type"
    UNCOVERED_ROLE = "uncovered_role"
    UNCERTIFIED_ON_CALL = "uncertified_on_call"
    CERTIFICATION_EXPIRING = "certification_expiring"
    SINGLE_APPROVER_HIGH_BLAST = "single_approver_high_blast"
    CHAIN_WITHOUT_HUMAN = "chain_without_human"
    UNREACHABLE_QUORUM = "unreachable_quorum"

    LABELS = {
        UNOWNED_ACTION_TYPE: "Action types with no owner, now or within 14 days",
        UNCOVERED_ROLE: "Owning roles with uncovered hours in the next 14 days",
        UNCERTIFIED_ON_CALL: "On-call members without a valid certification",
        UNREACHABLE_QUORUM: "Policies whose quorum the rosters cannot fill",
        CERTIFICATION_EXPIRING: "Certifications expiring within 30 days",
        SINGLE_APPROVER_HIGH_BLAST: "Policies letting a high or critical blast radius through with one approver",
        CHAIN_WITHOUT_HUMAN: "Chains that would approve production-changing or regulated actions without a human",
    }
    # Which gaps leave a risky action without its owner now or soon (the rest are warnings).
    CRITICAL = frozenset(
        {UNOWNED_ACTION_TYPE, UNCOVERED_ROLE, UNCERTIFIED_ON_CALL, CHAIN_WITHOUT_HUMAN, UNREACHABLE_QUORUM}
    )


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


def _person(user: User) -> str:
    return user.get_full_name() or user.get_username()


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:.0f} h" if hours >= 1 else f"{seconds / 60:.0f} min"


def _when(instant: datetime) -> str:
    return f"{instant.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _merge(periods: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for begin, finish in sorted(periods):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


def _clip(begin: datetime, finish: datetime | None, start: datetime, end: datetime) -> Span | None:
    """[begin, finish) within [start, end), or None when they do not meet."""
    lo, hi = max(begin, start), min(finish or end, end)
    return (lo, hi) if lo < hi else None


def _human_action_type_ids(snapshot: GovernanceSnapshot) -> set[int]:
    return {a.pk for a in snapshot.action_types.values() if not a.system_owned}


# --- Ownership ----------------------------------------------------------------------------


def _unowned(snapshot: GovernanceSnapshot, at: datetime, end: datetime) -> list[Gap]:
    gaps = []
    for action_type in sorted(snapshot.action_types.values(), key=lambda a: a.name):
        if action_type.system_owned:
            continue
        assignments = snapshot.assignments.get(action_type.pk, [])
        owned = _merge(p for a in assignments if (p := _clip(a.effective_from, a.effective_to, at, end)))
        if owned and owned[0][0] == at and owned[0][1] == end:
            continue
        if not owned or owned[0][0] > at:
            detail = "No role owns it now: its decisions go straight to the escalation chain."
        else:
            current = next(a for a in assignments if a.is_current(at))
            until = f" until {_when(owned[1][0])}" if len(owned) > 1 else ""
            detail = (
                f"Owned now by {current.owner_role.name}, but by nobody from {_when(owned[0][1])}{until}: "
                "its decisions will then go straight to the escalation chain."
            )
        gaps.append(
            Gap(
                kind=GapKind.UNOWNED_ACTION_TYPE,
                subject=action_type.name,
                detail=detail,
                fix_url=_admin("ownershipassignment_add", action_type=action_type.pk),
                fix_label="Assign an owner",
            )
        )
    return gaps


def _owned_periods(snapshot: GovernanceSnapshot, start: datetime, end: datetime) -> dict[int, list[Span]]:
    """Per owning role, when within [start, end) it owns a human-owned action type (merged)."""
    human = _human_action_type_ids(snapshot)
    periods: dict[int, list[Span]] = {}
    for action_type_id, assignments in snapshot.assignments.items():
        if action_type_id not in human:
            continue
        for a in assignments:
            clipped = _clip(a.effective_from, a.effective_to, start, end)
            if clipped:
                periods.setdefault(a.owner_role_id, []).append(clipped)
    return {role_id: _merge(p) for role_id, p in periods.items()}


def _active_on_call(plan: RosterPlan, instant: datetime) -> User | None:
    """Who ``plan`` puts on call at ``instant``, if able to act (a deactivated account cannot)."""
    found = plan.on_call(instant)
    return found[0] if found is not None and found[0].is_active else None


def _uncovered_periods(plans: list[RosterPlan], needed: list[Span]) -> list[Span]:
    """The parts of ``needed`` when none of ``plans`` has an active person on call."""
    uncovered: list[Span] = []
    for start, end in needed:
        points = set()
        for plan in plans:
            points |= plan.change_points(start, end)
        bounds = [start, *sorted(points), end]
        for begin, finish in zip(bounds, bounds[1:], strict=False):
            if not any(_active_on_call(plan, begin) is not None for plan in plans):
                uncovered.append((begin, finish))
    return _merge(uncovered)


def _uncovered(snapshot: GovernanceSnapshot, at: datetime, end: datetime) -> list[Gap]:
    gaps = []
    for role_id, needed in _owned_periods(snapshot, at, end).items():
        role, plans = snapshot.roles[role_id], snapshot.plans.get(role_id, [])
        windows = _uncovered_periods(plans, needed)
        if not windows:
            continue
        total = sum((finish - begin).total_seconds() for begin, finish in windows)
        first_start, first_end = windows[0]
        gaps.append(
            Gap(
                kind=GapKind.UNCOVERED_ROLE,
                subject=role.name,
                detail=(
                    f"Nobody on call for {_hours(total)} in {len(windows)} window(s) while it owns decisions; "
                    f"first {_when(first_start)} – {_when(first_end)}."
                ),
                fix_url=_admin("roster_changelist", role__id__exact=role.pk)
                if plans
                else _admin("roster_add", role=role.pk),
                fix_label="Fix the rosters" if plans else "Create a roster",
            )
        )
    return sorted(gaps, key=lambda g: g.subject)


# --- Certification ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Duty:
    """A role may be asked to sign these action types during [starts, ends) (None: unbounded)."""

    action_type_ids: frozenset[int]
    starts: datetime | None = None
    ends: datetime | None = None

    def applies(self, instant: datetime) -> bool:
        return (self.starts is None or self.starts <= instant) and (self.ends is None or instant < self.ends)


def _policy_action_type_ids(snapshot: GovernanceSnapshot, policy: ApprovalPolicy) -> frozenset[int]:
    listed = policy.action_types.all()
    return frozenset(a.pk for a in listed) if listed else frozenset(a.pk for a in snapshot.action_types.values())


def _duties(snapshot: GovernanceSnapshot) -> dict[int, list[_Duty]]:
    """Per role, what routing may ask its on-call people to sign, and when."""
    duties: dict[int, list[_Duty]] = {}
    for action_type_id, assignments in snapshot.assignments.items():
        for a in assignments:
            for role_id in filter(None, (a.owner_role_id, a.deputy_role_id)):
                duties.setdefault(role_id, []).append(
                    _Duty(frozenset({action_type_id}), a.effective_from, a.effective_to)
                )
    for policy in snapshot.policies:
        covered = _policy_action_type_ids(snapshot, policy)
        roles = {r.pk for r in policy.cosigner_roles.all()} | {s.role_id for s in policy.escalation_chain.steps.all()}
        for role_id in roles:
            duties.setdefault(role_id, []).append(_Duty(covered))
    return duties


def _certified(snapshot: GovernanceSnapshot, user: User, role_id: int, action_type_ids: set[int], at: datetime) -> bool:
    valid = [c for c in snapshot.certifications.get(user.pk, []) if c.is_valid_at(at)]
    if any(c.role_id == role_id for c in valid):
        return True
    return action_type_ids <= {c.action_type_id for c in valid}


def _plan_people(plan: RosterPlan) -> list[User]:
    return [*plan.members, *(o.user for o in plan.overrides)]


def _uncertified(snapshot: GovernanceSnapshot, at: datetime, end: datetime) -> list[Gap]:
    duties = _duties(snapshot)
    found: dict[tuple[int, int], tuple[datetime, User, Roster]] = {}
    for role_id, plans in snapshot.plans.items():
        role_duties = duties.get(role_id)
        if not role_duties:
            continue  # nobody ever asks this role to sign: its rota is not a governance matter
        duty_points = {p for d in role_duties for p in (d.starts, d.ends) if p is not None}
        for plan in plans:
            cert_points = {
                p
                for user in _plan_people(plan)
                for c in snapshot.certifications.get(user.pk, [])
                for p in (c.valid_from, c.valid_until, c.revoked_at)
                if p is not None
            }
            extra = {p for p in duty_points | cert_points if at < p < end}
            for instant in sorted({at, *plan.change_points(at, end), *extra}):
                user = _active_on_call(plan, instant)
                if user is None or (role_id, user.pk) in found:
                    continue
                asked = set().union(*(d.action_type_ids for d in role_duties if d.applies(instant)))
                if asked and not _certified(snapshot, user, role_id, asked, instant):
                    found[(role_id, user.pk)] = (instant, user, plan.roster)
    gaps = []
    for (role_id, _user_id), (instant, user, roster) in found.items():
        role = snapshot.roles[role_id]
        when = "now" if instant == at else f"from {_when(instant)}"
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


def _ends(certification: Certification) -> datetime:
    revoked = certification.revoked_at
    return min(certification.valid_until, revoked) if revoked is not None else certification.valid_until


def _covered_until(certifications: list[Certification], at: datetime) -> tuple[datetime, Certification | None]:
    """(when, last): the end of the unbroken run of ``certifications`` holding from ``at`` on,
    following renewals, and the one that ends it (None when none holds at ``at``)."""
    end, last = at, None
    while (found := max((c for c in certifications if c.is_valid_at(end)), key=_ends, default=None)) is not None:
        if _ends(found) <= end:
            break
        end, last = _ends(found), found
    return end, last


def _expiring(snapshot: GovernanceSnapshot, at: datetime, within: timedelta) -> list[Gap]:
    # The snapshot keeps certifications without their people; one query fetches both. One gap per
    # person and scope, when its certifications (renewals followed) stop within the window.
    gaps, seen = [], set()
    for c in certifications_expiring(at=at, within=within):
        scope = (c.user_id, c.role_id, c.action_type_id)
        if not c.user.is_active or scope in seen:
            continue
        seen.add(scope)
        same = [o for o in snapshot.certifications.get(c.user_id, []) if (o.role_id, o.action_type_id) == scope[1:]]
        ends, last = _covered_until(same, at)
        if last is None:  # a snapshot older than the query: judge the certification alone
            ends, last = _ends(c), c
        if ends > at + within:
            continue
        gaps.append(
            Gap(
                kind=GapKind.CERTIFICATION_EXPIRING,
                subject=f"{_person(c.user)} · {c.role or c.action_type}",
                detail=f"Expires {ends:%Y-%m-%d} ({(ends - at).days} days).",
                fix_url=_admin("certification_change", last.pk),
                fix_label="Renew",
            )
        )
    return gaps


# --- Policies and chains ------------------------------------------------------------------


def _unreachable_quorums(snapshot: GovernanceSnapshot, at: datetime) -> list[Gap]:
    gaps = [
        Gap(
            kind=GapKind.UNREACHABLE_QUORUM,
            subject=f"{shortfall.policy.name} ({shortfall.owner.name})",
            detail=shortfall.describe(),
            fix_url=_admin("roster_changelist", role__id__exact=shortfall.owner.pk),
            fix_label="Add people to the rosters",
        )
        for shortfall in quorum_shortfalls(snapshot, at=at)
    ]
    return sorted(gaps, key=lambda g: g.subject)


def _may_see_high_blast(policy: ApprovalPolicy) -> bool:
    return policy.max_blast_radius is None or policy.max_blast_radius >= Level.HIGH


def _catches_all_high(policy: ApprovalPolicy) -> bool:
    """Whether ``policy`` matches every high or critical decision of its action types.

    Deliberately simple: no other criterion (no minimum severity, any regulated data, any
    customer impact, no confidence bounds) and a blast range spanning high..critical. Several
    earlier policies that only together catch everything are not recognised, so a later policy
    behind them is still reported.
    """
    return (
        policy.min_severity is None
        and policy.regulated_data == Criterion.ANY
        and policy.customer_impact == Criterion.ANY
        and policy.min_ai_confidence is None
        and policy.max_ai_confidence is None
        and (policy.min_blast_radius is None or policy.min_blast_radius <= Level.HIGH)
        and (policy.max_blast_radius is None or policy.max_blast_radius >= Level.CRITICAL)
    )


def _single_approver(snapshot: GovernanceSnapshot) -> list[Gap]:
    human = _human_action_type_ids(snapshot)
    # Action types (None: every one) that an earlier enabled policy already takes at high blast radius.
    caught: list[frozenset[int] | None] = []
    gaps = []
    for policy in snapshot.policies:
        listed = list(policy.action_types.all())
        listed_ids = frozenset(a.pk for a in listed)
        action_type_ids = (listed_ids if listed else frozenset(a.pk for a in snapshot.action_types.values())) & human
        shadowed = any(ids is None or action_type_ids <= ids for ids in caught)
        if _catches_all_high(policy):
            caught.append(listed_ids if listed else None)
        if policy.required_approvals > 1 or not _may_see_high_blast(policy) or shadowed:
            continue
        if not action_type_ids:
            continue  # only system-owned action types: no human approver is involved at all
        low = Level(max(policy.min_blast_radius or Level.HIGH, Level.HIGH)).label
        high = Level(policy.max_blast_radius or Level.CRITICAL).label
        scope = ", ".join(sorted(a.name for a in listed if a.pk in action_type_ids)) if listed else "any action type"
        gaps.append(
            Gap(
                kind=GapKind.SINGLE_APPROVER_HIGH_BLAST,
                subject=policy.name,
                detail=f"Can match a {low}–{high} blast radius ({scope}) and needs a single approver.",
                fix_url=_admin("approvalpolicy_change", policy.pk),
                fix_label="Require more approvers",
            )
        )
    return gaps


def _needs_a_human(snapshot: GovernanceSnapshot, policy: ApprovalPolicy) -> list[str]:
    """Names of the production-changing or regulated action types a policy can match."""
    listed = list(policy.action_types.all()) or list(snapshot.action_types.values())
    return sorted(a.name for a in listed if a.changes_production_state or a.touches_regulated_data)


def _chains_without_human(snapshot: GovernanceSnapshot) -> list[Gap]:
    by_chain: dict[int, tuple[EscalationChain, set[str]]] = {}
    for policy in snapshot.policies:
        chain = policy.escalation_chain
        if chain.final_outcome != EscalationChain.FinalOutcome.AUTO_APPROVE:
            continue
        risky = _needs_a_human(snapshot, policy)
        if risky:
            by_chain.setdefault(chain.pk, (chain, set()))[1].update(risky)
    gaps = []
    for chain, names in by_chain.values():
        listed = ", ".join(sorted(names)[:5]) + (" …" if len(names) > 5 else "")
        gaps.append(
            Gap(
                kind=GapKind.CHAIN_WITHOUT_HUMAN,
                subject=chain.name,
                detail=(
                    "Ends by approving automatically, yet enabled policies route production-changing or regulated "
                    f"actions to it: {listed}. Routing lets those expire instead; make the chain say so."
                ),
                fix_url=_admin("escalationchain_change", chain.pk),
                fix_label="Make it expire",
            )
        )
    return sorted(gaps, key=lambda g: g.subject)


def ownership_gaps(*, at: datetime, horizon: timedelta | None = None) -> list[Gap]:
    """Every ownership gap at ``at`` looking ``horizon`` ahead (the coverage horizon by default),
    critical kinds first. Two queries when the governance snapshot is warm, whatever its size."""
    at = at.astimezone(UTC)
    end = at + (horizon or timedelta(days=settings.COVERAGE_HORIZON_DAYS))
    snapshot = current_snapshot()
    return [
        *_unowned(snapshot, at, end),
        *_uncovered(snapshot, at, end),
        *_uncertified(snapshot, at, end),
        *_unreachable_quorums(snapshot, at),
        *_chains_without_human(snapshot),
        *_single_approver(snapshot),
        *_expiring(snapshot, at, EXPIRY_WINDOW),
    ]


def gaps_by_kind(gaps: list[Gap] | list[dict[str, str]]) -> list[dict[str, Any]]:
    """Grouped for display, critical kinds first: every kind listed (an empty kind is good news
    worth showing), with its count. Takes live gaps or the dicts a frozen report holds."""
    gaps = [g.as_dict() if isinstance(g, Gap) else g for g in gaps]
    groups: list[dict[str, Any]] = [
        {
            "kind": kind,
            "label": label,
            "critical": kind in GapKind.CRITICAL,
            "gaps": [g for g in gaps if isinstance(g, dict) and g.get("kind") == kind],
        }
        for kind, label in GapKind.LABELS.items()
    ]
    for group in groups:
        group["count"] = len(group["gaps"])
    return sorted(groups, key=lambda g: not g["critical"])


# --- Changes checked before they are made (shift swaps) ----------------------------------------


def certified_cover_gaps(
    *, role_id: int, start: datetime, end: datetime, replace: Iterable[RosterPlan] = ()
) -> list[tuple[Span, User | None]]:
    """When, in [start, end), no roster of the role puts an active person *certified for it* on
    call (the ``uncovered_role`` and ``uncertified_on_call`` rules together), each period with who
    would be on call then (None: nobody). ``replace`` substitutes unsaved versions of rosters, to
    check a change (a shift swap) before making it. Reads the cached snapshot only."""
    snapshot = current_snapshot()
    replacing = list(replace)
    replaced = {p.roster.pk for p in replacing}
    plans = [p for p in snapshot.plans.get(role_id, []) if p.roster.pk not in replaced] + [
        p for p in replacing if p.roster.role_id == role_id
    ]
    duties = _duties(snapshot).get(role_id, [])
    points = {start}
    for plan in plans:
        points |= plan.change_points(start, end)
        for user in _plan_people(plan):
            for c in snapshot.certifications.get(user.pk, []):
                points.update(p for p in (c.valid_from, c.valid_until, c.revoked_at) if p is not None)
    points.update(p for d in duties for p in (d.starts, d.ends) if p is not None)
    bounds = sorted(p for p in points if start <= p < end) + [end]
    found: list[tuple[Span, User | None]] = []
    for begin, finish in zip(bounds, bounds[1:], strict=False):
        asked = set().union(*(d.action_type_ids for d in duties if d.applies(begin)))
        on_call = [u for u in (_active_on_call(plan, begin) for plan in plans) if u is not None]
        if any(_certified(snapshot, u, role_id, asked, begin) for u in on_call):
            continue
        who = on_call[0] if on_call else None
        if found and found[-1][0][1] == begin and found[-1][1] == who:
            found[-1] = ((found[-1][0][0], finish), who)
        else:
            found.append(((begin, finish), who))
    return found


def describe_cover_gap(role_name: str, span: Span, who: User | None) -> str:
    """One such gap in words, for the refusal a person reads."""
    begin, finish = span
    if who is None:
        return f"{role_name} would have nobody on call {_when(begin)} – {_when(finish)}."
    return (
        f"{role_name} would have nobody certified on call {_when(begin)} – {_when(finish)} "
        f"({_person(who)} is not certified for it then)."
    )
