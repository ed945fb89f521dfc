"""Rows and submissions for the decisions app: integrations, decisions submitted through
intake, and decisions and sign-offs written as they stand after the fact."""

import itertools
from datetime import timedelta
from decimal import Decimal

from django.apps import apps as django_apps
from django.contrib.auth.models import Group

from decisions import integrations
from decisions.lifecycle import intake
from decisions.models import DecisionRequest, DecisionStatus, SignOff, Verdict
from governance import models as m
from governance import rbac
from tests.helpers import force_update

_integration_numbers = itertools.count(1)


def make_integration(*action_types, name=None):
    """An integration (with its service account) allowed to submit ``action_types``."""
    if not Group.objects.filter(name=rbac.INTEGRATION).exists():
        rbac.ensure_groups(django_apps)  # a transactional test flushed the migration's rows
    return integrations.integration_create(
        actor=None,
        name=name or f"Integration {next(_integration_numbers)}",
        team_contact="soc-automation@example.test",
        allowed_action_types=list(action_types),
    )


def decision_data(action_type, **fields):
    """The model fields of a plausible submission, ``fields`` applied on top."""
    return {
        "action_type": action_type,
        "title": "Isolate laptop FIN-042",
        "recommendation": "Isolate the host: beaconing to a known C2 domain.",
        "target": {"host": "fin-042.corp.example"},
        "ai_confidence": Decimal("0.910"),
        "blast_radius": m.Level.MEDIUM,
        "severity": m.Level.HIGH,
        "model_name": "triage-agent",
        "model_version": "2026.11",
        "evidence": {"alerts": ["EDR-1"]},
        **fields,
    }


def submit(action_type, *, integration=None, actor=None, now=None, idempotency_key="", **fields):
    """Submit a decision through ``decision_submit`` (and so route it); returns the decision."""
    integration = integration or make_integration(action_type)
    data = decision_data(action_type, **fields)
    decision, _created = intake.decision_submit(
        integration=integration,
        actor=actor or integration.service_account,
        data=data,
        request_fingerprint=intake.fingerprint({k: str(v) for k, v in data.items()}),
        idempotency_key=idempotency_key,
        now=now,
    )
    return decision


_past_titles = itertools.count(1)


def make_past_decision(
    integration, action_type, *, created, status="approved", minutes=10.0, model=("triage-agent", "2026.11"), **fields
):
    """A decision row as it stands after the fact (no routing): submitted at ``created``,
    decided ``minutes`` later unless pending. For figures computed over history."""
    decision = DecisionRequest.objects.create(
        integration=integration,
        submitted_by=integration.service_account,
        request_fingerprint="f",
        action_type=action_type,
        title=f"Decision {next(_past_titles)}",
        recommendation="r",
        ai_confidence=Decimal("0.8"),
        blast_radius=m.Level.MEDIUM,
        severity=m.Level.HIGH,
        model_name=model[0],
        model_version=model[1],
        status=status,
        deadline=created + timedelta(hours=1),
        decided_at=None if status == DecisionStatus.PENDING else created + timedelta(minutes=minutes),
        **fields,
    )
    force_update(DecisionRequest.objects.filter(pk=decision.pk), created_at=created)  # auto_now_add: set the past
    decision.created_at = created
    return decision


def make_signoff(decision, signer, role, verdict="approve", reason="evidence_sufficient", *, after_minutes=None):
    """A live sign-off row on ``decision`` (no service rules), ``after_minutes`` after submission if given."""
    signoff = SignOff.objects.create(
        decision=decision,
        signer=signer,
        signed_as=role,
        verdict=verdict,
        reason_code=reason,
        rationale="because",
        override_action={"scope": "outbound only"} if verdict == Verdict.OVERRIDE else None,
        step=0,
        payload_version=1,
        certification_id_at_signing=1,
    )
    if after_minutes is not None:
        force_update(
            SignOff.objects.filter(pk=signoff.pk), created_at=decision.created_at + timedelta(minutes=after_minutes)
        )
    return signoff
