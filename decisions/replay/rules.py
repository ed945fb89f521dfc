"""The rule set a replay evaluates: the live, enabled policies with the draft in its base's place
(or inserted at its priority), each rule as plain data and as a SQL condition on decisions.

The SQL conditions say exactly what ``governance.selectors.policy_matches`` says, rule for rule
(tested against it): listed action types, the minimum severity, the blast-radius and confidence
bounds, regulated data (the submission's flag or the action type's) and customer impact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Q

from decisions.models import PolicyDraft
from governance.models import ApprovalPolicy, Criterion

DRAFT_KEY = "draft"
FAIL_SAFE_NAME = "no policy matched (fail-safe default: the owner signs)"


@dataclass(frozen=True)
class Rule:
    """One approval rule, live or drafted: what it matches and what it requires."""

    key: str  # "draft", or the live policy's pk as text
    name: str
    priority: int
    action_type_ids: frozenset[int]
    min_severity: int | None
    min_blast_radius: int | None
    max_blast_radius: int | None
    min_ai_confidence: Decimal | None
    max_ai_confidence: Decimal | None
    regulated_data: str
    customer_impact: str
    required_approvals: int
    cosigner_role_ids: tuple[int, ...]  # sorted
    cosigner_names: tuple[str, ...]
    time_to_act_seconds: int
    chain_id: int | None
    chain_name: str
    allow_auto_approval: bool

    @property
    def is_draft(self) -> bool:
        return self.key == DRAFT_KEY

    @property
    def cosigner_signature(self) -> str:
        """The co-signer roles as the replay compares them in SQL: sorted ids, comma-separated."""
        return ",".join(str(pk) for pk in self.cosigner_role_ids)

    def condition(self) -> Q:
        """The decisions this rule matches, as a condition on ``DecisionRequest``."""
        q = Q(pk__isnull=False)  # a When() needs a non-empty condition: the catch-all rule
        if self.action_type_ids:
            q &= Q(action_type_id__in=sorted(self.action_type_ids))
        if self.min_severity is not None:
            q &= Q(severity__gte=self.min_severity)
        if self.min_blast_radius is not None:
            q &= Q(blast_radius__gte=self.min_blast_radius)
        if self.max_blast_radius is not None:
            q &= Q(blast_radius__lte=self.max_blast_radius)
        if self.min_ai_confidence is not None:
            q &= Q(ai_confidence__gte=self.min_ai_confidence)
        if self.max_ai_confidence is not None:
            q &= Q(ai_confidence__lte=self.max_ai_confidence)
        regulated = Q(affects_regulated_data=True) | Q(action_type__touches_regulated_data=True)
        if self.regulated_data == Criterion.YES:
            q &= regulated
        elif self.regulated_data == Criterion.NO:
            q &= Q(affects_regulated_data=False, action_type__touches_regulated_data=False)
        if self.customer_impact != Criterion.ANY:
            q &= Q(customer_impact=self.customer_impact == Criterion.YES)
        return q


def fail_safe_rule() -> Rule:
    """What routing applies when no rule matches (``Requirements.fail_safe``)."""
    return Rule(
        key="",
        name=FAIL_SAFE_NAME,
        priority=-1,
        action_type_ids=frozenset(),
        min_severity=None,
        min_blast_radius=None,
        max_blast_radius=None,
        min_ai_confidence=None,
        max_ai_confidence=None,
        regulated_data=Criterion.ANY,
        customer_impact=Criterion.ANY,
        required_approvals=1,
        cosigner_role_ids=(),
        cosigner_names=(),
        time_to_act_seconds=settings.DEFAULT_TIME_TO_ACT_SECONDS,
        chain_id=None,
        chain_name="",
        allow_auto_approval=False,
    )


def _rule(source: ApprovalPolicy | PolicyDraft, key: str) -> Rule:
    cosigners = sorted(source.cosigner_roles.all(), key=lambda r: r.pk)
    chain = source.escalation_chain
    return Rule(
        key=key,
        name=source.name,
        priority=source.priority,
        action_type_ids=frozenset(a.pk for a in source.action_types.all()),
        min_severity=source.min_severity,
        min_blast_radius=source.min_blast_radius,
        max_blast_radius=source.max_blast_radius,
        min_ai_confidence=source.min_ai_confidence,
        max_ai_confidence=source.max_ai_confidence,
        regulated_data=source.regulated_data,
        customer_impact=source.customer_impact,
        required_approvals=source.required_approvals,
        cosigner_role_ids=tuple(r.pk for r in cosigners),
        cosigner_names=tuple(r.name for r in cosigners),
        time_to_act_seconds=source.time_to_act_seconds,
        chain_id=chain.pk,
        chain_name=chain.name,
        allow_auto_approval=source.allow_auto_approval,
    )


_RELATED = ("action_types", "cosigner_roles")


def draft_with_rules(draft: PolicyDraft) -> PolicyDraft:
    """``draft`` reloaded with what ``rule_set`` reads of it (three queries)."""
    return PolicyDraft.objects.select_related("escalation_chain", "policy").prefetch_related(*_RELATED).get(pk=draft.pk)


def rule_set(draft: PolicyDraft) -> list[Rule]:
    """The rules routing would try, in order, had ``draft`` been active: the live enabled policies,
    the draft's base replaced by the draft (left out if the draft disables it). On equal
    priorities the draft goes first. ``draft`` must come from ``draft_with_rules``. Three queries."""
    live = (
        ApprovalPolicy.objects.filter(enabled=True)
        .select_related("escalation_chain")
        .prefetch_related(*_RELATED)
        .order_by("priority")
    )
    rules = [_rule(p, str(p.pk)) for p in live if p.pk != draft.policy_id]
    if draft.enabled:
        rules.append(_rule(draft, DRAFT_KEY))
    return sorted(rules, key=lambda r: (r.priority, not r.is_draft))
