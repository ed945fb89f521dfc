"""The post-hoc review of a break-glass, and the escalation of an overdue one."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from decisions.breakglass import services, sweep
from decisions.errors import CertificationExpired, DecisionClosed, InvalidInput, SegregationOfDuties
from decisions.models import BreakGlass, BreakGlassReview, EventKind
from decisions.tasks import sweep_break_glass_reviews
from governance.models import Certification

pytestmark = pytest.mark.django_db

REASON = "Active exfiltration; nobody else reachable."


@pytest.fixture
def used(glass):
    return services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)


def overdue(used, by=timedelta(minutes=1)):
    BreakGlass.objects.filter(pk=used.pk).update(review_due_at=timezone.now() - by, review_next_at=timezone.now() - by)


def test_a_different_certified_person_confirms_it_with_a_rationale(glass, used):
    reviewed = services.break_glass_review(
        used=used, actor=glass.signers[1], verdict=BreakGlassReview.CONFIRMED, rationale="The spread was real."
    )

    assert reviewed.reviewed_by == glass.signers[1]
    assert reviewed.review == "confirmed"
    assert reviewed.review_next_at is None
    event = used.decision.events.get(kind=EventKind.BREAK_GLASS_REVIEWED)
    assert event.actor == glass.signers[1]
    assert event.data["review"] == "confirmed"
    assert event.data["late"] is False


def test_a_review_may_condemn_it(glass, used):
    reviewed = services.break_glass_review(
        used=used, actor=glass.signers[2], verdict=BreakGlassReview.CONDEMNED, rationale="It could have waited."
    )

    assert reviewed.get_review_display().startswith("Condemned")


def test_the_person_who_broke_the_glass_cannot_review_it(glass, used):
    with pytest.raises(SegregationOfDuties, match="a different certified person"):
        services.break_glass_review(used=used, actor=glass.signers[0], verdict="confirmed", rationale="Fine.")


def test_the_submitter_cannot_review_it(glass):
    glass.decision.submitted_by = glass.signers[1]
    glass.decision.save(update_fields=["submitted_by"])
    used = services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)

    with pytest.raises(SegregationOfDuties):
        services.break_glass_review(used=used, actor=glass.signers[1], verdict="confirmed", rationale="Fine.")


def test_a_reviewer_needs_a_valid_certification(glass, used):
    Certification.objects.filter(user=glass.signers[1]).update(valid_until=timezone.now() - timedelta(seconds=1))

    with pytest.raises(CertificationExpired):
        services.break_glass_review(used=used, actor=glass.signers[1], verdict="confirmed", rationale="Fine.")


def test_a_review_needs_a_verdict_and_a_rationale(glass, used):
    with pytest.raises(InvalidInput, match="rationale"):
        services.break_glass_review(used=used, actor=glass.signers[1], verdict="confirmed", rationale=" ")
    with pytest.raises(InvalidInput, match="Confirm or condemn"):
        services.break_glass_review(used=used, actor=glass.signers[1], verdict="shrug", rationale="Hm.")


def test_a_use_is_reviewed_once(glass, used):
    services.break_glass_review(used=used, actor=glass.signers[1], verdict="confirmed", rationale="Fine.")

    with pytest.raises(DecisionClosed):
        services.break_glass_review(used=used, actor=glass.signers[2], verdict="condemned", rationale="No.")


def test_an_overdue_review_escalates_to_the_chains_next_role(glass, used, django_capture_on_commit_callbacks):
    overdue(used)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert sweep.sweep_overdue_reviews() == 1

    used.refresh_from_db()
    assert used.review_step == 1
    assert glass.step_role.pk in used.review_role_ids
    assert used.review_next_at > timezone.now() + timedelta(minutes=59)  # the step's wait: one hour
    event = used.decision.events.get(kind=EventKind.BREAK_GLASS_ESCALATED)
    assert event.data["to_role"]["id"] == glass.step_role.pk
    (sent,) = mail.outbox
    assert sent.subject.startswith("Overdue break-glass review")
    assert sorted(sent.to) == sorted([glass.step_signer.email, glass.lead.email])


def test_the_role_it_escalated_to_may_review_it(glass, used):
    overdue(used)
    sweep.sweep_overdue_reviews()
    used.refresh_from_db()

    reviewed = services.break_glass_review(used=used, actor=glass.step_signer, verdict="confirmed", rationale="OK.")

    assert reviewed.is_reviewed
    assert used.decision.events.get(kind=EventKind.BREAK_GLASS_REVIEWED).data["late"] is True


def test_past_the_chains_end_the_leads_are_told_and_escalation_stops(glass, used, django_capture_on_commit_callbacks):
    overdue(used)
    sweep.sweep_overdue_reviews()
    BreakGlass.objects.filter(pk=used.pk).update(review_next_at=timezone.now() - timedelta(seconds=1))
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert sweep.sweep_overdue_reviews() == 1

    used.refresh_from_db()
    assert used.review_step == 2
    assert used.review_next_at is None
    assert [m.to for m in mail.outbox] == [[glass.lead.email]]
    assert sweep.sweep_overdue_reviews() == 0


def test_the_sweep_is_idempotent(glass, used):
    overdue(used)

    assert sweep_break_glass_reviews.delay().get() == 1
    assert sweep_break_glass_reviews.delay().get() == 0

    used.refresh_from_db()
    assert used.review_step == 1
    assert used.decision.events.filter(kind=EventKind.BREAK_GLASS_ESCALATED).count() == 1


def test_a_review_not_yet_due_does_not_escalate(glass, used):
    assert sweep.sweep_overdue_reviews() == 0
    used.refresh_from_db()
    assert used.review_step == 0


def test_a_reviewed_use_never_escalates(glass, used):
    services.break_glass_review(used=used, actor=glass.signers[1], verdict="confirmed", rationale="Fine.")
    BreakGlass.objects.filter(pk=used.pk).update(review_due_at=timezone.now() - timedelta(hours=1))

    assert sweep.sweep_overdue_reviews() == 0


def test_the_beat_runs_the_review_sweep(settings):
    entries = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "decisions.tasks.sweep_break_glass_reviews" in entries


def test_the_review_deadline_comes_from_the_policy(make_glass):
    glass = make_glass(review_hours=4)

    used = services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)

    assert used.review_due_at - used.at == timedelta(hours=4)
