"""Writes of the replay room: drafting a policy change and activating it.

A draft is never in force: routing reads ``ApprovalPolicy`` only. Activation is the one step
that changes a policy, through ``governance.services.approval_policy_save`` (every policy rule,
a new version, the policy's audit entry with the reason), and it keeps the replay report.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from decisions.models import DraftStatus, PolicyDraft
from decisions.models.replay import RULE_FIELDS
from decisions.replay.report import replay_report
from decisions.review.figures import Period
from governance import services as governance_services
from governance.audit import acting_as, change_reason
from governance.models import ActionType, ApprovalPolicy, DecisionRole

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ACTIVATE = "decisions.activate_policydraft"


def as_policy(draft: PolicyDraft) -> ApprovalPolicy:
    """An unsaved policy carrying the draft's values (to validate them by the policy rules)."""
    policy = ApprovalPolicy(pk=draft.policy_id)
    for name in RULE_FIELDS:
        setattr(policy, name, getattr(draft, name))
    return policy


def policy_draft_validate(
    *, draft: PolicyDraft, action_types: list[ActionType], cosigner_roles: list[DecisionRole], at: datetime
) -> None:
    """The policy rules (``governance.services.approval_policy_validate``) applied to a draft, so
    that what is replayed is a policy that could be activated."""
    governance_services.approval_policy_validate(
        policy=as_policy(draft), action_types=action_types, cosigner_roles=cosigner_roles, at=at
    )


@transaction.atomic
def policy_draft_save(
    *,
    actor: User,
    draft: PolicyDraft,
    action_types: list[ActionType],
    cosigner_roles: list[DecisionRole],
    at: datetime | None = None,
) -> PolicyDraft:
    """Create or change a draft (never an activated one). Validates it by the policy rules; a new
    draft of an existing policy records the version it starts from. Audited (auditlog) with the actor."""
    at = at or timezone.now()
    if draft.pk is not None:
        locked = PolicyDraft.objects.select_for_update().get(pk=draft.pk)
        if locked.status != DraftStatus.DRAFT:
            raise ValidationError("An activated draft cannot change: start a new draft.")
    policy_draft_validate(draft=draft, action_types=action_types, cosigner_roles=cosigner_roles, at=at)
    if draft.pk is None:
        draft.created_by = actor
        draft.base_version = draft.policy.version if draft.policy is not None else None
    with acting_as(actor):
        draft.full_clean()
        draft.save()
        draft.action_types.set(action_types)
        draft.cosigner_roles.set(cosigner_roles)
    return draft


def policy_draft_initial(policy: ApprovalPolicy) -> dict[str, Any]:
    """A draft's starting values: the policy as it is now."""
    values: dict[str, Any] = {name: getattr(policy, name) for name in RULE_FIELDS}
    values["escalation_chain"] = policy.escalation_chain_id
    values["action_types"] = [a.pk for a in policy.action_types.all()]
    values["cosigner_roles"] = [r.pk for r in policy.cosigner_roles.all()]
    return values


def policy_draft_from(*, actor: User, policy: ApprovalPolicy) -> PolicyDraft:
    """A new draft that starts as ``policy`` is now."""
    draft = PolicyDraft(policy=policy)
    for name in RULE_FIELDS:
        setattr(draft, name, getattr(policy, name))
    return policy_draft_save(
        actor=actor,
        draft=draft,
        action_types=list(policy.action_types.all()),
        cosigner_roles=list(policy.cosigner_roles.all()),
    )


def _check_may_activate(actor: User, draft: PolicyDraft) -> None:
    policy_perm = "governance.change_approvalpolicy" if draft.policy_id else "governance.add_approvalpolicy"
    if not (actor.is_active and actor.has_perm(ACTIVATE) and actor.has_perm(policy_perm)):
        raise PermissionDenied("Activating a draft policy needs the governance lead's permissions.")


@transaction.atomic
def policy_draft_activate(
    *, draft: PolicyDraft, actor: User, reason: str, ticket_ref: str = "", period: Period, now: datetime | None = None
) -> PolicyDraft:
    """Put ``draft`` in force, in one step: replay it over ``period`` (the report is kept on the
    draft), write its values onto its policy (or create the new policy) through
    ``approval_policy_save`` (every policy rule, a new version, an audit entry with ``reason``),
    and mark the draft activated (audited, with the reason).

    Locks the draft row, then the policy row (``approval_policy_save``). Refused (ValidationError)
    without a reason, for a draft already activated, or when its policy changed since the draft
    started (another version is in force: the draft would silently undo it). PermissionDenied
    unless ``actor`` may activate drafts and change policies. Changes no decision.
    """
    _check_may_activate(actor, draft)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"change_reason": ["Give the reason for activating this draft."]})
    now = now or timezone.now()
    draft = PolicyDraft.objects.select_for_update().get(pk=draft.pk)
    if draft.status != DraftStatus.DRAFT:
        raise ValidationError("This draft is already activated.")
    if draft.policy_id is not None:
        current = ApprovalPolicy.objects.select_for_update().get(pk=draft.policy_id)
        if current.version != draft.base_version:
            raise ValidationError(
                f"{current.name} changed since this draft started (version {draft.base_version}, now "
                f"{current.version}): start a new draft from the policy as it is now."
            )
        policy = current
    else:
        policy = ApprovalPolicy()
    report = replay_report(draft, period, now=now)
    for name in RULE_FIELDS:
        setattr(policy, name, getattr(draft, name))
    full_reason = f"Activated draft {draft.public_id}: {reason}"
    governance_services.approval_policy_save(
        actor=actor,
        policy=policy,
        action_types=list(draft.action_types.all()),
        cosigner_roles=list(draft.cosigner_roles.all()),
        reason=full_reason,
        ticket_ref=ticket_ref,
        at=now,
    )
    draft.status = DraftStatus.ACTIVATED
    draft.activated_by = actor
    draft.activated_at = now
    draft.activation_reason = reason
    draft.activation_ticket_ref = ticket_ref
    draft.activated_policy = policy
    draft.activated_version = policy.version
    draft.replay_report = report
    with acting_as(actor), change_reason(full_reason, ticket_ref):
        draft.save()
    return draft
