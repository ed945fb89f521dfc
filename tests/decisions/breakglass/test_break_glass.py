"""Breaking glass: who may, when the policy allows it, what it records and tells, and that the
webhook says so."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from decisions.breakglass import notices, services
from decisions.errors import CertificationExpired, DecisionClosed, InvalidInput, SegregationOfDuties
from decisions.ledger.state import check_decisions
from decisions.lifecycle import signing
from decisions.models import BreakGlass, DecisionStatus, EventKind, OutboxMessage
from decisions.outbound import webhooks
from decisions.outbox import messages
from governance.models import Certification

pytestmark = pytest.mark.django_db

APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "EDR confirms it."}
REASON = "Ransomware spreading from wks-042; the second approver is unreachable at 03:00."


def kinds(decision):
    return list(decision.events.order_by("seq").values_list("kind", flat=True))


def test_a_certified_person_executes_a_pending_decision_before_its_quorum(glass):
    first, second, _third = glass.signers
    signing.decision_sign_off(decision=glass.decision, actor=first, **APPROVE)

    used = services.decision_break_glass(decision=glass.decision, actor=second, reason=REASON)

    decision = used.decision
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.APPROVED
    assert decision.final_action["target"] == decision.target
    assert used.reason == REASON
    assert used.role == glass.staffed.role
    assert used.review_due_at == used.at + timedelta(hours=24)
    assert used.skipped_user_ids == [glass.signers[2].pk]  # the one who had approved was not skipped
    closing = decision.events.get(kind=EventKind.DECIDED)
    assert closing.data["break_glass"] == str(used.public_id)
    assert kinds(decision)[-3:] == [EventKind.BREAK_GLASS, EventKind.DECIDED, EventKind.REVOKED]
    assert list(check_decisions([decision.pk])) == []  # the rows still agree with the log


def test_break_glass_is_refused_where_the_policy_forbids_it(make_glass):
    glass = make_glass(allows=False)

    with pytest.raises(services.BreakGlassNotAllowed, match="does not allow break-glass"):
        services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)

    glass.decision.refresh_from_db()
    assert glass.decision.status == DecisionStatus.PENDING
    assert not BreakGlass.objects.exists()


def test_the_policy_is_read_as_frozen_at_routing(make_glass):
    glass = make_glass(allows=False)
    glass.staffed.policy.allows_break_glass = True
    glass.staffed.policy.save()  # allowed later: the decision routed before still may not

    with pytest.raises(services.BreakGlassNotAllowed):
        services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)


def test_break_glass_is_refused_when_the_certification_lapsed(glass):
    person = glass.signers[0]
    Certification.objects.filter(user=person).update(valid_until=timezone.now() - timedelta(minutes=1))

    with pytest.raises(CertificationExpired, match="certification for the owning role"):
        services.decision_break_glass(decision=glass.decision, actor=person, reason=REASON)


def test_a_revoked_certification_cannot_break_glass(glass):
    person = glass.signers[0]
    Certification.objects.filter(user=person).update(revoked_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(CertificationExpired):
        services.decision_break_glass(decision=glass.decision, actor=person, reason=REASON)


def test_a_certification_for_another_role_is_not_enough(glass):
    with pytest.raises(CertificationExpired):
        services.decision_break_glass(decision=glass.decision, actor=glass.step_signer, reason=REASON)


def test_a_reason_is_mandatory(glass):
    with pytest.raises(InvalidInput, match="Say why"):
        services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason="   ")


def test_the_submitter_cannot_break_glass(glass):
    glass.decision.submitted_by = glass.signers[0]
    glass.decision.save(update_fields=["submitted_by"])

    with pytest.raises(SegregationOfDuties, match="You submitted this decision"):
        services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)


def test_an_integration_never_breaks_glass(glass):
    account = glass.caller.integration.service_account

    with pytest.raises(SegregationOfDuties, match="Integration accounts never break glass"):
        services.decision_break_glass(decision=glass.decision, actor=account, reason=REASON)


def test_a_closed_decision_cannot_be_broken_open(glass):
    services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)

    with pytest.raises(DecisionClosed):
        services.decision_break_glass(decision=glass.decision, actor=glass.signers[1], reason=REASON)


def test_a_person_with_an_unreviewed_break_glass_cannot_break_glass_again(glass, make_decision):
    person = glass.signers[0]
    services.decision_break_glass(decision=glass.decision, actor=person, reason=REASON)
    second = make_decision(glass.caller.integration, glass.staffed.action_type)

    with pytest.raises(services.BreakGlassUnreviewed, match="still waits for its review"):
        services.decision_break_glass(decision=second, actor=person, reason=REASON)
    second.refresh_from_db()
    assert second.status == DecisionStatus.PENDING


def test_once_reviewed_the_person_may_break_glass_again(glass, make_decision):
    person, reviewer = glass.signers[0], glass.signers[1]
    used = services.decision_break_glass(decision=glass.decision, actor=person, reason=REASON)
    services.break_glass_review(used=used, actor=reviewer, verdict="confirmed", rationale="Spread was real.")
    second = make_decision(glass.caller.integration, glass.staffed.action_type)

    again = services.decision_break_glass(decision=second, actor=person, reason=REASON)

    assert again.decision.status == DecisionStatus.APPROVED


def test_the_database_refuses_a_second_unreviewed_use_whatever_the_code(glass, make_decision):
    used = services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    second = make_decision(glass.caller.integration, glass.staffed.action_type)

    with pytest.raises(IntegrityError), transaction.atomic():
        BreakGlass.objects.create(
            decision=second, user=used.user, role=used.role, certification_id_at_use=1, reason="x",
            at=used.at, review_due_at=used.review_due_at,
        )  # fmt: skip


def test_the_skipped_approvers_and_the_leads_are_told_at_once(glass, django_capture_on_commit_callbacks):
    first = glass.signers[0]
    with django_capture_on_commit_callbacks(execute=True):
        used = services.decision_break_glass(decision=glass.decision, actor=first, reason=REASON)

    (sent,) = [m for m in mail.outbox if m.subject.startswith("Break-glass")]
    assert sorted(sent.to) == sorted([glass.signers[1].email, glass.signers[2].email, glass.lead.email])
    assert REASON in sent.body
    assert first.get_full_name() in sent.body
    notified = used.decision.events.get(kind=EventKind.BREAK_GLASS_NOTIFIED)
    assert notified.data["notice"] == "used"
    assert OutboxMessage.objects.filter(task_name__endswith="notify_break_glass", done_at__isnull=False).count() == 1


def test_a_rolled_back_break_glass_tells_nobody(glass, django_capture_on_commit_callbacks):
    def break_then_fail():
        with transaction.atomic():
            services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
            raise RuntimeError("abort")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        break_then_fail()

    assert callbacks == []
    assert mail.outbox == []
    assert not BreakGlass.objects.exists()
    assert not OutboxMessage.objects.filter(task_name__endswith="notify_break_glass").exists()


def test_a_second_delivery_of_the_notice_sends_nothing_more(glass, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        used = services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    row = OutboxMessage.objects.get(task_name__endswith="notify_break_glass")
    before = len(mail.outbox)

    assert notices.notify_once(used.pk, messages.BREAK_GLASS_USED, 0, outbox_id=row.pk)
    assert len(mail.outbox) == before


def test_the_verdict_webhook_says_break_glass(glass):
    used = services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    used.decision.refresh_from_db()

    payload = webhooks.verdict_payload(used.decision)

    assert payload["type"] == "decision.approved"
    assert payload["data"]["break_glass"] == {
        "id": str(used.public_id),
        "by": glass.signers[0].get_username(),
        "reason": REASON,
        "at": used.at.isoformat(),
        "review_due_at": used.review_due_at.isoformat(),
    }


def test_a_verdict_by_its_quorum_says_no_break_glass(glass):
    for person in glass.signers[:2]:
        signing.decision_sign_off(decision=glass.decision, actor=person, **APPROVE)
    glass.decision.refresh_from_db()

    assert webhooks.verdict_payload(glass.decision)["data"]["break_glass"] is None


def test_a_standing_override_is_what_break_glass_executes(glass):
    signing.decision_sign_off(
        decision=glass.decision, actor=glass.signers[0], verdict="override", reason_code="scope_too_broad",
        rationale="Outbound only.", override_action={"target": {"host": "wks-042", "scope": "outbound"}},
    )  # fmt: skip

    used = services.decision_break_glass(decision=glass.decision, actor=glass.signers[1], reason=REASON)

    used.decision.refresh_from_db()
    assert used.decision.status == DecisionStatus.OVERRIDDEN
    assert used.decision.final_action["target"] == {"host": "wks-042", "scope": "outbound"}
