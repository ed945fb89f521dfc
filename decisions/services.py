"""Writes to decisions. Each service runs in one transaction, takes the actor, locks the
decision row (``select_for_update``) before changing it, and logs every change as an event."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from decisions import routing, tasks
from decisions.errors import (
    AlreadySigned,
    CertificationExpired,
    DecisionClosed,
    IdempotencyConflict,
    InvalidInput,
    NotAllowed,
    NotEligible,
    OutcomeAlreadyReported,
    PendingCapReached,
    SegregationOfDuties,
)
from decisions.eventlog import append_event, flush_pending
from decisions.models import (
    REASONS_BY_VERDICT,
    DecisionRequest,
    DecisionRequestUserObjectPermission,
    DecisionStatus,
    EventKind,
    Integration,
    IntegrationAPIKey,
    Outcome,
    PersonalToken,
    SignOff,
    Verdict,
)
from governance import rbac
from governance.audit import acting_as
from governance.selectors import valid_certifications

User = get_user_model()

# Fields an integration may correct on a pending decision; routing attributes are frozen.
MUTABLE_FIELDS = ("title", "recommendation", "target", "evidence", "proposed_chain", "incident_ref")


def fingerprint(payload: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a submission: same body, same fingerprint."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def lock_decision(decision_id: int, *, skip_locked: bool = False) -> DecisionRequest | None:
    """Row-lock a decision (and load what the services read). With ``skip_locked``, None when
    another transaction holds it."""
    qs = DecisionRequest.objects.select_for_update(of=("self",), skip_locked=skip_locked).select_related(
        "action_type", "integration", "submitted_by", "owner_role"
    )
    if skip_locked:
        return qs.filter(pk=decision_id).first()
    return qs.get(pk=decision_id)


def is_integration_account(user) -> bool:
    if getattr(user, "is_integration_account", None) is not None:
        return user.is_integration_account
    return (
        Integration.objects.filter(service_account=user).exists() or user.groups.filter(name=rbac.INTEGRATION).exists()
    )


def _find_existing(integration: Integration, idempotency_key: str) -> DecisionRequest | None:
    if not idempotency_key:
        return None
    return DecisionRequest.objects.filter(integration=integration, idempotency_key=idempotency_key).first()


def _replay(existing: DecisionRequest, request_fingerprint: str) -> DecisionRequest:
    if existing.request_fingerprint != request_fingerprint:
        raise IdempotencyConflict(
            "This Idempotency-Key was already used with a different request body. Use a new key for a new "
            "decision, or resend the original body.",
            field="Idempotency-Key",
        )
    return existing


_LOCK_INTEGRATION_SQL = """
    SELECT EXISTS (
        SELECT 1 FROM decisions_integration_allowed_action_types
        WHERE integration_id = i.id AND actiontype_id = %s
    )
    FROM decisions_integration i WHERE i.id = %s FOR UPDATE OF i
"""
_COUNT_PENDING_SQL = "SELECT count(*) FROM decisions_decisionrequest WHERE integration_id = %s AND status = %s"


def _lock_intake_limits(integration: Integration, action_type) -> tuple[bool, int]:
    """(may submit this action type, pending decisions now), under the integration's row lock so
    that concurrent submissions cannot all pass the pending cap.

    Two statements on purpose: under READ COMMITTED a count inside the locking statement would
    use the snapshot from before the wait and miss the decision the previous holder inserted.
    Plain SQL because this runs on every submission and the ORM would spend longer building
    the statements than the database spends running them.
    """
    lock_sql = _LOCK_INTEGRATION_SQL
    if connection.vendor != "postgresql":
        lock_sql = lock_sql.replace("FOR UPDATE OF i", "")  # SQLite: one writer at a time anyway
    with connection.cursor() as cursor:
        cursor.execute(lock_sql, [action_type.pk, integration.pk])
        allowed = bool(cursor.fetchone()[0])
        cursor.execute(_COUNT_PENDING_SQL, [integration.pk, DecisionStatus.PENDING.value])
        pending = cursor.fetchone()[0]
    return allowed, pending


def decision_submit(
    *,
    integration: Integration,
    actor,
    data: dict[str, Any],
    request_fingerprint: str,
    idempotency_key: str = "",
    now: datetime | None = None,
) -> tuple[DecisionRequest, bool]:
    """Record a recommendation and route it. Returns (decision, created).

    A retry with the same Idempotency-Key and body returns the original decision; the same key
    with another body raises IdempotencyConflict. A retry is recognised by the unique
    (integration, idempotency_key) index refusing its insert, also when retries race: the
    loser's transaction rolls back and it returns the winner's row. Side effects: the
    decision, its events, object-permission grants; takes the integration's row lock briefly.
    """
    now = now or timezone.now()
    action_type = data["action_type"]
    decision = DecisionRequest(
        integration=integration,
        submitted_by=actor,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        deadline=now,
        **data,
    )
    # Route first, in memory (the governance snapshot is cached); then one short transaction
    # checks the limits under the integration's row lock and writes the decision, its events
    # and its grants with three statements.
    append_event(
        decision,
        kind=EventKind.RECEIVED,
        at=now,
        actor=actor,
        data={
            "integration": integration.name,
            "action_type": action_type.slug,
            "ai_confidence": str(decision.ai_confidence),
            "blast_radius": decision.blast_radius,
            "severity": decision.severity,
            "model": {"name": decision.model_name, "version": decision.model_version},
            "request_fingerprint": request_fingerprint,
        },
    )
    routing.route(decision, now=now, actor=actor)
    try:
        with transaction.atomic():
            allowed, pending = _lock_intake_limits(integration, action_type)
            if not allowed:
                raise NotAllowed(
                    f"Integration {integration.name} may not submit {action_type.slug} decisions.",
                    field="action_type",
                )
            if pending >= integration.max_pending:
                raise PendingCapReached(
                    f"{integration.name} already has {pending} pending decisions (cap {integration.max_pending}). "
                    "Wait for verdicts or cancel stale requests."
                )
            decision.save(force_insert=True)
            flush_pending(decision)
            routing.flush_pending_grants(decision)
            if decision.status == DecisionStatus.PENDING:
                tasks.schedule_deadline(decision)
    except (IntegrityError, NotAllowed, PendingCapReached):
        # A retry of an earlier submission answers with it, even once the cap is reached. The
        # lookup happens only here, off the common path: new keys cost no extra query.
        existing = _find_existing(integration, idempotency_key)
        if existing is None:
            raise
        return _replay(existing, request_fingerprint), False
    return decision, True


def _grant_roles(decision: DecisionRequest, user_id: int) -> list[tuple[int, int]]:
    """(role id, certification id) pairs under which ``user_id`` was made eligible, newest stage first."""
    return [(e["role_id"], e["certification_id"]) for e in decision.eligible_entries if e["user_id"] == user_id]


def owner_slot_roles(decision: DecisionRequest) -> set[int]:
    """Roles that can fill the owner's place: the owner, and every stage's role so far."""
    return {s["role"]["id"] for s in decision.snapshot.get("stages", []) if s.get("role")}


def cosigner_role_ids(decision: DecisionRequest) -> list[int]:
    return [r["id"] for r in decision.snapshot.get("cosigner_roles", [])]


def quorum_met(
    *,
    approvals: list[tuple[int, int | set[int]]],
    required: int,
    owner_roles: set[int],
    cosigner_roles: list[int],
) -> bool:
    """Met when ``required`` distinct people approved and the approvals can be matched one to
    one onto the slots: the owner's place (any of ``owner_roles``) and each co-signer role.

    ``approvals`` are (user id, role or roles the person could sign as). A person eligible in
    two roles fills whichever slot makes the quorum possible, so signing first as the owner
    never strands a co-signer slot. A co-signer role that is also an owner role is filled by
    the owner's place.
    """
    held: dict[int, set[int]] = {}
    for user, roles in approvals:
        held.setdefault(user, set()).update(roles if isinstance(roles, set) else {roles})
    if len(held) < required:
        return False
    slots = ([owner_roles] if owner_roles else []) + [
        {role} for role in dict.fromkeys(cosigner_roles) if role not in owner_roles
    ]
    return _all_slots_filled(slots, held)


def _all_slots_filled(slots: list[set[int]], held: dict[int, set[int]]) -> bool:
    """Bipartite matching (augmenting paths) of slots to distinct people; sizes here are tiny."""
    taken_by: dict[int, int] = {}  # person -> slot index

    def place(slot: int, seen: set[int]) -> bool:
        for person, roles in held.items():
            if person in seen or not roles & slots[slot]:
                continue
            seen.add(person)
            if person not in taken_by or place(taken_by[person], seen):
                taken_by[person] = slot
                return True
        return False

    return all(place(index, set()) for index in range(len(slots)))


def has_grant(decision: DecisionRequest, user) -> bool:
    return DecisionRequestUserObjectPermission.objects.filter(
        content_object=decision, user=user, permission__codename=routing.CERTIFY
    ).exists()


def check_can_sign(decision: DecisionRequest, actor, *, now: datetime) -> tuple[int, int, list[int]]:
    """Raise unless ``actor`` may sign ``decision`` now. Returns the role to record the sign-off
    under, the certification that allows it, and every role the person may sign as right now.

    Segregation of duties first (integrations, the submitter), then the grant, then a
    certification valid at this instant (expiry is enforced at signing, not only at routing).
    """
    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise NotAllowed("Sign in to sign decisions.")
    if is_integration_account(actor):
        raise SegregationOfDuties("Integration accounts never sign decisions.")
    if decision.submitted_by_id == actor.pk:
        raise SegregationOfDuties("You submitted this decision, so you cannot sign it.")
    if decision.is_terminal:
        raise DecisionClosed(f"This decision is already {decision.get_status_display().lower()}.")
    roles = _grant_roles(decision, actor.pk)
    if not roles or not has_grant(decision, actor):
        raise NotEligible("You are not an eligible signer for this decision (not on call for its roles when routed).")
    taken = {role for _, roles in _live_approvals(decision) for role in roles}
    ordered = sorted(dict.fromkeys(r for r, _ in roles), key=lambda role: role in taken)  # a missing role first
    valid = (
        valid_certifications(at=now)
        .filter(user=actor)
        .filter(Q(role_id__in=ordered) | Q(action_type=decision.action_type))
    )
    valid_roles = {c.role_id: c.pk for c in valid if c.role_id}
    action_cert = next((c.pk for c in valid if c.action_type_id == decision.action_type_id), None)
    usable = [(role, valid_roles.get(role, action_cert)) for role in ordered]
    usable = [(role, cert) for role, cert in usable if cert is not None]
    if not usable:
        raise CertificationExpired("Your certification for this role has expired or was revoked; you cannot sign.")
    role_id, cert_id = usable[0]
    return role_id, cert_id, [role for role, _ in usable]


def _live_approvals(decision: DecisionRequest) -> list[tuple[int, set[int]]]:
    """(signer, roles they could sign as) for every approval that still counts."""
    rows = SignOff.objects.filter(
        decision=decision, voided_at__isnull=True, verdict__in=[Verdict.APPROVE, Verdict.OVERRIDE]
    ).values_list("signer_id", "signed_as_id", "eligible_role_ids")
    return [(signer, {signed_as, *(eligible or [])}) for signer, signed_as, eligible in rows]


def _void_live(decision: DecisionRequest, *, now: datetime, reason: str, except_pk: int | None = None) -> list[int]:
    live = SignOff.objects.filter(decision=decision, voided_at__isnull=True)
    if except_pk is not None:
        live = live.exclude(pk=except_pk)
    voided = list(live.values_list("signer_id", flat=True))
    for signoff in live:
        signoff.voided_at = now
        signoff.void_reason = reason
        signoff.save(update_fields=["voided_at", "void_reason"])
    return voided


@transaction.atomic
def decision_sign_off(
    *,
    decision: DecisionRequest,
    actor,
    verdict: str,
    reason_code: str,
    rationale: str,
    override_action: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> SignOff:
    """One person's verdict. Locks the decision row, so concurrent sign-offs are serialised:
    never two verdicts, never a lost approval.

    - reject: a single eligible reject ends the decision (fail safe);
    - override: replaces the action to execute; approvals of the previous action are void;
    - approve / override count toward the quorum (distinct people, owner and co-signer roles).
    On a verdict every grant is revoked. Side effects: the sign-off, events, maybe the verdict.
    """
    now = now or timezone.now()
    if verdict not in Verdict.values:
        raise InvalidInput(f"Unknown verdict {verdict!r}: use approve, override or reject.", field="verdict")
    if reason_code not in REASONS_BY_VERDICT[verdict]:
        allowed = ", ".join(sorted(REASONS_BY_VERDICT[verdict]))
        raise InvalidInput(
            f"Reason code {reason_code!r} does not fit {verdict}; use one of: {allowed}.", field="reason_code"
        )
    if not rationale or not rationale.strip():
        raise InvalidInput("A rationale is required for every verdict.", field="rationale")
    if verdict == Verdict.OVERRIDE and not override_action:
        raise InvalidInput("An override must carry the changed action.", field="override_action")
    if verdict != Verdict.OVERRIDE and override_action:
        raise InvalidInput("Only an override carries a changed action.", field="override_action")

    decision = lock_decision(decision.pk)
    role_id, certification_id, eligible_roles = check_can_sign(decision, actor, now=now)
    if override_action and override_action.get("action_type", decision.action_type.slug) != decision.action_type.slug:
        raise InvalidInput(
            "An override changes how the action is carried out (its target or parameters), not which action it "
            "is: reject, and have a new decision of the other action type routed to its owner.",
            field="override_action",
        )
    if SignOff.objects.filter(decision=decision, signer=actor, voided_at__isnull=True).exists():
        raise AlreadySigned("You have already signed this decision; one person counts once.")
    signoff = SignOff.objects.create(
        decision=decision,
        signer=actor,
        signed_as_id=role_id,
        eligible_role_ids=eligible_roles,
        verdict=verdict,
        reason_code=reason_code,
        rationale=rationale.strip(),
        override_action=override_action,
        step=decision.current_step,
        payload_version=decision.payload_version,
        certification_id_at_signing=certification_id,
    )
    append_event(
        decision,
        kind=EventKind.SIGNED,
        at=now,
        actor=actor,
        data={
            "signoff": str(signoff.public_id),
            "verdict": verdict,
            "reason_code": reason_code,
            "rationale": signoff.rationale,
            "signed_as_role_id": role_id,
            "override_action": override_action,
            "step": decision.current_step,
        },
    )
    if verdict == Verdict.REJECT:
        routing.close(
            decision, status=DecisionStatus.REJECTED, now=now, actor=actor, final_action=None, data={"by": actor.pk}
        )
    else:
        if verdict == Verdict.OVERRIDE:
            voided = _void_live(decision, now=now, reason="the action was overridden", except_pk=signoff.pk)
            decision.final_action = {**routing.recommended_action(decision), **override_action, "overridden": True}
            if voided:
                append_event(
                    decision,
                    kind=EventKind.APPROVALS_VOIDED,
                    at=now,
                    actor=actor,
                    data={"signers": voided, "reason": "the action was overridden"},
                )
        approvals = _live_approvals(decision)
        if quorum_met(
            approvals=approvals,
            required=decision.required_approvals,
            owner_roles=owner_slot_roles(decision),
            cosigner_roles=cosigner_role_ids(decision),
        ):
            overridden = decision.final_action is not None and decision.final_action.get("overridden")
            routing.close(
                decision,
                status=DecisionStatus.OVERRIDDEN if overridden else DecisionStatus.APPROVED,
                now=now,
                actor=actor,
                final_action=decision.final_action if overridden else routing.recommended_action(decision),
                data={"approvals": len({u for u, _ in approvals})},
            )
    decision.save()
    return signoff


def _require_owner_integration(decision: DecisionRequest, integration: Integration) -> None:
    if decision.integration_id != integration.pk:
        raise NotAllowed("This decision belongs to another integration.")


@transaction.atomic
def decision_cancel(*, decision: DecisionRequest, integration: Integration, actor, reason: str = "") -> DecisionRequest:
    """The submitting integration withdraws a pending decision. Revokes every grant."""
    now = timezone.now()
    decision = lock_decision(decision.pk)
    _require_owner_integration(decision, integration)
    if decision.is_terminal:
        raise DecisionClosed(f"Only a pending decision can be cancelled; this one is {decision.status}.")
    routing.close(
        decision, status=DecisionStatus.CANCELLED, now=now, actor=actor, final_action=None, data={"reason": reason}
    )
    decision.save()
    return decision


@transaction.atomic
def decision_update_payload(
    *, decision: DecisionRequest, integration: Integration, actor, changes: dict[str, Any]
) -> DecisionRequest:
    """The integration corrects a pending decision. Approvals already given are void (they
    approved something else); the change is an event. Routing attributes cannot change."""
    now = timezone.now()
    decision = lock_decision(decision.pk)
    _require_owner_integration(decision, integration)
    if decision.is_terminal:
        raise DecisionClosed(f"Only a pending decision can change; this one is {decision.status}.")
    frozen = sorted(set(changes) - set(MUTABLE_FIELDS))
    if frozen:
        raise InvalidInput(
            f"{', '.join(frozen)} decide routing and cannot change; cancel and submit a new decision.",
            field=frozen[0],
        )
    changed = {k: v for k, v in changes.items() if getattr(decision, k) != v}
    if not changed:
        return decision
    before = {k: getattr(decision, k) for k in changed}
    for key, value in changed.items():
        setattr(decision, key, value)
    decision.payload_version += 1
    append_event(
        decision,
        kind=EventKind.PAYLOAD_CHANGED,
        at=now,
        actor=actor,
        data={
            "fields": sorted(changed),
            "before": before,
            "after": changed,
            "payload_version": decision.payload_version,
        },
    )
    voided = _void_live(decision, now=now, reason="the payload changed after this sign-off")
    if voided:
        append_event(
            decision,
            kind=EventKind.APPROVALS_VOIDED,
            at=now,
            actor=actor,
            data={"signers": voided, "reason": "payload changed", "payload_version": decision.payload_version},
        )
    if decision.final_action and decision.final_action.get("overridden"):
        decision.final_action = None
    decision.save()
    return decision


def _may_report_outcome(decision: DecisionRequest, actor) -> bool:
    if actor.pk == decision.integration.service_account_id:
        return True
    if is_integration_account(actor):
        return False
    involved = SignOff.objects.filter(decision=decision, signer=actor).exists() or any(
        e["user_id"] == actor.pk for e in decision.eligible_entries
    )
    return involved or actor.groups.filter(name=rbac.ANALYST).exists()


@transaction.atomic
def decision_report_outcome(
    *, decision: DecisionRequest, actor, kind: str, reverted: bool = False, notes: str = ""
) -> Outcome:
    """Later feedback (true/false positive, benign; reverted). Once per decision.

    Reported by the integration that submitted the decision, or by an analyst: someone who
    signed it or was asked to, or any member of the Analyst group. Read-only roles never write.
    """
    now = timezone.now()
    decision = lock_decision(decision.pk)
    if not _may_report_outcome(decision, actor):
        raise NotAllowed("Only the submitting integration or an analyst reports outcomes.")
    if decision.status in (DecisionStatus.PENDING,):
        raise DecisionClosed("Report an outcome once the decision has a verdict.")
    if Outcome.objects.filter(decision=decision).exists():
        raise OutcomeAlreadyReported("An outcome was already reported for this decision.")
    outcome = Outcome.objects.create(decision=decision, kind=kind, reverted=reverted, notes=notes, reported_by=actor)
    append_event(
        decision,
        kind=EventKind.OUTCOME_REPORTED,
        at=now,
        actor=actor,
        data={"kind": kind, "reverted": reverted, "notes": notes},
    )
    decision.save()
    return outcome


def _webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@transaction.atomic
def integration_provision(*, actor, integration: Integration) -> Integration:
    """Save a new integration with its own service account (group Integration, no password,
    never staff) and a fresh webhook signing secret."""
    with acting_as(actor):
        account = User.objects.create(
            username=f"integration-{_slug(integration.name)}", first_name=integration.name[:150], is_staff=False
        )
        account.set_unusable_password()
        account.save(update_fields=["password"])
        account.groups.add(Group.objects.get(name=rbac.INTEGRATION))
        integration.service_account = account
        integration.webhook_secret = _webhook_secret()
        integration.full_clean()
        integration.save()
    return integration


@transaction.atomic
def integration_create(
    *,
    actor,
    name: str,
    team_contact: str,
    allowed_action_types: list,
    webhook_url: str = "",
    rate_limit_per_minute: int = 1200,
    max_pending: int = 1000,
) -> Integration:
    """``integration_provision`` plus the action types it may submit."""
    integration = integration_provision(
        actor=actor,
        integration=Integration(
            name=name,
            team_contact=team_contact,
            webhook_url=webhook_url,
            rate_limit_per_minute=rate_limit_per_minute,
            max_pending=max_pending,
        ),
    )
    with acting_as(actor):
        integration.allowed_action_types.set(allowed_action_types)
    return integration


@transaction.atomic
def integration_rotate_secret(*, actor, integration: Integration) -> Integration:
    """A new webhook signing secret; the old one stops verifying at once."""
    with acting_as(actor):
        integration.webhook_secret = _webhook_secret()
        integration.save(update_fields=["webhook_secret"])
    return integration


def _slug(name: str) -> str:
    return slugify(name)[:100] or "unnamed"


def integration_key_create(*, integration: Integration, name: str, expiry_date=None):
    """A new API key. Returns (key row, plain key): the plain key is never stored, show it once."""
    return IntegrationAPIKey.objects.create_key(integration=integration, name=name, expiry_date=expiry_date)


def personal_token_create(*, user, name: str, expires_at):
    """A person's API token, expiring within PERSONAL_TOKEN_MAX_DAYS. Returns (row, plain token)."""
    now = timezone.now()
    if expires_at <= now or expires_at > now + timedelta(days=settings.PERSONAL_TOKEN_MAX_DAYS):
        raise InvalidInput(
            f"A personal token expires within {settings.PERSONAL_TOKEN_MAX_DAYS} days.", field="expires_at"
        )
    return PersonalToken.objects.create_key(user=user, name=name, expiry_date=expires_at)
