"""seed_history: realistic closed decisions written in bulk, with an intact decision log."""

from collections import Counter, defaultdict
from datetime import timedelta
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from decisions.lifecycle.eligibility import cosigner_role_ids, owner_slot_roles, quorum_met
from decisions.models import (
    REASONS_BY_VERDICT,
    DecisionEvent,
    DecisionRequest,
    DecisionStatus,
    Escalation,
    EventKind,
    Integration,
    Outcome,
    SignOff,
    Verdict,
)
from decisions.review import figures as review
from decisions.review.figures import Period, review_figures
from decisions.seeding.history import HistoryError, seed_history
from governance import rbac
from governance.models import Certification

pytestmark = pytest.mark.django_db

N = 300
DAYS = 30


@pytest.fixture
def at():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def summary(at):
    return seed_history(decisions=N, days=DAYS, seed=3, now=at)


def live_approvals(decision) -> list[tuple[int, set[int]]]:
    return [
        (s.signer_id, {s.signed_as_id, *s.eligible_role_ids})
        for s in decision.signoffs.all()
        if s.voided_at is None and s.verdict in (Verdict.APPROVE, Verdict.OVERRIDE)
    ]


def fingerprint() -> list[tuple]:
    """What the rows say, by public ids (database ids differ between runs on PostgreSQL)."""
    decisions = DecisionRequest.objects.order_by("public_id").values_list(
        "public_id",
        "status",
        "created_at",
        "decided_at",
        "owner_role_id",
        "policy_id",
        "event_count",
        "last_event_hash",
    )
    signoffs = SignOff.objects.order_by("public_id").values_list(
        "public_id", "decision__public_id", "signer_id", "verdict", "reason_code", "step", "created_at"
    )
    escalations = Escalation.objects.order_by("decision__public_id", "from_step").values_list(
        "decision__public_id", "from_step", "reason", "at", "lateness_ms"
    )
    outcomes = Outcome.objects.order_by("decision__public_id").values_list(
        "decision__public_id", "kind", "reverted", "reported_at"
    )
    return [*decisions, *signoffs, *escalations, *outcomes]


def test_rows_written_match_the_summary(summary):
    statuses = dict(DecisionRequest.objects.values_list("status").annotate(n=Count("id")))

    assert DecisionRequest.objects.count() == summary["decisions"] == N
    assert statuses == summary["statuses"]
    assert SignOff.objects.count() == summary["signoffs"] > 0
    assert Escalation.objects.count() == summary["escalations"] > 0
    assert Outcome.objects.count() == summary["outcomes"] > 0
    assert DecisionEvent.objects.count() == summary["events"] > N


def test_the_decision_log_verifies_after_seeding(summary):
    out = StringIO()

    call_command("verify_decision_log", "--all", stdout=out)

    assert f"Decision log intact: {N} decisions, {summary['events']} events verified." in out.getvalue()


def test_events_are_numbered_from_one_and_end_at_the_head(summary):
    events = defaultdict(list)
    for decision_id, seq, kind, hash_ in DecisionEvent.objects.order_by("decision_id", "seq").values_list(
        "decision_id", "seq", "kind", "hash"
    ):
        events[decision_id].append((seq, kind, hash_))

    for decision in DecisionRequest.objects.all():
        log = events[decision.pk]
        assert [seq for seq, _, _ in log] == list(range(1, decision.event_count + 1))
        assert log[0][1] == EventKind.RECEIVED
        assert log[-1][2] == decision.last_event_hash


def test_every_decision_is_closed_within_the_period(summary, at):
    decisions = list(DecisionRequest.objects.all())

    assert {d.status for d in decisions} == set(DecisionStatus.values) - {DecisionStatus.PENDING}
    for d in decisions:
        assert at - timedelta(days=DAYS) <= d.created_at <= d.decided_at < at


def test_final_action_matches_the_status(summary):
    for d in DecisionRequest.objects.all():
        executed = d.status in (DecisionStatus.APPROVED, DecisionStatus.OVERRIDDEN, DecisionStatus.AUTO_APPROVED)
        assert (d.final_action is not None) == executed
        assert bool(d.final_action and d.final_action.get("overridden")) == (d.status == DecisionStatus.OVERRIDDEN)


def test_system_owned_action_types_are_auto_approved_and_only_they(summary):
    for system_owned, status in DecisionRequest.objects.values_list("action_type__system_owned", "status"):
        assert (status == DecisionStatus.AUTO_APPROVED) == system_owned


def test_signers_are_certified_for_the_role_they_signed_as_and_never_the_submitter(summary):
    signoffs = SignOff.objects.select_related("decision", "signer")
    certifications = Certification.objects.in_bulk([s.certification_id_at_signing for s in signoffs])
    integration_accounts = set(Integration.objects.values_list("service_account_id", flat=True))

    for s in signoffs:
        certification = certifications[s.certification_id_at_signing]
        assert s.signer_id != s.decision.submitted_by_id
        assert s.signer_id not in integration_accounts
        assert not s.signer.groups.filter(name=rbac.INTEGRATION).exists()
        assert certification.user_id == s.signer_id
        assert certification.role_id == s.signed_as_id or certification.action_type_id == s.decision.action_type_id
        eligible = {(e["user_id"], e["role_id"]) for e in s.decision.eligible_entries}
        assert (s.signer_id, s.signed_as_id) in eligible


def test_every_certification_was_valid_when_its_holder_signed(summary):
    signoffs = list(SignOff.objects.all())
    certifications = Certification.objects.in_bulk([s.certification_id_at_signing for s in signoffs])

    for s in signoffs:
        assert certifications[s.certification_id_at_signing].is_valid_at(s.created_at), s.pk


def test_each_person_signs_a_decision_at_most_once(summary):
    per_decision = Counter(SignOff.objects.values_list("decision_id", "signer_id"))

    assert max(per_decision.values()) == 1


def test_reason_codes_fit_their_verdict_and_overrides_carry_the_action(summary):
    for s in SignOff.objects.all():
        assert s.reason_code in REASONS_BY_VERDICT[s.verdict]
        assert s.rationale
        assert (s.override_action is not None) == (s.verdict == Verdict.OVERRIDE)


def test_approved_decisions_meet_their_quorum_and_expired_ones_do_not(summary):
    decisions = DecisionRequest.objects.prefetch_related("signoffs").filter(
        status__in=[DecisionStatus.APPROVED, DecisionStatus.OVERRIDDEN, DecisionStatus.EXPIRED]
    )

    for d in decisions:
        met = quorum_met(
            approvals=live_approvals(d),
            required=d.required_approvals,
            owner_roles=owner_slot_roles(d),
            cosigner_roles=cosigner_role_ids(d),
        )
        assert met == (d.status != DecisionStatus.EXPIRED)


def test_multi_approver_decisions_are_signed_by_distinct_people(summary):
    decisions = DecisionRequest.objects.filter(
        required_approvals__gt=1, status__in=[DecisionStatus.APPROVED, DecisionStatus.OVERRIDDEN]
    ).annotate(people=Count("signoffs__signer", distinct=True))

    assert decisions.exists()
    for d in decisions:
        assert d.people >= d.required_approvals


def test_sign_offs_and_escalations_are_logged_in_time_order(summary):
    for decision in DecisionRequest.objects.prefetch_related("events"):
        instants = [e.at for e in decision.events.all()]
        assert instants == sorted(instants)


def test_escalations_are_consecutive_steps_late_only_on_timeouts(summary):
    steps = defaultdict(list)
    for e in Escalation.objects.order_by("decision_id", "from_step"):
        steps[e.decision_id].append(e.from_step)
        assert (e.lateness_ms is not None and e.lateness_ms > 0) == (e.reason == Escalation.Reason.TIMEOUT)

    assert all(found == list(range(len(found))) for found in steps.values())
    assert set(Escalation.objects.values_list("reason", flat=True)) == {
        Escalation.Reason.TIMEOUT,
        Escalation.Reason.NOBODY_ELIGIBLE,
    }


def test_expired_decisions_escalated_more_than_approved_ones(summary):
    per_status = dict(
        DecisionRequest.objects.values_list("status").annotate(n=Count("escalations")).values_list("status", "n")
    )
    counts = Counter(DecisionRequest.objects.values_list("status", flat=True))

    assert (
        per_status[DecisionStatus.EXPIRED] / counts[DecisionStatus.EXPIRED]
        > per_status[DecisionStatus.APPROVED] / counts[DecisionStatus.APPROVED]
    )


def test_outcomes_come_after_the_verdict_and_revert_only_executed_actions(summary, at):
    outcomes = Outcome.objects.select_related("decision", "decision__action_type")

    for o in outcomes:
        assert o.decision.decided_at < o.reported_at < at
        if o.reverted:
            assert o.decision.status in (DecisionStatus.APPROVED, DecisionStatus.OVERRIDDEN)
            assert o.decision.action_type.changes_production_state
        assert o.decision.events.order_by("-seq").first().kind == EventKind.OUTCOME_REPORTED


def test_the_same_seed_and_now_give_the_same_history(at):
    seed_history(decisions=1, days=DAYS, seed=9, now=at - timedelta(days=1))  # the demo SOC, outside the runs
    runs = []
    for _ in range(2):
        with transaction.atomic():
            seed_history(decisions=60, days=DAYS, seed=5, now=at)
            runs.append(fingerprint())
            transaction.set_rollback(True)

    assert runs[0] == runs[1]
    assert len(runs[0]) > 60


def test_another_seed_gives_another_history(at):
    seed_history(decisions=20, days=DAYS, seed=1, now=at)
    first = set(DecisionRequest.objects.values_list("public_id", flat=True))

    seed_history(decisions=20, days=DAYS, seed=2, now=at)

    assert DecisionRequest.objects.exclude(public_id__in=first).count() == 20


def test_seeding_the_same_history_twice_is_refused(summary, at):
    with pytest.raises(HistoryError, match="already generated"):
        seed_history(decisions=N, days=DAYS, seed=3, now=at)


def test_review_figures_count_every_seeded_decision(summary, at):
    figures = review_figures(Period(start=at - timedelta(days=DAYS), end=at))

    assert figures["totals"]["total"] == N
    assert sum(row["total"] for row in figures["by_action_type"]) == N
    assert len(figures["by_model"]) >= 3


def test_timestamps_are_automatic_again_after_seeding(summary):
    fields = [
        DecisionRequest._meta.get_field("created_at"),
        SignOff._meta.get_field("created_at"),
        Outcome._meta.get_field("reported_at"),
    ]

    assert all(f.auto_now_add for f in fields)
    assert DecisionRequest._meta.get_field("updated_at").auto_now


def test_command_prints_the_summary():
    out = StringIO()

    call_command("seed_history", "--decisions", "25", "--days", "7", "--seed", "4", stdout=out)

    assert "Seeded 25 decisions" in out.getvalue()
    assert DecisionRequest.objects.count() == 25


@pytest.mark.parametrize("args", [["--decisions", "0"], ["--decisions", "ten"], ["--decisions", "5", "--days", "0"]])
def test_command_refuses_a_bad_count_clearly(args):
    with pytest.raises(CommandError, match="whole number of at least 1"):
        call_command("seed_history", *args)


def test_command_refuses_a_period_too_long():
    with pytest.raises(CommandError, match="days must be between 1 and"):
        call_command("seed_history", "--decisions", "5", "--days", "99999")


def test_command_refuses_a_naive_now():
    with pytest.raises(CommandError, match="with a time zone"):
        call_command("seed_history", "--decisions", "5", "--now", "2026-11-01T00:00:00")


@pytest.mark.postgres
def test_history_is_copied_into_postgresql_and_verifies(at):
    summary = seed_history(decisions=120, days=DAYS, seed=8, now=at)

    call_command("verify_decision_log", stdout=StringIO())
    assert connection.vendor == "postgresql"
    assert DecisionEvent.objects.count() == summary["events"]
    assert SignOff.objects.filter(created_at__lt=at - timedelta(days=DAYS)).count() == 0


@pytest.mark.postgres
@pytest.mark.parametrize("sql", ["decision", "approver"])
def test_the_postgresql_review_sql_gives_the_same_rows_as_the_portable_sql(summary, at, sql):
    period = Period(start=at - timedelta(days=DAYS), end=at)

    def rows(form: str) -> list[dict]:
        found = review._rows(getattr(review, f"_{sql}_sql_{form}")(), period)
        return sorted(found, key=lambda row: sorted((k, str(v)) for k, v in row.items()))

    assert rows("postgresql") == rows("portable")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_second_connection_writes_every_batch(at):
    rbac.ensure_groups(django_apps)  # a transactional test's flush removed the migration's groups

    summary = seed_history(decisions=2500, days=DAYS, seed=12, now=at)

    call_command("verify_decision_log", stdout=StringIO())
    assert DecisionRequest.objects.count() == 2500
    assert DecisionEvent.objects.count() == summary["events"] > 2500
    assert SignOff.objects.count() == summary["signoffs"]


def test_seeding_restores_the_role_groups_a_flushed_database_lost(at):
    from django.contrib.auth.models import Group

    Group.objects.all().delete()

    result = seed_history(decisions=5, days=7, now=at)

    assert result["decisions"] == 5
    assert set(Group.objects.values_list("name", flat=True)) >= set(rbac.ALL_GROUPS)


def test_command_with_if_empty_seeds_nothing_when_decisions_exist(summary):
    before = DecisionRequest.objects.count()
    out = StringIO()

    call_command("seed_history", "--decisions", "5", "--if-empty", stdout=out)

    assert DecisionRequest.objects.count() == before
    assert "no history seeded" in out.getvalue()


def test_command_with_if_empty_seeds_an_empty_database():
    call_command("seed_history", "--decisions", "5", "--days", "3", "--if-empty", stdout=StringIO())

    assert DecisionRequest.objects.count() == 5


def _certified_on_call(on_call, role, at) -> Certification:
    """The certification of the first person on call at ``at``, made valid from a year before
    to long after (the demo rota puts Omar, whose certification ended five days ago, on call on
    some days; these tests need someone who may sign)."""
    certification = Certification.objects.get(user=on_call[0].user, role=role)
    certification.valid_from = min(certification.valid_from, at - timedelta(days=365))
    certification.valid_until = max(certification.valid_until, at + timedelta(days=300))
    certification.save()
    return certification


def test_nobody_signs_with_a_certification_revoked_after_the_stage_opened(at):
    """A certification revoked while a stage is open: its holder was eligible when the stage
    opened, but the sign-off service refuses a certification that is no longer valid, so the
    history must not have them sign after the revocation either."""
    from governance.demo import GovernanceDemo
    from governance.models import ActionType
    from governance.selectors import current_owner, on_call

    GovernanceDemo().build()
    revoked_at = at - timedelta(hours=12)
    role = current_owner(action_type=ActionType.objects.get(slug="isolate-host"), at=revoked_at).owner_role
    certification = _certified_on_call(on_call(role=role, at=revoked_at), role, revoked_at)
    certification.revoked_at = revoked_at
    certification.save()

    seed_history(decisions=1500, days=1, seed=11, now=at)

    signed = SignOff.objects.filter(certification_id_at_signing=certification.pk)
    assert signed.filter(created_at__lt=revoked_at).exists()  # they signed while certified
    assert list(signed.filter(created_at__gte=revoked_at).values_list("created_at", flat=True)) == []


def test_nobody_signs_before_their_certification_starts(at):
    """A certification recorded for someone already on the rota: decisions before it starts
    must not be signed under it (the on-call index must not reuse a later answer earlier)."""
    from governance.demo import GovernanceDemo
    from governance.models import ActionType
    from governance.selectors import current_owner, on_call

    GovernanceDemo().build()
    starts = at - timedelta(hours=12)
    role = current_owner(action_type=ActionType.objects.get(slug="isolate-host"), at=starts).owner_role
    certification = _certified_on_call(on_call(role=role, at=starts), role, starts)
    certification.valid_from = starts
    certification.save()

    seed_history(decisions=1500, days=1, seed=11, now=at)

    signed = SignOff.objects.filter(certification_id_at_signing=certification.pk)
    assert signed.filter(created_at__gte=starts).exists()  # they signed once certified
    assert list(signed.filter(created_at__lt=starts).values_list("created_at", flat=True)) == []
