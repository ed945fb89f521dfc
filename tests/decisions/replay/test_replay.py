"""The what-if replay: a draft's requirements next to what happened, aggregated in SQL."""

import hashlib
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decisions.models import DecisionEvent, DecisionRequest, DecisionStatus, PolicyDraft, SignOff
from decisions.replay import services
from decisions.replay.annotations import replay_queryset
from decisions.replay.report import replay, replay_report
from decisions.replay.rules import DRAFT_KEY, Rule, draft_with_rules, rule_set
from decisions.review.figures import Period
from governance.models import ActionType, Criterion, Level
from governance.selectors import DecisionAttributes, match_policy, policy_matches
from tests.decisions.factories import make_integration, make_past_decision, submit
from tests.governance.factories import (
    ActionTypeFactory,
    ApprovalPolicyFactory,
    DecisionRoleFactory,
    make_signers,
    make_staffed_action_type,
)
from tests.helpers import force_update

pytestmark = pytest.mark.django_db


def test_live_matching_ignores_a_draft_that_would_match_first(history, draft_of):
    draft_of(history.isolate_policy, priority=1, required_approvals=2, name="Stricter isolation")

    match = match_policy(action_type=history.isolate, severity=Level.HIGH, blast_radius=Level.MEDIUM, ai_confidence=0.9)
    decision = submit(history.isolate)

    assert match.policy == history.isolate_policy
    assert decision.policy == history.isolate_policy
    assert decision.required_approvals == 1


def test_a_draft_that_auto_approves_what_a_person_rejected_is_listed_first(history, draft_of):
    draft = draft_of(history.enrich_policy, allow_auto_approval=True)

    result = replay(draft, history.period)

    first = result.rows[0]
    assert first["id"] == str(history.enrich_rejected.public_id)
    assert first["auto_over_rejection"] is True
    assert first["draft"]["auto_approved"] is True
    assert first["actual"]["status"] == DecisionStatus.REJECTED
    assert [s["verdict"] for s in first["actual"]["signers"]] == ["reject"]
    assert first["actual"]["time_to_decision_seconds"] == 600
    assert result.summary["auto_over_rejection"] == 1
    assert result.summary["newly_auto_approved"] == 2
    assert result.summary["changed"] == 2
    assert result.summary["changed_auto"] == 2
    assert result.rows[1]["id"] == str(history.enrich_approved.public_id)
    assert not any(row["changed"] for row in result.rows[2:])


def test_more_approvals_count_as_a_requirement_change_with_extra_approvals_and_time(history, draft_of):
    draft = draft_of(history.isolate_policy, required_approvals=2)

    summary = replay(draft, history.period).summary

    assert summary["decisions"] == 4
    assert summary["matched_by_draft"] == 2
    assert summary["changed"] == 2
    assert summary["changed_approvals"] == 2
    assert summary["auto_over_rejection"] == 0
    assert summary["extra_approvals"] == 2
    assert summary["approvals_added"] == 2
    # Observed: one approval took 25 min on average (10, 20, 30, 40); two were never needed, so
    # they are estimated at twice the observed time per approval: 25 min more for each of the two.
    assert summary["observed_time_to_decision"] == [{"approvals": 1, "decisions": 4, "mean_seconds": 1500.0}]
    assert summary["expected_extra_seconds"] == pytest.approx(2 * 1500.0)
    assert summary["expected_extra_seconds_per_decision"] == pytest.approx(750.0)


def test_cosigners_time_and_chain_changes_are_counted_separately(history, draft_of):
    privacy = DecisionRoleFactory(name="Privacy officer")
    make_signers(privacy, 1)
    draft = draft_of(history.isolate_policy, required_approvals=2, cosigner_roles=[privacy], time_to_act_seconds=60)

    summary = replay(draft, history.period).summary

    assert summary["changed"] == 2
    assert summary["changed_cosigners"] == 2
    assert summary["changed_time_to_act"] == 2
    assert summary["changed_chain"] == 0


def test_an_unchanged_draft_changes_nothing(history, draft_of):
    draft = draft_of(history.isolate_policy)

    summary = replay(draft, history.period).summary

    assert summary["changed"] == 0
    assert summary["extra_approvals"] == 0
    assert summary["expected_extra_seconds"] == 0


def test_a_disabled_draft_falls_through_to_the_next_rule(history, draft_of):
    ApprovalPolicyFactory(name="Catch-all", priority=500, required_approvals=2)
    draft = draft_of(history.isolate_policy, enabled=False)

    result = replay(draft, history.period)

    isolations = [r for r in result.rows if r["action_type"] == "isolate-host"]
    assert {r["draft"]["policy"] for r in isolations} == {"Catch-all"}
    assert result.summary["matched_by_draft"] == 0
    assert result.summary["extra_approvals"] == 2


def test_a_new_policy_draft_is_inserted_at_its_priority(history):
    draft = PolicyDraft(
        name="Everything by two",
        priority=1,
        required_approvals=2,
        escalation_chain=history.isolate_policy.escalation_chain,
    )
    services.policy_draft_save(actor=history.lead, draft=draft, action_types=[history.isolate], cosigner_roles=[])

    result = replay(draft, history.period)

    assert result.rules[0].key == DRAFT_KEY
    assert result.summary["matched_by_draft"] == 2
    assert result.summary["changed_approvals"] == 2


def test_decisions_outside_the_period_are_not_replayed(history, draft_of):
    draft = draft_of(history.isolate_policy, required_approvals=2)
    later = Period(start=history.period.end, end=history.period.end + timedelta(days=1))

    result = replay(draft, later)

    assert result.summary["decisions"] == 0
    assert result.rows == []
    assert result.summary["expected_extra_seconds"] is None


def _fingerprint() -> str:
    rows = [
        *DecisionRequest.objects.order_by("pk").values_list(),
        *SignOff.objects.order_by("pk").values_list(),
        *DecisionEvent.objects.order_by("pk").values_list(),
    ]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_replay_and_its_report_never_change_a_decision(history, draft_of):
    draft = draft_of(history.enrich_policy, allow_auto_approval=True)
    counts = (DecisionRequest.objects.count(), SignOff.objects.count(), DecisionEvent.objects.count())
    before = _fingerprint()

    replay(draft, history.period)
    replay_report(draft, history.period)
    services.policy_draft_activate(draft=draft, actor=history.lead, reason="Fewer clicks", period=history.period)

    assert (DecisionRequest.objects.count(), SignOff.objects.count(), DecisionEvent.objects.count()) == counts
    assert _fingerprint() == before


def test_replay_query_count_does_not_grow_with_decisions(history, draft_of, django_assert_num_queries):
    draft = draft_of(history.enrich_policy, allow_auto_approval=True)
    # draft + 2 prefetches, live policies + 2 prefetches, grouped figures, one snapshot per policy
    # version, page count, page,
    # and the live sign-offs prefetch of the page
    with django_assert_num_queries(11):
        replay(draft, history.period)
    for _ in range(6):
        submit(history.isolate, title="More history")
    with django_assert_num_queries(11):
        replay(draft, history.period)


# --- the SQL conditions say what policy_matches says -------------------------------------------

levels = st.sampled_from([None, *Level.values])
confidence = st.sampled_from([None, Decimal("0.2"), Decimal("0.5"), Decimal("0.9")])
criterion = st.sampled_from(Criterion.values)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    min_severity=levels,
    min_blast=levels,
    max_blast=st.sampled_from([None, Level.LOW, Level.MEDIUM]),
    min_conf=confidence,
    max_conf=confidence,
    regulated=criterion,
    customer=criterion,
    listed=st.booleans(),
)
def test_sql_condition_matches_exactly_what_routing_matches(
    replay_world, min_severity, min_blast, max_blast, min_conf, max_conf, regulated, customer, listed
):
    action_types, decisions = replay_world
    rule = Rule(
        key=DRAFT_KEY,
        name="r",
        priority=1,
        action_type_ids=frozenset([action_types[0].pk]) if listed else frozenset(),
        min_severity=min_severity,
        min_blast_radius=min_blast,
        max_blast_radius=max_blast,
        min_ai_confidence=min_conf,
        max_ai_confidence=max_conf,
        regulated_data=regulated,
        customer_impact=customer,
        required_approvals=1,
        cosigner_role_ids=(),
        cosigner_names=(),
        time_to_act_seconds=60,
        chain_id=None,
        chain_name="",
        allow_auto_approval=False,
    )
    policy = SimpleNamespace(
        action_types=SimpleNamespace(all=lambda: [action_types[0]] if listed else []),
        min_severity=min_severity,
        min_blast_radius=min_blast,
        max_blast_radius=max_blast,
        min_ai_confidence=min_conf,
        max_ai_confidence=max_conf,
        regulated_data=regulated,
        customer_impact=customer,
    )

    matched_sql = set(DecisionRequest.objects.filter(rule.condition()).values_list("pk", flat=True))

    expected = {
        d.pk
        for d in decisions
        if policy_matches(
            policy,
            DecisionAttributes(
                action_type=d.action_type,
                severity=d.severity,
                blast_radius=d.blast_radius,
                ai_confidence=Decimal(d.ai_confidence),
                regulated_data=d.affects_regulated_data or d.action_type.touches_regulated_data,
                customer_impact=d.customer_impact,
            ),
        )
        is not None
    }
    assert matched_sql == expected


@pytest.fixture
def replay_world(history):
    regulated = ActionTypeFactory(slug="export-records", touches_regulated_data=True)
    action_types = [history.isolate, regulated, ActionType.objects.get(slug="enrich-ticket")]
    integration = make_integration(*action_types)
    for i, (severity, blast, conf) in enumerate(
        [(s, b, c) for s in Level.values for b in Level.values for c in ("0.2", "0.5", "0.9")]
    ):
        decision = make_past_decision(
            integration,
            action_types[i % 3],
            created=history.period.start + timedelta(minutes=5),
            affects_regulated_data=i % 4 == 0,
            customer_impact=i % 5 == 0,
        )
        force_update(
            DecisionRequest.objects.filter(pk=decision.pk),
            severity=severity,
            blast_radius=blast,
            ai_confidence=Decimal(conf),
        )
    return action_types, list(DecisionRequest.objects.select_related("action_type"))


def test_rule_set_replaces_the_base_policy_with_the_draft(history, draft_of):
    draft = draft_of(history.isolate_policy, required_approvals=2)
    rules = rule_set(draft_with_rules(draft))

    assert [r.name for r in rules] == ["Enrichment", "Isolation"]
    assert [r.is_draft for r in rules] == [False, True]
    assert replay_queryset(rules, history.period).filter(r_rule=1).count() == 2


@pytest.mark.parametrize(
    "changes",
    [
        {"allow_auto_approval": True},
        {"required_approvals": 2},
        {"time_to_act_seconds": 60},
        {"enabled": False},
        {},
    ],
)
def test_the_listings_sql_flags_agree_with_the_aggregates(history, draft_of, changes):
    policy = history.isolate_policy if "required_approvals" in changes else history.enrich_policy
    draft = draft_of(policy, **changes)

    result = replay(draft, history.period, page_size=200)

    assert sum(r["changed"] for r in result.rows) == result.summary["changed"]
    assert sum(r["auto_over_rejection"] for r in result.rows) == result.summary["auto_over_rejection"]
    assert (
        sum(r["draft"]["approvals"] - r["actual"]["approvals"] for r in result.rows)
        == result.summary["extra_approvals"]
    )


def test_decisions_no_policy_matched_compare_with_the_fail_safe(history):
    unruled, _role, _people = make_staffed_action_type(signers=2, slug="notify-customer")
    decision = submit(unruled, title="Routed by the fail-safe")
    assert decision.policy is None
    draft = PolicyDraft(
        name="Customer notices",
        priority=1,
        required_approvals=2,
        escalation_chain=history.isolate_policy.escalation_chain,
    )
    services.policy_draft_save(actor=history.lead, draft=draft, action_types=[unruled], cosigner_roles=[])

    result = replay(draft, Period(start=history.period.start, end=history.period.end + timedelta(minutes=5)))

    row = next(r for r in result.rows if r["title"] == "Routed by the fail-safe")
    assert row["actual"]["policy"] is None
    assert row["changed"] is True
    assert result.summary["matched_by_draft"] == 1
    assert result.summary["changed"] == result.summary["changed_approvals"] == result.summary["changed_chain"] == 1
