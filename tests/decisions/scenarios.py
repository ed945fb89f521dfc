"""Scenario helpers shared by the decisions tests: decisions put in a state through the services,
rows written straight to the tables (for figures computed over history), and the decision log
edited behind the services' back."""

from django.contrib.auth import get_user_model
from django.db import connection

from decisions.lifecycle import signing
from decisions.models import (
    DecisionEvent,
    DecisionRequest,
    LedgerPending,
    Outcome,
    OutcomeKind,
    ReasonCode,
    SignOff,
    Verdict,
)
from governance.models import Certification
from tests.decisions.factories import make_signoff, submit
from tests.governance.factories import ApprovalPolicyFactory, make_staffed_action_type
from tests.helpers import triggers_off

User = get_user_model()

NARROWER = {"target": {"host": "fin-042.corp.example", "scope": "block outbound only"}}


# --- through the services -------------------------------------------------------------------


def pending(*, signers=1, required_approvals=1, **action_kwargs):
    """A pending decision needing ``required_approvals`` and the ``signers`` people who may sign it."""
    action_type, _role, people = make_staffed_action_type(signers=signers, **action_kwargs)
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=required_approvals)
    return submit(action_type), people


def approve(decision, user, **kwargs):
    """Approve ``decision`` as ``user`` through the sign-off service (``kwargs`` go to the service)."""
    return signing.decision_sign_off(
        decision=decision,
        actor=user,
        verdict="approve",
        reason_code="evidence_sufficient",
        rationale="Beaconing confirmed in EDR.",
        **kwargs,
    )


def reject(decision, user):
    """Reject ``decision`` as ``user`` (a known scanner: a false positive) through the sign-off service."""
    return signing.decision_sign_off(
        decision=decision, actor=user, verdict="reject", reason_code="false_positive", rationale="Known scanner."
    )


def override(decision, user, action=None):
    """Override ``decision`` as ``user`` with a narrower action (``NARROWER`` unless ``action`` is given)."""
    return signing.decision_sign_off(
        decision=decision,
        actor=user,
        verdict="override",
        reason_code="scope_too_broad",
        rationale="Block outbound traffic only; finance needs the laptop.",
        override_action=action or NARROWER,
    )


def approve_by_pk(decision_pk, user_pk):
    """``approve`` with both rows loaded by primary key, as a thread with its own connection must."""
    return approve(DecisionRequest.objects.get(pk=decision_pk), User.objects.get(pk=user_pk))


def reject_by_pk(decision_pk, user_pk):
    """``reject`` with both rows loaded by primary key, as a thread with its own connection must."""
    return reject(DecisionRequest.objects.get(pk=decision_pk), User.objects.get(pk=user_pk))


def approved_decision():
    """A decision approved by its only signer, with a full log: received, routed, granted, signed, decided, revoked."""
    decision, (alice,) = pending()
    approve(decision, alice)
    decision.refresh_from_db()
    return decision


# --- rows written straight to the tables ----------------------------------------------------


def signoff_row(decision, signer, role, verdict=Verdict.APPROVE, reason=ReasonCode.EVIDENCE_SUFFICIENT, *, after=None):
    """A live sign-off row (no service rules), dated ``after`` minutes after submission if given."""
    return make_signoff(decision, signer, role, verdict, reason, after_minutes=after)


def outcome_row(decision, kind=OutcomeKind.TRUE_POSITIVE, *, reverted=False, by=None):
    """An outcome row (no service rules), reported by ``by`` or else by the integration's account."""
    return Outcome.objects.create(
        decision=decision, kind=kind, reverted=reverted, reported_by=by or decision.integration.service_account
    )


# --- behind the services' back --------------------------------------------------------------


class Tampered:
    """Decision events about to be edited or deleted with the append-only trigger off."""

    def __init__(self, events):
        self.events = events

    def update(self, **values):
        with triggers_off():
            return self.events.update(**values)

    def delete(self):
        """A plain SQL DELETE, as an attacker would send it (the ORM would refuse: the log's
        leaves and queue protect their events)."""
        ids = list(self.events.values_list("pk", flat=True))
        marks = ", ".join(["%s"] * len(ids))
        with triggers_off(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {LedgerPending._meta.db_table} WHERE event_id IN ({marks})", ids)  # noqa: S608
            cursor.execute(f"DELETE FROM {DecisionEvent._meta.db_table} WHERE id IN ({marks})", ids)  # noqa: S608
            return cursor.rowcount


def tamper(**lookup) -> Tampered:
    """``tamper(decision=d, seq=2).update(...)`` / ``.delete()``: edit the log behind the
    services' back, as an attacker with database access would."""
    return Tampered(DecisionEvent.objects.filter(**lookup))


# --- figures computed here, independently ---------------------------------------------------


def certification_valid(s: SignOff) -> bool:
    """Whether ``s`` was signed on its signer's certification, valid then, for its role or action type."""
    c = Certification.objects.filter(pk=s.certification_id_at_signing).first()
    return bool(
        c
        and c.user_id == s.signer_id
        and c.is_valid_at(s.created_at)
        and (c.role_id == s.signed_as_id or c.action_type_id == s.decision.action_type_id)
    )


def without_computed_at(figures: dict) -> dict:
    """``figures`` without the time they were computed at, so two computations compare equal."""
    return {k: v for k, v in figures.items() if k != "computed_at"}
