"""What-if replay of a draft approval policy over the decisions of a period.

For each past decision: what the rule set with the draft would have required (approvals, roles,
time to act, chain, auto-approval) next to what happened (verdict, signers, time to decision).
In aggregate: how many decisions change requirement, how many the draft would auto-approve that
a person rejected, the extra approvals, and the expected extra time to decision.

Constant query count whatever the number of decisions: the aggregates come from one grouped
query (a few hundred groups at most: rules x statuses x approvals x policy versions) and one read
of a snapshot per policy version, summed here; the listing is one page of an annotated, ordered
queryset (a count, a page, its sign-offs).
Definitions (shown on the admin page and in the API schema):
- *changes requirement*: the draft would auto-approve where a person decided, or the reverse;
  or, both needing people, a different number of approvals, co-signer roles, time to act or chain.
- *extra approvals*: the draft's approvals minus the recorded ones (0 for an auto-approval), summed.
- *expected extra time*: for each decision whose number of approvals changes, the observed mean
  time to decision (submission to human verdict, over the period) at the draft's number minus the
  one at the recorded number; 0 for an auto-approval; a number never observed is estimated from
  the observed mean time per approval. Null when the period has no human verdict to learn from.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min, Prefetch, Sum
from django.utils import timezone

from decisions.models import DecisionStatus, PolicyDraft, SignOff
from decisions.replay.annotations import (
    GROUP_KEYS,
    Recorded,
    Version,
    listing_queryset,
    recorded_by_version,
    replay_queryset,
    requirement_changes,
    rule_at,
    would_auto_approve,
)
from decisions.replay.rules import Rule, draft_with_rules, rule_set
from decisions.review.figures import Period

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
_DEFERRED = ("evidence", "recommendation", "target", "proposed_chain", "final_action")


@dataclass(frozen=True)
class Replay:
    """A replay's rule set, period, aggregates and one page of decisions (``rows``)."""

    draft: PolicyDraft
    rules: list[Rule]
    period: Period
    summary: dict[str, Any]
    page: PageInfo
    rows: list[dict[str, Any]]


def _seconds(value: timedelta | None) -> float:
    return value.total_seconds() if value is not None else 0.0


def _recorded_approvals(group: dict[str, Any]) -> int:
    return 0 if group["status"] == DecisionStatus.AUTO_APPROVED else group["required_approvals"]


def _observed(groups: list[dict[str, Any]]) -> tuple[dict[int, dict[str, Any]], float | None]:
    """Mean time to decision per recorded number of approvals, and the mean time per approval."""
    took: dict[int, float] = defaultdict(float)
    counted: dict[int, int] = defaultdict(int)
    for g in groups:
        if g["timed"]:
            took[_recorded_approvals(g)] += _seconds(g["took_sum"])
            counted[_recorded_approvals(g)] += g["timed"]
    observed = {
        k: {"approvals": k, "decisions": counted[k], "mean_seconds": took[k] / counted[k]}
        for k in sorted(counted)
        if k > 0
    }
    approvals = sum(k * counted[k] for k in counted if k > 0)
    per_approval = sum(took[k] for k in counted if k > 0) / approvals if approvals else None
    return observed, per_approval


def _expected(approvals: int, observed: dict[int, dict[str, Any]], per_approval: float) -> float:
    if approvals == 0:
        return 0.0  # an auto-approval is decided on submission
    if approvals in observed:
        return observed[approvals]["mean_seconds"]
    return approvals * per_approval


def _group_changes(
    g: dict[str, Any], rules: list[Rule], recorded: dict[Version, Recorded]
) -> tuple[Rule, bool, int, int, dict[str, bool]]:
    rule = rule_at(rules, g["r_rule"])
    system_owned = g["action_type__system_owned"]
    r_auto = would_auto_approve(rule, system_owned=system_owned)
    changes = requirement_changes(
        rule,
        system_owned=system_owned,
        status=g["status"],
        required_approvals=g["required_approvals"],
        recorded=recorded[(g["policy_id"], g["policy_version"])],
    )
    return rule, r_auto, 0 if r_auto else rule.required_approvals, _recorded_approvals(g), changes


def summarise(groups: list[dict[str, Any]], rules: list[Rule], recorded: dict[Version, Recorded]) -> dict[str, Any]:
    """The aggregates of a replay from its grouped rows (see the module docstring)."""
    observed, per_approval = _observed(groups)
    totals: defaultdict[str, int] = defaultdict(int)
    extra_seconds = 0.0
    for g in groups:
        n = g["n"]
        rule, r_auto, r_approvals, a_approvals, changes = _group_changes(g, rules, recorded)
        a_auto = g["status"] == DecisionStatus.AUTO_APPROVED
        totals["decisions"] += n
        totals["matched_by_draft"] += n if rule.is_draft else 0
        totals["changed"] += n if any(changes.values()) else 0
        for name, changed in changes.items():
            totals[f"changed_{name}"] += n if changed else 0
        totals["auto_over_rejection"] += n if r_auto and g["status"] == DecisionStatus.REJECTED else 0
        totals["auto_over_override"] += n if r_auto and g["status"] == DecisionStatus.OVERRIDDEN else 0
        totals["newly_auto_approved"] += n if r_auto and not a_auto else 0
        totals["no_longer_auto_approved"] += n if a_auto and not r_auto else 0
        delta = r_approvals - a_approvals
        totals["extra_approvals"] += n * delta
        totals["approvals_added"] += n * max(delta, 0)
        totals["approvals_removed"] += n * max(-delta, 0)
        if delta and per_approval is not None:
            extra_seconds += n * (
                _expected(r_approvals, observed, per_approval) - _expected(a_approvals, observed, per_approval)
            )
    keys = (
        "decisions",
        "matched_by_draft",
        "changed",
        "changed_auto",
        "changed_approvals",
        "changed_cosigners",
        "changed_time_to_act",
        "changed_chain",
        "auto_over_rejection",
        "auto_over_override",
        "newly_auto_approved",
        "no_longer_auto_approved",
        "extra_approvals",
        "approvals_added",
        "approvals_removed",
    )
    summary: dict[str, Any] = {key: totals[key] for key in keys}
    known = per_approval is not None
    summary["expected_extra_seconds"] = round(extra_seconds, 1) if known else None
    summary["expected_extra_seconds_per_decision"] = (
        round(extra_seconds / totals["decisions"], 1) if known and totals["decisions"] else None
    )
    summary["observed_time_to_decision"] = [
        {**o, "mean_seconds": round(o["mean_seconds"], 1)} for o in observed.values()
    ]
    summary["observed_seconds_per_approval"] = round(per_approval, 1) if per_approval is not None else None
    return summary


def replay_groups(rules: list[Rule], period: Period) -> tuple[list[dict[str, Any]], dict[Version, Recorded]]:
    """Two queries: the period's decisions counted per rule, action type kind, status, approvals and
    policy version; and what each policy version recorded (one snapshot read per version)."""
    qs = replay_queryset(rules, period).order_by().values(*GROUP_KEYS)
    groups = list(qs.annotate(n=Count("pk"), took_sum=Sum("took"), timed=Count("took"), representative=Min("pk")))
    by_version: dict[Version, int] = {}
    for g in groups:
        by_version.setdefault((g["policy_id"], g["policy_version"]), g["representative"])
    return groups, recorded_by_version(list(by_version.values())) if by_version else {}


def replay_summary(rules: list[Rule], period: Period) -> tuple[dict[str, Any], dict[Version, Recorded]]:
    """The aggregates of the replay of ``rules`` over ``period`` (and the recorded requirements)."""
    groups, recorded = replay_groups(rules, period)
    return summarise(groups, rules, recorded), recorded


def rule_entry(rule: Rule) -> dict[str, Any]:
    """A rule as the report lists it."""
    return {
        "policy": rule.name,
        "from_draft": rule.is_draft,
        "priority": rule.priority if rule.key else None,
        "required_approvals": rule.required_approvals,
        "cosigner_roles": list(rule.cosigner_names),
        "time_to_act_seconds": rule.time_to_act_seconds,
        "escalation_chain": rule.chain_name or None,
        "allow_auto_approval": rule.allow_auto_approval,
    }


def parameters(draft: PolicyDraft, rules: list[Rule], period: Period) -> dict[str, Any]:
    """What a replay ran on: the draft, the period, and the rule set in the order it was tried."""
    return {
        "draft": {
            "id": str(draft.public_id),
            "name": draft.name,
            "policy": str(draft.policy.public_id) if draft.policy else None,
            "base_version": draft.base_version,
        },
        "period": period.as_dict(),
        "rules": [rule_entry(r) for r in rules],
    }


def replay_report(draft: PolicyDraft, period: Period, *, now: datetime | None = None) -> dict[str, Any]:
    """Parameters and aggregates (no rows): what an activation keeps. Eight queries."""
    draft = draft_with_rules(draft)
    rules = rule_set(draft)
    return {
        "computed_at": (now or timezone.now()).isoformat(),
        "parameters": parameters(draft, rules, period),
        "summary": replay_summary(rules, period)[0],
    }


def _names(entries: Any) -> list[str]:
    return [e.get("name", "") for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def decision_row(decision: Any, rules: list[Rule]) -> dict[str, Any]:
    """One decision of the listing: what the draft would have required, next to what happened."""
    snapshot = decision.snapshot if isinstance(decision.snapshot, dict) else {}
    rule = rule_at(rules, decision.r_rule)
    r_auto = would_auto_approve(rule, system_owned=decision.action_type.system_owned)
    a_auto = decision.status == DecisionStatus.AUTO_APPROVED
    policy = snapshot.get("policy") if isinstance(snapshot.get("policy"), dict) else None
    chain: dict[str, Any] = snapshot["chain"] if isinstance(snapshot.get("chain"), dict) else {}
    return {
        "id": str(decision.public_id),
        "title": decision.title,
        "action_type": decision.action_type.slug,
        "submitted_at": decision.created_at,
        "changed": decision.changed,
        "auto_over_rejection": decision.auto_over_rejection,
        "draft": {**rule_entry(rule), "auto_approved": r_auto, "approvals": 0 if r_auto else rule.required_approvals},
        "actual": {
            "status": decision.status,
            "policy": policy.get("name") if policy else None,
            "auto_approved": a_auto,
            "approvals": 0 if a_auto else decision.required_approvals,
            "cosigner_roles": _names(snapshot.get("cosigner_roles")),
            "time_to_act_seconds": snapshot.get("time_to_act_seconds"),
            "escalation_chain": chain.get("name"),
            "signers": [
                {"username": s.signer.get_username(), "verdict": s.verdict, "signed_as": s.signed_as.name}
                for s in decision.live_signoffs
            ],
            "time_to_decision_seconds": decision.took.total_seconds() if decision.took is not None else None,
        },
    }


@dataclass(frozen=True)
class PageInfo:
    """Which page of the listing, of how many decisions. A page past the last one is empty."""

    number: int
    size: int
    count: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.size))

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def listing(
    rules: list[Rule],
    period: Period,
    recorded: dict[Version, Recorded],
    *,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> tuple[PageInfo, list]:
    """One page of the period's decisions: auto-approved by the draft but rejected by a person
    first, then those whose requirement changes, newest first within each. Three queries (a count,
    the page, its live sign-offs); two when the page is past the last one."""
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError("page must be at least 1 and page_size between 1 and MAX_PAGE_SIZE")
    live = SignOff.objects.filter(voided_at__isnull=True).select_related("signer", "signed_as").order_by("created_at")
    qs = (
        listing_queryset(rules, period, recorded)
        .select_related("action_type")
        .defer(*_DEFERRED)
        .prefetch_related(Prefetch("signoffs", queryset=live, to_attr="live_signoffs"))
        .order_by("-auto_over_rejection", "-changed", "-created_at", "-id")
    )
    info = PageInfo(number=page, size=page_size, count=qs.count())
    offset = (page - 1) * page_size
    return info, list(qs[offset : offset + page_size]) if offset < info.count else []


def replay(draft: PolicyDraft, period: Period, *, page: int = 1, page_size: int = PAGE_SIZE) -> Replay:
    """The replay of ``draft`` over ``period``: aggregates and page ``page`` of the decisions. Reads only."""
    draft = draft_with_rules(draft)
    rules = rule_set(draft)
    summary, recorded = replay_summary(rules, period)
    info, decisions = listing(rules, period, recorded, page=page, page_size=page_size)
    rows = [decision_row(d, rules) for d in decisions]
    return Replay(draft=draft, rules=rules, period=period, summary=summary, page=info, rows=rows)
