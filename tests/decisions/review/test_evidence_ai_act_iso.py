"""The evidence pack's EU AI Act and ISO/IEC 42001 controls: each one's rule on seeded history.
Every test starts from a clean history that meets them all, adds the one thing the rule looks
for, and checks the control's status, its finding and its figures against counts made here."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from decisions import integrations
from decisions.ledger.sequencer import sequence_pending
from decisions.ledger.verification import verify_ledger
from decisions.lifecycle import signing
from decisions.models import (
    DecisionRequest,
    DecisionStatus,
    Integration,
    LedgerPending,
    LedgerVerification,
    ReviewReport,
    ReviewSchedule,
    SignOff,
    VerificationMode,
)
from decisions.review import evidence
from decisions.review.cycle import freeze_report, last_complete_period, review_sign_off
from decisions.review.figures import Period
from governance import rbac
from governance.audit import acting_as
from governance.models import MIN_RETENTION_MONTHS, ActionType, Certification
from tests.decisions.factories import make_integration, make_past_decision, submit
from tests.decisions.scenarios import certification_valid, tamper
from tests.governance.factories import (
    ActionTypeFactory,
    ApprovalPolicyFactory,
    DecisionRoleFactory,
    OwnershipAssignmentFactory,
    make_staffed_action_type,
    make_user_in_group,
)
from tests.helpers import force_update

pytestmark = pytest.mark.django_db

NEW_CONTROLS = {
    "eu-ai-act-art-14-4",
    "eu-ai-act-art-26-2",
    "eu-ai-act-art-26-5",
    "eu-ai-act-art-26-6",
    "iso-42001-a-3-2",
    "iso-42001-a-4-6",
    "iso-42001-a-6-2-6",
    "iso-42001-a-6-2-8",
    "iso-42001-a-9",
}
REJECT = {"verdict": "reject", "reason_code": "false_positive", "rationale": "A known vulnerability scanner."}
APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "Beaconing confirmed in EDR."}


def pack() -> dict:
    return evidence.evidence_pack(Period.last_days(30))


def control(p: dict, key: str) -> dict:
    return next(c for c in p["controls"] if c["id"] == key)


def figures(p: dict, key: str) -> dict:
    return {f["key"]: f["value"] for f in control(p, key)["figures"]}


def statuses(p: dict) -> dict[str, str]:
    return {c["id"]: c["status"] for c in p["controls"] if c["id"] in NEW_CONTROLS}


def attention_only(p: dict, *keys: str) -> None:
    """The controls ``keys`` need attention; every other new control is met."""
    expected = {key: evidence.ATTENTION if key in keys else evidence.MET for key in NEW_CONTROLS}
    assert statuses(p) == expected, {k: control(p, k)["findings"] for k in NEW_CONTROLS}


@pytest.fixture
def clean():
    """A history that meets every control: a configured owner on call and certified, a decision
    rejected with a rationale, the week's review signed off, the log verified in full."""
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD)
    with acting_as(lead):
        action_type, role, (alice,) = make_staffed_action_type()
        ApprovalPolicyFactory(action_types=[action_type], required_approvals=1, max_blast_radius=2)
        ReviewSchedule.objects.update(enabled=True)
        integration = integrations.integration_create(
            actor=lead, name="SOAR", team_contact="soc@example.test", allowed_action_types=[action_type]
        )
    decision = submit(action_type, integration=integration)
    signing.decision_sign_off(decision=decision, actor=alice, **REJECT)
    schedule = ReviewSchedule.objects.get()
    report = freeze_report(schedule=schedule, period=last_complete_period(schedule, now=timezone.now()))
    review_sign_off(report=report, actor=lead, notes="Quiet week.")
    verify_ledger(full=True)
    return {"action_type": action_type, "role": role, "alice": alice, "integration": integration, "lead": lead}


def test_a_clean_history_meets_every_eu_ai_act_and_iso_control(clean):
    p = pack()

    attention_only(p)
    assert {control(p, key)["framework"] for key in NEW_CONTROLS} == {"EU AI Act", "ISO/IEC 42001:2023 Annex A"}


# --- EU AI Act Art. 14(4) --------------------------------------------------------------------------


def test_art_14_4_needs_the_model_version_of_every_decision(clean):
    submit(clean["action_type"], integration=clean["integration"], model_version="")

    p = pack()

    attention_only(p, "eu-ai-act-art-14-4")
    assert control(p, "eu-ai-act-art-14-4")["findings"] == [
        "1 decision(s) do not name the model version that recommended them."
    ]
    assert (
        figures(p, "eu-ai-act-art-14-4")["without_model_version"]
        == DecisionRequest.objects.filter(model_version="").count()
    )


def test_art_14_4_needs_a_written_rationale_on_every_verdict(clean):
    decision = submit(clean["action_type"], integration=clean["integration"])
    signed = signing.decision_sign_off(decision=decision, actor=clean["alice"], **APPROVE)
    # what the rule exists to catch: a blank rationale written behind the service's back
    force_update(SignOff.objects.filter(pk=signed.pk), rationale="   ")

    art = figures(pack(), "eu-ai-act-art-14-4")
    live = SignOff.objects.filter(voided_at__isnull=True)

    assert art["live_signoffs"] == live.count() == 2
    assert art["live_with_rationale"] == sum(1 for s in live if s.rationale.strip()) == 1
    assert "1 verdict(s) without a written rationale." in control(pack(), "eu-ai-act-art-14-4")["findings"]


def test_art_14_4_counts_overrides_rejections_and_quick_approvals_for_automation_bias(clean):
    decision = submit(clean["action_type"], integration=clean["integration"])
    signing.decision_sign_off(decision=decision, actor=clean["alice"], **APPROVE)

    art = figures(pack(), "eu-ai-act-art-14-4")

    assert (art["rejections"], art["overrides"], art["quick_approvals"]) == (1, 0, 1)
    assert art["push_back_share"] == 0.5


# --- EU AI Act Art. 26(2) and ISO A.4 ----------------------------------------------------------------


def test_art_26_2_counts_the_share_of_signoffs_on_a_valid_certification(clean):
    decision = submit(clean["action_type"], integration=clean["integration"])
    signed = signing.decision_sign_off(decision=decision, actor=clean["alice"], **APPROVE)
    # (a plain update: the configuration triggers must see it, as they see any change in the admin)
    Certification.objects.filter(user=clean["alice"]).update(revoked_at=signed.created_at - timedelta(seconds=1))

    p = pack()

    signoffs = list(SignOff.objects.select_related("decision"))
    valid = sum(1 for s in signoffs if certification_valid(s))
    assert figures(p, "eu-ai-act-art-26-2")["certified_share"] == round(valid / len(signoffs), 4) == 0.0
    # Alice's certification is revoked now too: she is on call without one.
    assert figures(p, "eu-ai-act-art-26-2")["uncertified_on_call"] == 1
    attention_only(p, "eu-ai-act-art-26-2", "iso-42001-a-4-6")
    assert "2 sign-off(s) without a valid certification." in control(p, "eu-ai-act-art-26-2")["findings"]
    assert "1 on-call member(s) without a valid certification now." in control(p, "iso-42001-a-4-6")["findings"]


def test_art_26_2_and_a_4_flag_someone_on_call_whose_certification_lapsed_since(clean):
    signed_at = SignOff.objects.get().created_at
    Certification.objects.filter(user=clean["alice"]).update(valid_until=signed_at + timedelta(microseconds=1))

    p = pack()

    # Her sign-off was given while the certification was valid: only the on-call gap remains.
    assert figures(p, "eu-ai-act-art-26-2")["certified_share"] == 1.0
    attention_only(p, "eu-ai-act-art-26-2", "iso-42001-a-4-6")


# --- EU AI Act Art. 26(5) and ISO A.6.2.6 ------------------------------------------------------------


@pytest.mark.parametrize(("late", "stalled"), [(timedelta(minutes=9), 0), (timedelta(minutes=11), 1)])
def test_a_pending_decision_long_past_its_deadline_means_escalation_stalled(clean, late, stalled):
    decision = submit(clean["action_type"], integration=clean["integration"])
    force_update(DecisionRequest.objects.filter(pk=decision.pk), deadline=timezone.now() - late)
    sequence_pending()  # as beat would have: only the deadline is late
    verify_ledger(full=True)

    p = pack()

    assert figures(p, "eu-ai-act-art-26-5")["stalled"] == stalled
    assert figures(p, "iso-42001-a-6-2-6")["pending"] == 1
    if stalled:
        attention_only(p, "eu-ai-act-art-26-5", "iso-42001-a-6-2-6")
        assert control(p, "eu-ai-act-art-26-5")["findings"] == [
            "1 pending decision(s) more than 10 minutes past their deadline now."
        ]
    else:
        attention_only(p)


def test_art_26_5_needs_each_frozen_review_signed_off_in_time(clean):
    now = timezone.now()
    freeze_report(schedule=None, period=Period.last_days(7, now=now - timedelta(days=14)), now=now - timedelta(days=8))

    p = pack()

    assert (
        figures(p, "eu-ai-act-art-26-5")["reviews_overdue"]
        == 1
        == ReviewReport.objects.filter(signed_off_at__isnull=True).count()
    )
    assert "1 frozen review(s) not signed off in time." in control(p, "eu-ai-act-art-26-5")["findings"]


def test_art_26_5_shows_suspended_integrations(clean):
    make_integration(clean["action_type"])
    Integration.objects.filter(name="SOAR").update(is_active=False)

    art = figures(pack(), "eu-ai-act-art-26-5")

    assert (art["integrations_active"], art["integrations_suspended"]) == (
        Integration.objects.filter(is_active=True).count(),
        1,
    )


def test_a_6_2_6_flags_events_waiting_too_long_to_enter_the_log(clean):
    submit(clean["action_type"], integration=clean["integration"], now=timezone.now() - timedelta(minutes=20))

    p = pack()

    waiting = LedgerPending.objects.filter(event__at__lt=timezone.now() - timedelta(minutes=10)).count()
    assert figures(p, "iso-42001-a-6-2-6")["log_waiting_stale"] == waiting > 0
    assert "iso-42001-a-6-2-6" in {k for k, v in statuses(p).items() if v == evidence.ATTENTION}
    assert "iso-42001-a-6-2-8" in {k for k, v in statuses(p).items() if v == evidence.ATTENTION}


# --- EU AI Act Art. 26(6) ----------------------------------------------------------------------------


def test_art_26_6_shows_the_oldest_decision_against_the_retention_setting(clean):
    ActionType.objects.filter(pk=clean["action_type"].pk).update(retention_months=12)
    created = timezone.now() - timedelta(days=200)
    make_past_decision(clean["integration"], clean["action_type"], created=created)

    art = figures(pack(), "eu-ai-act-art-26-6")

    assert art["oldest_decision_at"] == created.astimezone(UTC).isoformat(timespec="microseconds")
    assert art["history_days"] == 200
    assert (art["retention_minimum_months"], art["retention_longest_months"]) == (MIN_RETENTION_MONTHS, 12)
    assert art["retention_shortest_months"] == min(ActionType.objects.values_list("retention_months", flat=True))


def test_an_action_type_can_never_keep_decisions_less_than_six_months():
    with pytest.raises(IntegrityError), transaction.atomic():
        ActionTypeFactory(retention_months=MIN_RETENTION_MONTHS - 1)


def test_art_26_6_and_the_iso_log_controls_need_an_intact_log(clean):
    tamper(decision=DecisionRequest.objects.get(), seq=2).update(data={"edited": True})

    p = pack()

    assert statuses(p)["eu-ai-act-art-26-6"] == statuses(p)["iso-42001-a-6-2-8"] == evidence.ATTENTION
    assert control(p, "eu-ai-act-art-26-6")["findings"][0].startswith("The decision log is broken: decision ")


# --- ISO A.3.2 ---------------------------------------------------------------------------------------


def test_a_3_2_needs_an_owner_for_every_action_type(clean):
    with acting_as(clean["lead"]):
        ActionTypeFactory(name="Disable account")

    p = pack()

    attention_only(p, "iso-42001-a-3-2")
    assert figures(p, "iso-42001-a-3-2")["unowned_action_types"] == 1


def test_a_3_2_and_a_4_need_someone_on_call_for_every_owning_role(clean):
    with acting_as(clean["lead"]):
        OwnershipAssignmentFactory(action_type=ActionTypeFactory(), owner_role=DecisionRoleFactory())  # no roster

    p = pack()

    attention_only(p, "iso-42001-a-3-2", "iso-42001-a-4-6")
    assert figures(p, "iso-42001-a-4-6")["uncovered_roles"] == 1


# --- ISO A.6.2.8 -------------------------------------------------------------------------------------


def test_a_6_2_8_needs_a_full_verification_within_two_days():
    action_type, _role, (alice,) = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])
    signing.decision_sign_off(decision=submit(action_type), actor=alice, **REJECT)
    LedgerVerification.objects.create(
        mode=VerificationMode.FULL, started_at=timezone.now() - timedelta(days=3), duration_ms=1, intact=True
    )

    stale = control(pack(), "iso-42001-a-6-2-8")
    verify_ledger(full=True)
    fresh = control(pack(), "iso-42001-a-6-2-8")

    assert "No full verification found the log intact in the last 2 days." in stale["findings"]
    assert not any(f.startswith("No full verification") for f in fresh["findings"])


def test_a_6_2_8_needs_attention_when_the_log_was_never_verified_in_full():
    action_type, _role, (alice,) = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])
    signing.decision_sign_off(decision=submit(action_type), actor=alice, **REJECT)

    p = pack()

    assert statuses(p)["iso-42001-a-6-2-8"] == evidence.ATTENTION
    assert figures(p, "iso-42001-a-6-2-8")["full_verification_overdue"] is True
    assert any(
        f.startswith("No full verification found the log intact") for f in control(p, "iso-42001-a-6-2-8")["findings"]
    )


# --- ISO A.9 -----------------------------------------------------------------------------------------


def test_a_9_flags_an_auto_approval_outside_what_is_allowed(clean):
    decision = submit(clean["action_type"], integration=clean["integration"])
    force_update(
        DecisionRequest.objects.filter(pk=decision.pk), status=DecisionStatus.AUTO_APPROVED, decided_at=timezone.now()
    )

    p = pack()

    assert statuses(p)["iso-42001-a-9"] == statuses(p)["eu-ai-act-art-14-4"] == evidence.ATTENTION
    assert figures(p, "iso-42001-a-9")["auto_violations"] == 1
    assert "1 production change(s) approved without a human." in control(p, "iso-42001-a-9")["findings"]
