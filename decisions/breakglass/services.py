"""Breaking glass on a pending decision, and reviewing it afterwards.

Both run under the decision's row lock (the review takes the break-glass row's lock after it),
log every step as a decision event through ``DecisionWrites`` (the hash-chained log) and queue
their notices through the outbox, so a rolled-back call leaves nothing behind.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db import IntegrityError, transaction
from django.utils import timezone

from decisions.errors import (
    CertificationExpired,
    DecisionClosed,
    InvalidInput,
    NotAllowed,
    SegregationOfDuties,
    StepUpRequired,
)
from decisions.lifecycle import stages
from decisions.lifecycle.eligibility import live_approvals, require_person
from decisions.lifecycle.locks import lock_decision
from decisions.lifecycle.writes import DecisionWrites
from decisions.models import BreakGlass, BreakGlassReview, DecisionRequest, EventKind
from decisions.outbox import messages, store
from governance import rbac
from governance.identity.context import UNKNOWN, AuthContext
from governance.identity.stepup import step_up_refusal
from governance.selectors import valid_certifications

LOG_FIELDS = ["event_count", "last_event_hash", "updated_at"]


class BreakGlassNotAllowed(NotAllowed):
    code = "break_glass_not_allowed"


class BreakGlassUnreviewed(NotAllowed):
    code = "break_glass_unreviewed"


class BreakGlassRight(NamedTuple):
    role_id: int
    certification_id: int
    review_hours: int


def _policy_terms(decision: DecisionRequest) -> dict[str, Any]:
    return (decision.snapshot or {}).get("break_glass") or {}


def _certification(actor: Any, role_ids: list[int], *, now: datetime) -> tuple[int, int] | None:
    """(role id, certification id) of a certification of ``actor`` valid now for one of ``role_ids``."""
    found = valid_certifications(at=now).filter(user=actor, role_id__in=role_ids).order_by("-valid_until")
    row = found.values_list("role_id", "pk").first()
    return (row[0], row[1]) if row else None


def check_can_break_glass(decision: DecisionRequest, actor: Any, *, now: datetime) -> BreakGlassRight:
    """Raise unless ``actor`` may break glass on ``decision`` now; else under which right.

    The signing rules first (segregation of duties), then: pending, a policy that allows it
    (frozen at routing), a certification for the owning role valid at this instant, and no
    earlier break-glass of theirs still waiting for its review.
    """
    require_person(actor, decision, doing="break glass")
    if decision.is_terminal:
        raise DecisionClosed(f"This decision is already {decision.get_status_display().lower()}.")
    terms = _policy_terms(decision)
    if not terms.get("allowed"):
        raise BreakGlassNotAllowed(
            "The approval policy of this decision does not allow break-glass: wait for the quorum."
        )
    if decision.owner_role_id is None:
        raise BreakGlassNotAllowed("This decision has no owning role, so nobody is certified to break glass on it.")
    held = _certification(actor, [decision.owner_role_id], now=now)
    if held is None:
        raise CertificationExpired(
            "Break-glass needs a valid certification for the owning role; yours has lapsed or you hold none."
        )
    if BreakGlass.objects.filter(user=actor, reviewed_at__isnull=True).exists():
        raise BreakGlassUnreviewed("Your earlier break-glass still waits for its review: you cannot break glass again.")
    return BreakGlassRight(role_id=held[0], certification_id=held[1], review_hours=int(terms.get("review_hours") or 24))


def _require_step_up(decision: DecisionRequest, auth: AuthContext, *, now: datetime) -> None:
    """The step-up of signing (frozen in the snapshot as ``step_up``) holds for break-glass and
    its review too: ``StepUpRequired`` unless ``auth`` satisfies it (an API token never does)."""
    refusal = step_up_refusal((decision.snapshot or {}).get("step_up"), auth, now=now)
    if refusal is not None:
        raise StepUpRequired(refusal)


def _skipped(decision: DecisionRequest, actor: Any) -> list[int]:
    """Everyone asked to sign who had not approved (they were skipped), but not ``actor``."""
    approved = {signer for signer, _roles in live_approvals(decision)}
    asked = {e["user_id"] for e in decision.eligible_entries}
    return sorted(asked - approved - {actor.pk})


@transaction.atomic
def decision_break_glass(
    *,
    decision: DecisionRequest,
    actor: Any,
    reason: str,
    auth: AuthContext | None = None,
    now: datetime | None = None,
) -> BreakGlass:
    """``actor`` executes the pending decision before its quorum, with a reason.

    ``auth`` is how and when ``actor`` authenticated (unknown if not given): recorded on the
    event, and it must satisfy the policy's step-up as at signing (``StepUpRequired`` otherwise).

    Locks the decision row. Side effects: the break-glass row (its review due within the policy's
    hours), a ``break_glass`` event, the closing events (approved, or overridden when an override
    stands) with every grant revoked, the verdict webhook (which says break-glass), and the notice
    to the skipped approvers and the leads, all after commit.
    """
    now = now or timezone.now()
    if not reason or not reason.strip():
        raise InvalidInput("Say why this cannot wait for the quorum.", field="reason")
    decision = lock_decision(decision.pk)
    right = check_can_break_glass(decision, actor, now=now)
    auth = auth or UNKNOWN
    _require_step_up(decision, auth, now=now)
    skipped = _skipped(decision, actor)
    due = now + timedelta(hours=right.review_hours)
    try:
        with transaction.atomic():
            used = BreakGlass.objects.create(
                decision=decision,
                user=actor,
                role_id=right.role_id,
                certification_id_at_use=right.certification_id,
                reason=reason.strip(),
                at=now,
                skipped_user_ids=skipped,
                review_due_at=due,
                review_next_at=due,
                review_role_ids=[right.role_id],
            )
    except IntegrityError as exc:  # a break-glass of theirs committed meanwhile (the unique index)
        raise BreakGlassUnreviewed("Your earlier break-glass still waits for its review.") from exc
    plan = DecisionWrites(decision)
    plan.log(
        EventKind.BREAK_GLASS,
        at=now,
        actor=actor,
        data={
            "break_glass": str(used.public_id),
            "reason": used.reason,
            "role_id": right.role_id,
            "certification_id": right.certification_id,
            "approvals_before": len(live_approvals(decision)),
            "required_approvals": decision.required_approvals,
            "skipped_user_ids": skipped,
            "review_due_at": due.isoformat(),
            "auth": auth.as_data(),
        },
    )
    stages.close_approved(plan, now=now, actor=actor, data={"break_glass": str(used.public_id), "by": actor.pk})
    plan.write()
    store.record(messages.break_glass_notice(used.pk, messages.BREAK_GLASS_USED, 0))
    return used


def review_roles(used: BreakGlass) -> list[int]:
    return list(dict.fromkeys([used.role_id, *(used.review_role_ids or [])]))


def chain_exhausted(used: BreakGlass) -> bool:
    """The review escalated past the last step of the decision's frozen chain (the leads were told)."""
    steps = ((used.decision.snapshot or {}).get("chain") or {}).get("steps", [])
    return used.review_step > len(steps)


def _is_lead(actor: Any) -> bool:
    return bool(actor.is_superuser) or actor.groups.filter(name=rbac.GOVERNANCE_LEAD).exists()


def check_can_review(used: BreakGlass, actor: Any, *, now: datetime) -> int | None:
    """Raise unless ``actor`` may review ``used`` now; else the certification it rests on (None:
    a governance lead reviewing once the chain is exhausted, with or without a certification)."""
    require_person(actor, used.decision, doing="review this break-glass")
    if used.user_id == actor.pk:
        raise SegregationOfDuties("You broke the glass: a different certified person reviews it.")
    if used.is_reviewed:
        raise DecisionClosed("This break-glass has been reviewed already.")
    held = _certification(actor, review_roles(used), now=now)
    if held is not None:
        return held[1]
    if chain_exhausted(used) and _is_lead(actor):
        return None
    raise CertificationExpired(
        "Reviewing needs a valid certification for the owning role (or a role it escalated to); "
        "past the end of the escalation chain a governance lead may review it too."
    )


@transaction.atomic
def break_glass_review(
    *,
    used: BreakGlass,
    actor: Any,
    verdict: str,
    rationale: str,
    auth: AuthContext | None = None,
    now: datetime | None = None,
) -> BreakGlass:
    """A different certified person confirms or condemns a break-glass, with a rationale.

    ``auth`` as for breaking glass: recorded on the event, and held to the policy's step-up.

    Locks the decision row, then the break-glass row. Side effects: the review on the row (its
    escalation stops) and a ``break_glass_reviewed`` event on the decision.
    """
    now = now or timezone.now()
    if verdict not in BreakGlassReview.values:
        raise InvalidInput("Confirm or condemn the break-glass.", field="verdict")
    if not rationale or not rationale.strip():
        raise InvalidInput("A rationale is required for the review.", field="rationale")
    decision = lock_decision(used.decision_id)
    used = BreakGlass.objects.select_for_update().get(pk=used.pk)
    used.decision = decision
    certification = check_can_review(used, actor, now=now)
    auth = auth or UNKNOWN
    _require_step_up(decision, auth, now=now)
    used.reviewed_by, used.reviewed_at, used.review = actor, now, verdict
    used.review_rationale, used.review_next_at = rationale.strip(), None
    used.save(update_fields=["reviewed_by", "reviewed_at", "review", "review_rationale", "review_next_at"])
    plan = DecisionWrites(decision)
    plan.log(
        EventKind.BREAK_GLASS_REVIEWED,
        at=now,
        actor=actor,
        data={
            "break_glass": str(used.public_id),
            "review": verdict,
            "rationale": used.review_rationale,
            "certification_id": certification,
            "as_lead": certification is None,
            "late": now > used.review_due_at,
            "review_step": used.review_step,
            "auth": auth.as_data(),
        },
    )
    plan.write(fields=LOG_FIELDS)
    return used
