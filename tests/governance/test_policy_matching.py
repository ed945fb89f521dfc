"""Approval policy matching: which rule applies to a decision, and why."""

from dataclasses import dataclass, fields, replace
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.models import ActionType, ApprovalPolicy, Criterion, Level
from governance.selectors import match_policy
from tests.governance.factories import ActionTypeFactory, ApprovalPolicyFactory


def decide(
    action_type,
    *,
    severity=Level.MEDIUM,
    blast_radius=Level.MEDIUM,
    ai_confidence=Decimal("0.500"),
    regulated_data=False,
    customer_impact=False,
):
    return match_policy(
        action_type=action_type,
        severity=severity,
        blast_radius=blast_radius,
        ai_confidence=ai_confidence,
        regulated_data=regulated_data,
        customer_impact=customer_impact,
    )


def matches(rule, action_type, **decision) -> bool:
    found = decide(action_type, **decision)
    return found is not None and found.policy == rule


@pytest.fixture
def isolate_host():
    return ActionTypeFactory(slug="isolate-host", name="Isolate host")


# --- ordering ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_first_enabled_rule_by_priority_wins(isolate_host):
    ApprovalPolicyFactory(priority=20, required_approvals=1)
    first = ApprovalPolicyFactory(priority=10, required_approvals=2)

    assert decide(isolate_host).policy == first


@pytest.mark.django_db
def test_later_rule_applies_when_an_earlier_one_does_not_match(isolate_host):
    ApprovalPolicyFactory(priority=10, min_severity=Level.CRITICAL)
    fallback = ApprovalPolicyFactory(priority=20)

    assert decide(isolate_host, severity=Level.LOW).policy == fallback


@pytest.mark.django_db
def test_disabled_rule_is_skipped(isolate_host):
    ApprovalPolicyFactory(priority=10, enabled=False)
    enabled = ApprovalPolicyFactory(priority=20)

    assert decide(isolate_host).policy == enabled


@pytest.mark.django_db
def test_no_matching_rule_gives_none(isolate_host):
    ApprovalPolicyFactory(min_severity=Level.CRITICAL)

    assert decide(isolate_host, severity=Level.HIGH) is None


@pytest.mark.django_db
def test_no_rules_at_all_gives_none(isolate_host):
    assert decide(isolate_host) is None


@pytest.mark.django_db
@pytest.mark.parametrize("rules", [1, 6])
def test_matching_reads_one_query_once_the_snapshot_is_warm(rules, isolate_host, django_assert_num_queries):
    for priority in range(rules):
        ApprovalPolicyFactory(priority=priority, min_severity=Level.CRITICAL, action_types=[ActionTypeFactory()])
    decide(isolate_host)

    with django_assert_num_queries(1):
        decide(isolate_host)


# --- criteria ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rule_listing_action_types_matches_a_listed_type(isolate_host):
    rule = ApprovalPolicyFactory(action_types=[isolate_host, ActionTypeFactory()])

    assert matches(rule, isolate_host)


@pytest.mark.django_db
def test_rule_listing_action_types_rejects_an_unlisted_type(isolate_host):
    rule = ApprovalPolicyFactory(action_types=[ActionTypeFactory()])

    assert not matches(rule, isolate_host)


@pytest.mark.django_db
def test_min_severity_accepts_the_same_severity(isolate_host):
    rule = ApprovalPolicyFactory(min_severity=Level.HIGH)

    assert matches(rule, isolate_host, severity=Level.HIGH)


@pytest.mark.django_db
def test_min_severity_rejects_a_lower_severity(isolate_host):
    rule = ApprovalPolicyFactory(min_severity=Level.HIGH)

    assert not matches(rule, isolate_host, severity=Level.MEDIUM)


@pytest.mark.django_db
def test_min_blast_radius_accepts_the_same_blast_radius(isolate_host):
    rule = ApprovalPolicyFactory(min_blast_radius=Level.HIGH)

    assert matches(rule, isolate_host, blast_radius=Level.HIGH)


@pytest.mark.django_db
def test_min_blast_radius_rejects_a_smaller_blast_radius(isolate_host):
    rule = ApprovalPolicyFactory(min_blast_radius=Level.HIGH)

    assert not matches(rule, isolate_host, blast_radius=Level.MEDIUM)


@pytest.mark.django_db
def test_max_blast_radius_accepts_the_same_blast_radius(isolate_host):
    rule = ApprovalPolicyFactory(max_blast_radius=Level.MEDIUM)

    assert matches(rule, isolate_host, blast_radius=Level.MEDIUM)


@pytest.mark.django_db
def test_max_blast_radius_rejects_a_larger_blast_radius(isolate_host):
    rule = ApprovalPolicyFactory(max_blast_radius=Level.MEDIUM)

    assert not matches(rule, isolate_host, blast_radius=Level.HIGH)


@pytest.mark.django_db
def test_min_confidence_accepts_the_same_confidence(isolate_host):
    rule = ApprovalPolicyFactory(max_blast_radius=Level.MEDIUM, min_ai_confidence=Decimal("0.900"))

    assert matches(rule, isolate_host, blast_radius=Level.LOW, ai_confidence=Decimal("0.9"))


@pytest.mark.django_db
def test_min_confidence_rejects_a_lower_confidence(isolate_host):
    rule = ApprovalPolicyFactory(max_blast_radius=Level.MEDIUM, min_ai_confidence=Decimal("0.900"))

    assert not matches(rule, isolate_host, blast_radius=Level.LOW, ai_confidence=Decimal("0.899"))


@pytest.mark.django_db
def test_max_confidence_accepts_the_same_confidence(isolate_host):
    rule = ApprovalPolicyFactory(max_blast_radius=Level.MEDIUM, max_ai_confidence=Decimal("0.500"))

    assert matches(rule, isolate_host, blast_radius=Level.LOW, ai_confidence=0.5)


@pytest.mark.django_db
def test_max_confidence_rejects_a_higher_confidence(isolate_host):
    rule = ApprovalPolicyFactory(max_blast_radius=Level.MEDIUM, max_ai_confidence=Decimal("0.500"))

    assert not matches(rule, isolate_host, blast_radius=Level.LOW, ai_confidence=0.501)


@pytest.mark.django_db
def test_regulated_data_yes_accepts_a_decision_flagged_regulated(isolate_host):
    rule = ApprovalPolicyFactory(regulated_data=Criterion.YES)

    assert matches(rule, isolate_host, regulated_data=True)


@pytest.mark.django_db
def test_regulated_data_yes_rejects_an_unflagged_decision(isolate_host):
    rule = ApprovalPolicyFactory(regulated_data=Criterion.YES)

    assert not matches(rule, isolate_host, regulated_data=False)


@pytest.mark.django_db
def test_regulated_data_yes_accepts_an_action_type_touching_regulated_data_without_the_flag():
    rule = ApprovalPolicyFactory(regulated_data=Criterion.YES)
    export = ActionTypeFactory(touches_regulated_data=True)

    assert matches(rule, export, regulated_data=False)


@pytest.mark.django_db
def test_regulated_data_no_accepts_an_unflagged_decision(isolate_host):
    rule = ApprovalPolicyFactory(regulated_data=Criterion.NO)

    assert matches(rule, isolate_host, regulated_data=False)


@pytest.mark.django_db
def test_regulated_data_no_rejects_a_decision_flagged_regulated(isolate_host):
    rule = ApprovalPolicyFactory(regulated_data=Criterion.NO)

    assert not matches(rule, isolate_host, regulated_data=True)


@pytest.mark.django_db
def test_regulated_data_no_rejects_an_action_type_touching_regulated_data_without_the_flag():
    rule = ApprovalPolicyFactory(regulated_data=Criterion.NO)
    export = ActionTypeFactory(touches_regulated_data=True)

    assert not matches(rule, export, regulated_data=False)


@pytest.mark.django_db
def test_customer_impact_yes_accepts_a_decision_with_customer_impact(isolate_host):
    rule = ApprovalPolicyFactory(customer_impact=Criterion.YES)

    assert matches(rule, isolate_host, customer_impact=True)


@pytest.mark.django_db
def test_customer_impact_yes_rejects_a_decision_without_customer_impact(isolate_host):
    rule = ApprovalPolicyFactory(customer_impact=Criterion.YES)

    assert not matches(rule, isolate_host, customer_impact=False)


@pytest.mark.django_db
def test_customer_impact_no_accepts_a_decision_without_customer_impact(isolate_host):
    rule = ApprovalPolicyFactory(customer_impact=Criterion.NO)

    assert matches(rule, isolate_host, customer_impact=False)


@pytest.mark.django_db
def test_customer_impact_no_rejects_a_decision_with_customer_impact(isolate_host):
    rule = ApprovalPolicyFactory(customer_impact=Criterion.NO)

    assert not matches(rule, isolate_host, customer_impact=True)


# --- reasons ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_match_gives_a_reason_for_every_criterion(isolate_host):
    ApprovalPolicyFactory(
        action_types=[isolate_host],
        min_severity=Level.HIGH,
        min_blast_radius=Level.LOW,
        max_blast_radius=Level.MEDIUM,
        min_ai_confidence=Decimal("0.800"),
        max_ai_confidence=Decimal("0.990"),
        regulated_data=Criterion.NO,
        customer_impact=Criterion.YES,
    )

    found = decide(
        isolate_host,
        severity=Level.CRITICAL,
        blast_radius=Level.MEDIUM,
        ai_confidence=Decimal("0.900"),
        customer_impact=True,
    )

    assert found.reasons == [
        "action type isolate-host is listed",
        "severity Critical ≥ High",
        "blast radius Medium ≥ Low",
        "blast radius Medium ≤ Medium",
        "AI confidence 0.900 ≥ 0.800",
        "AI confidence 0.900 ≤ 0.990",
        "regulated data: no",
        "customer impact: yes",
    ]


@pytest.mark.django_db
def test_match_of_a_catch_all_rule_says_so(isolate_host):
    ApprovalPolicyFactory()

    assert decide(isolate_host).reason == "catch-all rule"


# --- high blast radius: confidence never lowers the bar --------------------------------------------------------


@pytest.mark.django_db
def test_database_refuses_a_confidence_rule_that_can_match_a_high_blast_radius():
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalPolicyFactory(min_ai_confidence=Decimal("0.950"), max_blast_radius=Level.HIGH)


class _Listed:
    def __init__(self, items):
        self._items = list(items)

    def all(self):
        return list(self._items)


@dataclass(frozen=True)
class Rule:
    """In-memory stand-in for an ApprovalPolicy row: the fields matching reads, action types without a query."""

    priority: int
    required_approvals: int
    enabled: bool = True
    listed: tuple[ActionType, ...] = ()
    min_severity: int | None = None
    min_blast_radius: int | None = None
    max_blast_radius: int | None = None
    min_ai_confidence: Decimal | None = None
    max_ai_confidence: Decimal | None = None
    regulated_data: str = Criterion.ANY
    customer_impact: str = Criterion.ANY

    @property
    def action_types(self) -> _Listed:
        return _Listed(self.listed)

    def as_model(self) -> ApprovalPolicy:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "listed"}
        return ApprovalPolicy(name=f"Rule {self.priority}", **values)


ACTION_TYPES = [
    ActionType(pk=1, slug="isolate-host", touches_regulated_data=False),
    ActionType(pk=2, slug="notify-customer", touches_regulated_data=True, changes_production_state=False),
]
levels = st.sampled_from(list(Level))
confidences = st.decimals(min_value=0, max_value=1, places=3)
criteria = st.sampled_from(list(Criterion))


def _ordered(low, high):
    if low is not None and high is not None and low > high:
        return high, low
    return low, high


@st.composite
def rules(draw) -> Rule:
    """A rule the database would accept (see ApprovalPolicy.Meta.constraints)."""
    min_blast, max_blast = _ordered(draw(st.none() | levels), draw(st.none() | levels))
    min_confidence = max_confidence = None
    if max_blast is not None and max_blast <= Level.MEDIUM:
        min_confidence, max_confidence = _ordered(draw(st.none() | confidences), draw(st.none() | confidences))
    return Rule(
        priority=1,
        required_approvals=draw(st.integers(1, 10)),
        enabled=draw(st.booleans()),
        listed=tuple(draw(st.lists(st.sampled_from(ACTION_TYPES), max_size=2, unique_by=lambda a: a.pk))),
        min_severity=draw(st.none() | levels),
        min_blast_radius=min_blast,
        max_blast_radius=max_blast,
        min_ai_confidence=min_confidence,
        max_ai_confidence=max_confidence,
        regulated_data=draw(criteria),
        customer_impact=draw(criteria),
    )


# Already in priority order, as match_policy expects a given list to be.
rule_sets = st.lists(rules(), min_size=1, max_size=6).map(
    lambda drawn: [replace(rule, priority=10 * position) for position, rule in enumerate(drawn, start=1)]
)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None)
@given(rule=rules())
def test_generated_rules_satisfy_the_database_constraints(rule):
    rule.as_model().validate_constraints()


@given(
    rule_set=rule_sets,
    action_type=st.sampled_from(ACTION_TYPES),
    severity=levels,
    blast_radius=st.sampled_from([Level.HIGH, Level.CRITICAL]),
    regulated_data=st.booleans(),
    customer_impact=st.booleans(),
    rising_confidence=st.lists(confidences, min_size=2, max_size=6).map(sorted),
)
def test_high_blast_radius_approvals_never_decrease_as_confidence_rises(
    rule_set, action_type, severity, blast_radius, regulated_data, customer_impact, rising_confidence
):
    approvals = []
    for confidence in rising_confidence:
        found = match_policy(
            action_type=action_type,
            severity=severity,
            blast_radius=blast_radius,
            ai_confidence=confidence,
            regulated_data=regulated_data,
            customer_impact=customer_impact,
            policies=rule_set,
        )
        approvals.append(None if found is None else found.policy.required_approvals)

    # More confidence never drops a decision out of every rule, nor into a rule asking for fewer people.
    assert approvals.count(None) in (0, len(approvals))
    matched = [a for a in approvals if a is not None]
    assert matched == sorted(matched)
