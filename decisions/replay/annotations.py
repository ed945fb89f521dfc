"""The replay in SQL: every past decision of a period annotated with the rule that would have
matched it (``r_rule``, one first-match CASE over the rules, in the order routing tries them).

What a rule requires follows from the rule and a few of the decision's columns (its action type's
``system_owned``, its ``status``, ``required_approvals``); what its routing recorded besides
(time to act, chain, co-signer roles: ``Recorded``) is fixed by the policy version it matched, as
every policy change is a new version. So the aggregates group by those columns and the policy and
version, read ``Recorded`` from one snapshot per version (never every row's JSON), and compare
each group in Python with ``requirement_changes``: a few hundred groups, never the rows. The
listing sorts by the same comparison per row: ``changed_condition`` is its SQL twin (tested
against it). Nothing here writes: the querysets only read decisions and action types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from decisions.models import DecisionRequest, DecisionStatus
from decisions.replay.rules import Rule, fail_safe_rule
from decisions.review.figures import Period

HUMAN_VERDICTS = (DecisionStatus.APPROVED, DecisionStatus.OVERRIDDEN, DecisionStatus.REJECTED)
NO_CHAIN = 0  # the fail-safe has no chain; 0 is never a primary key
GROUP_KEYS = ("r_rule", "action_type__system_owned", "status", "required_approvals", "policy_id", "policy_version")


def _snapshot_cosigners() -> RawSQL:
    """The co-signer role ids the decision's snapshot froze, sorted and comma-separated."""
    column = f'"{DecisionRequest._meta.db_table}"."snapshot"'
    if connection.vendor == "postgresql":
        sql = (
            "(SELECT string_agg(e->>'id', ',' ORDER BY (e->>'id')::int) FROM jsonb_array_elements("  # noqa: S608
            f"CASE WHEN jsonb_typeof({column}->'cosigner_roles') = 'array' THEN {column}->'cosigner_roles' "
            "ELSE '[]'::jsonb END) AS e)"
        )
    else:
        sql = (
            "(SELECT group_concat(id, ',') FROM (SELECT CAST(json_extract(value, '$.id') AS INTEGER) AS id "  # noqa: S608
            f"FROM json_each({column}, '$.cosigner_roles') ORDER BY id))"
        )
    # No parameters: the SQL holds the table name (model metadata) and constants only.
    return RawSQL(sql, (), output_field=CharField())  # noqa: S611


def _first_match(rules: list[Rule], value: Callable[[int, Rule], Any], default: Any, field: Any) -> Case:
    """CASE WHEN <rule 1 matches> THEN value(rule 1) WHEN <rule 2 matches> ... ELSE default END."""
    whens = [When(rule.condition(), then=value(i, rule)) for i, rule in enumerate(rules)]
    return Case(*whens, default=default, output_field=field)


def replay_queryset(rules: list[Rule], period: Period) -> QuerySet[DecisionRequest]:
    """The decisions submitted in ``period``, each annotated with ``r_rule`` (the index in ``rules``
    of the rule that matches it first, -1 for none: the fail-safe) and ``took`` (submission to human
    verdict: approved, overridden, rejected; else null)."""
    return DecisionRequest.objects.filter(created_at__gte=period.start, created_at__lt=period.end).annotate(
        r_rule=_first_match(rules, lambda i, _r: Value(i), Value(-1), IntegerField()),
        took=Case(
            When(
                status__in=HUMAN_VERDICTS,
                then=ExpressionWrapper(F("decided_at") - F("created_at"), output_field=DurationField()),
            ),
            default=None,
            output_field=DurationField(),
        ),
    )


Version = tuple[int | None, int | None]  # (policy_id, policy_version); (None, None): no policy matched


@dataclass(frozen=True)
class Recorded:
    """What routing froze besides the approvals, for every decision of one policy version."""

    time_to_act_seconds: int
    chain_id: int  # NO_CHAIN for none
    cosigners: str  # sorted ids, comma-separated


def recorded_by_version(representatives: list[int]) -> dict[Version, Recorded]:
    """``Recorded`` per policy version, read from one decision's snapshot each (``representatives``:
    a decision pk per version). One query over a few rows."""
    integer: IntegerField = IntegerField()
    rows = (
        DecisionRequest.objects.filter(pk__in=representatives)
        .annotate(
            a_time=Coalesce(Cast(KeyTextTransform("time_to_act_seconds", "snapshot"), integer), Value(0)),
            a_chain=Coalesce(Cast(KeyTextTransform("id", KeyTextTransform("chain", "snapshot")), integer), NO_CHAIN),
            a_cosigners=Coalesce(_snapshot_cosigners(), Value("")),
        )
        .values_list("policy_id", "policy_version", "a_time", "a_chain", "a_cosigners")
    )
    return {(p, v): Recorded(time_to_act_seconds=t, chain_id=c, cosigners=cos) for p, v, t, c, cos in rows}


def _version(version: Version) -> Q:
    policy_id, number = version
    policy = Q(policy_id__isnull=True) if policy_id is None else Q(policy_id=policy_id)
    return policy & (Q(policy_version__isnull=True) if number is None else Q(policy_version=number))


def rule_at(rules: list[Rule], index: int) -> Rule:
    return rules[index] if index >= 0 else fail_safe_rule()


def would_auto_approve(rule: Rule, *, system_owned: bool) -> bool:
    """Routing auto-approves a system-owned action type whose rule allows it (never the fail-safe)."""
    return rule.allow_auto_approval and system_owned


def requirement_changes(
    rule: Rule, *, system_owned: bool, status: str, required_approvals: int, recorded: Recorded
) -> dict[str, bool]:
    """What differs between ``rule``'s requirement and the one a decision's routing recorded:
    auto-approval or people; and, both needing people, approvals, co-signers, time to act, chain."""
    r_auto = would_auto_approve(rule, system_owned=system_owned)
    a_auto = status == DecisionStatus.AUTO_APPROVED
    both_human = not r_auto and not a_auto
    return {
        "auto": r_auto != a_auto,
        "approvals": both_human and rule.required_approvals != required_approvals,
        "cosigners": both_human and rule.cosigner_signature != recorded.cosigners,
        "time_to_act": both_human and rule.time_to_act_seconds != recorded.time_to_act_seconds,
        "chain": both_human and (rule.chain_id or NO_CHAIN) != recorded.chain_id,
    }


def _differs(rule: Rule, recorded: Recorded) -> bool:
    return (
        rule.cosigner_signature != recorded.cosigners
        or rule.time_to_act_seconds != recorded.time_to_act_seconds
        or (rule.chain_id or NO_CHAIN) != recorded.chain_id
    )


def changed_condition(rule: Rule, recorded: dict[Version, Recorded]) -> Q:
    """``any(requirement_changes(rule, ...).values())`` as a condition on a decision."""
    a_auto = Q(status=DecisionStatus.AUTO_APPROVED)
    if rule.allow_auto_approval:
        auto_differs = (Q(action_type__system_owned=True) & ~a_auto) | (Q(action_type__system_owned=False) & a_auto)
        both_human = Q(action_type__system_owned=False) & ~a_auto
    else:
        auto_differs = a_auto
        both_human = ~a_auto
    differs = ~Q(required_approvals=rule.required_approvals)
    for version, values in recorded.items():
        if _differs(rule, values):
            differs |= _version(version)
    return auto_differs | (both_human & differs)


def listing_queryset(rules: list[Rule], period: Period, recorded: dict[Version, Recorded]) -> QuerySet[DecisionRequest]:
    """``replay_queryset`` with the two flags the listing sorts by, computed per row in SQL:
    ``auto_over_rejection`` (the rules would auto-approve it, a person rejected it) and
    ``changed`` (its requirement changes; ``recorded``: every policy version of the period)."""
    boolean: BooleanField = BooleanField()

    def flag(condition: Q) -> ExpressionWrapper:
        return ExpressionWrapper(condition, output_field=boolean)

    rejected_system = Q(status=DecisionStatus.REJECTED, action_type__system_owned=True)
    fail_safe = flag(changed_condition(fail_safe_rule(), recorded))
    return replay_queryset(rules, period).annotate(
        auto_over_rejection=Case(
            When(~rejected_system, then=Value(False)),
            *[When(rule.condition(), then=Value(rule.allow_auto_approval)) for rule in rules],
            default=Value(False),
            output_field=boolean,
        ),
        changed=_first_match(rules, lambda _i, rule: flag(changed_condition(rule, recorded)), fail_safe, boolean),
    )
