"""The replay in SQL: every past decision of a period annotated with what the rule set would have
required of it (``r_*``) next to what its routing snapshot recorded (``a_*``).

Each ``r_*`` is one first-match CASE over the rules (the same order routing tries them), so a
decision's draft requirement is computed by the database, row by row, without leaving it.
Nothing here writes: the querysets only read ``DecisionRequest`` (and its action type).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
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
from decisions.replay.rules import Rule
from decisions.review.figures import Period

HUMAN_VERDICTS = (DecisionStatus.APPROVED, DecisionStatus.OVERRIDDEN, DecisionStatus.REJECTED)
NO_CHAIN = 0  # the fail-safe has no chain; 0 is never a primary key


def _first_match(rules: list[Rule], value: Callable[[Rule], Any], default: Any, field: Any) -> Case:
    """CASE WHEN <rule 1 matches> THEN value(rule 1) WHEN <rule 2 matches> ... ELSE default END."""
    whens = [When(rule.condition(), then=Value(value(rule), output_field=field)) for rule in rules]
    return Case(*whens, default=Value(default, output_field=field), output_field=field)


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


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())


def replay_queryset(rules: list[Rule], period: Period) -> QuerySet[DecisionRequest]:
    """The decisions submitted in ``period``, each annotated with:

    - ``r_rule``: the index in ``rules`` of the rule that matches it, -1 for none (the fail-safe);
    - ``r_auto``: the rule set would auto-approve it (a system-owned action type whose rule allows it);
    - ``r_approvals`` (0 when auto), ``r_time``, ``r_chain`` (0: none), ``r_cosigners``;
    - ``a_auto``, ``a_approvals`` (0 when auto-approved), ``a_time``, ``a_chain``, ``a_cosigners``:
      the same as its routing froze them;
    - ``c_auto``, ``c_approvals``, ``c_cosigners``, ``c_time``, ``c_chain``: what differs (the last
      four only when both are human); ``changed``: any of them;
    - ``auto_over_rejection``: auto-approved by the rule set, rejected by a person;
    - ``took``: submission to human verdict (approved, overridden, rejected), else null.
    """
    integer: IntegerField = IntegerField()
    text: CharField = CharField()
    boolean: BooleanField = BooleanField()
    index = {rule.key: i for i, rule in enumerate(rules)}
    qs = DecisionRequest.objects.filter(created_at__gte=period.start, created_at__lt=period.end).annotate(
        r_rule=_first_match(rules, lambda r: index[r.key], -1, integer),
        r_allow=_first_match(rules, lambda r: r.allow_auto_approval, False, boolean),
        r_required=_first_match(rules, lambda r: r.required_approvals, 1, integer),
        r_time=_first_match(rules, lambda r: r.time_to_act_seconds, settings.DEFAULT_TIME_TO_ACT_SECONDS, integer),
        r_chain=_first_match(rules, lambda r: r.chain_id or NO_CHAIN, NO_CHAIN, integer),
        r_cosigners=_first_match(rules, lambda r: r.cosigner_signature, "", text),
        a_auto=_flag(Q(status=DecisionStatus.AUTO_APPROVED)),
        a_time=Coalesce(Cast(KeyTextTransform("time_to_act_seconds", "snapshot"), integer), Value(0)),
        a_chain=Coalesce(Cast(KeyTextTransform("id", KeyTextTransform("chain", "snapshot")), integer), NO_CHAIN),
        a_cosigners=Coalesce(_snapshot_cosigners(), Value("")),
    )
    qs = qs.annotate(
        r_auto=_flag(Q(r_allow=True, action_type__system_owned=True)),
        a_approvals=Case(When(a_auto=True, then=Value(0)), default=F("required_approvals"), output_field=integer),
    )
    both_human = Q(r_auto=False, a_auto=False)
    qs = qs.annotate(
        r_approvals=Case(When(r_auto=True, then=Value(0)), default=F("r_required"), output_field=integer),
        c_auto=_flag(~Q(r_auto=F("a_auto"))),
        c_approvals=_flag(both_human & ~Q(r_required=F("required_approvals"))),
        c_cosigners=_flag(both_human & ~Q(r_cosigners=F("a_cosigners"))),
        c_time=_flag(both_human & ~Q(r_time=F("a_time"))),
        c_chain=_flag(both_human & ~Q(r_chain=F("a_chain"))),
    )
    return qs.annotate(
        changed=_flag(Q(c_auto=True) | Q(c_approvals=True) | Q(c_cosigners=True) | Q(c_time=True) | Q(c_chain=True)),
        auto_over_rejection=_flag(Q(r_auto=True, status=DecisionStatus.REJECTED)),
        took=Case(
            When(
                status__in=HUMAN_VERDICTS,
                then=ExpressionWrapper(F("decided_at") - F("created_at"), output_field=DurationField()),
            ),
            default=None,
            output_field=DurationField(),
        ),
    )
