"""The analysts' pages: my queue, a decision (and the sign-off form), all decisions.

Views parse, check access, call one service or selector and render. Who may sign is decided by
``eligibility.check_can_sign`` (read-only) before a form is shown or a POST is accepted, and again
by ``signing.decision_sign_off`` under the decision's row lock.
"""

from __future__ import annotations

import json
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from decisions import selectors
from decisions.actors import SignedInRequest
from decisions.breakglass import selectors as glass
from decisions.breakglass import services as glass_services
from decisions.errors import AlreadySigned, DecisionClosed, DecisionError, NotAllowed, StepUpRequired
from decisions.escalation import services as escalation
from decisions.ledger import receipts
from decisions.lifecycle import eligibility, signing
from decisions.lifecycle.states import EXECUTES
from decisions.models import (
    REASONS_BY_VERDICT,
    DecisionRequest,
    DecisionStatus,
    NotificationPreference,
    SignOff,
    Verdict,
)
from decisions.web import stepup
from decisions.web.forms import DecisionFilterForm, EscalateForm, NotificationPreferenceForm, ReassignForm, SignOffForm
from decisions.web.governance_forms import BreakGlassForm
from decisions.web.responses import forbidden

QUEUE_REFRESH_SECONDS = 30
PAGE_SIZE = 50


@login_required
@require_GET
def queue(request: SignedInRequest) -> HttpResponse:
    now = timezone.now()
    return render(
        request,
        "decisions/queue.html",
        {
            "decisions": list(selectors.decisions_to_sign(user=request.user)),
            "on_call": selectors.on_call_roles_of(user=request.user, at=now),
            "now": now,
            "refresh_seconds": QUEUE_REFRESH_SECONDS,
        },
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def detail(request: SignedInRequest, public_id: UUID) -> HttpResponse:
    try:
        decision = selectors.decision_visible_to(user=request.user, public_id=public_id)
    except DecisionRequest.DoesNotExist:
        return _gone_or_404(request, public_id)
    signoffs = list(selectors.decision_signoffs(decision=decision))
    blocked = _why_cannot_sign(decision, request.user, signoffs)
    if request.method != "POST":
        # A draft kept while the signer re-authenticated (step-up) comes back as it was typed.
        draft = stepup.take_draft(request, decision)
        form = None if blocked else SignOffForm(draft) if draft else SignOffForm()
        return _render_detail(request, decision, signoffs, form=form, blocked=blocked)

    if isinstance(blocked, NotAllowed):
        return forbidden(request, blocked.message)
    if blocked is not None:
        messages.warning(request, blocked.message)
        return redirect("decisions:detail", public_id=decision.public_id)
    form = SignOffForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, decision, signoffs, form=form, blocked=None, status=400)
    try:
        signoff = signing.decision_sign_off(
            decision=decision,
            actor=request.user,
            auth=stepup.auth_context_at_signing(request, decision),
            **form.cleaned_data,
        )
    except StepUpRequired as exc:
        return stepup.reauthenticate(request, decision, draft=request.POST, why=exc.message)
    except NotAllowed as exc:
        return forbidden(request, exc.message)
    except (DecisionClosed, AlreadySigned) as exc:
        messages.warning(request, f"Your verdict was not recorded: {exc.message}")
        return redirect("decisions:detail", public_id=decision.public_id)
    except DecisionError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _render_detail(request, decision, signoffs, form=form, blocked=None, status=400)
    messages.success(request, _signed_message(signoff))
    return redirect("decisions:detail", public_id=decision.public_id)


@login_required
@require_GET
def receipt(request: SignedInRequest, public_id: UUID) -> HttpResponse:
    """The decision's receipt (its events, their proofs, the signed checkpoint), to verify offline."""
    try:
        decision = selectors.decision_visible_to(user=request.user, public_id=public_id)
    except DecisionRequest.DoesNotExist:
        return _gone_or_404(request, public_id)
    try:
        body = receipts.receipt_for(decision)
    except receipts.ReceiptNotReady as exc:
        return render(request, "409.html", {"message": str(exc)}, status=409)
    response = HttpResponse(json.dumps(body, indent=1), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="countersign-receipt-{decision.public_id}.json"'
    return response


@login_required
@require_GET
def all_decisions(request: SignedInRequest) -> HttpResponse:
    if not request.user.has_perm(selectors.VIEW_ALL):
        raise PermissionDenied("Only governance leads and auditors can list every decision.")
    form = DecisionFilterForm(request.GET)
    if form.is_valid():
        decisions = selectors.decisions_for_review(user=request.user, **form.selector_kwargs())
    else:
        decisions = DecisionRequest.objects.none()
    page = Paginator(decisions, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "decisions/all.html", {"form": form, "page": page})


@login_required
@require_POST
def escalate(request: SignedInRequest, public_id: UUID) -> HttpResponse:
    """An eligible signer hands the decision to the next step of its chain, with a reason."""
    try:
        decision = selectors.decision_visible_to(user=request.user, public_id=public_id)
    except DecisionRequest.DoesNotExist:
        return _gone_or_404(request, public_id)
    form = EscalateForm(request.POST, prefix="escalate")
    if not form.is_valid():
        messages.error(request, "Say why you escalate.")
        return redirect("decisions:detail", public_id=decision.public_id)
    try:
        escalation.decision_escalate_now(decision=decision, actor=request.user, reason=form.cleaned_data["reason"])
    except NotAllowed as exc:
        return forbidden(request, exc.message)
    except DecisionError as exc:
        messages.warning(request, f"Not escalated: {exc.message}")
        return redirect("decisions:detail", public_id=decision.public_id)
    messages.success(request, "Escalated: the next role in the chain has been asked.")
    return redirect("decisions:queue")


@login_required
@require_POST
def reassign(request: SignedInRequest, public_id: UUID) -> HttpResponse:
    """A governance lead hands a pending decision to another role, with a reason."""
    if not request.user.has_perm(escalation.REASSIGN):
        return forbidden(request, "Only a governance lead can reassign a decision.")
    try:
        decision = selectors.decision_visible_to(user=request.user, public_id=public_id)
    except DecisionRequest.DoesNotExist as exc:
        raise Http404("No such decision.") from exc
    form = ReassignForm(request.POST, prefix="reassign")
    if not form.is_valid():
        messages.error(request, "Choose a role and say why you reassign.")
        return redirect("decisions:detail", public_id=decision.public_id)
    try:
        escalation.decision_reassign(
            decision=decision, actor=request.user, role=form.cleaned_data["role"], reason=form.cleaned_data["reason"]
        )
    except DecisionError as exc:
        messages.warning(request, f"Not reassigned: {exc.message}")
    else:
        messages.success(request, f"Reassigned to {form.cleaned_data['role'].name}.")
    return redirect("decisions:detail", public_id=decision.public_id)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def notification_settings(request: SignedInRequest) -> HttpResponse:
    """Each person turns decision emails on or off."""
    preference = NotificationPreference.objects.filter(user=request.user).first() or NotificationPreference(
        user=request.user
    )
    form = NotificationPreferenceForm(request.POST if request.method == "POST" else None, instance=preference)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your notification settings are saved.")
        return redirect("decisions:notifications")
    return render(request, "decisions/notifications.html", {"form": form})


def _gone_or_404(request: SignedInRequest, public_id: UUID) -> HttpResponse:
    """Someone the decision was routed to, who opened it before it closed (closing revokes the
    grants, and with them the right to read it), learns that it ended. Anyone else: 404."""
    closed = selectors.closed_decision_routed_to(user=request.user, public_id=public_id)
    if closed is None:
        raise Http404("No such decision, or it is not yours to see.")
    status = closed.get_status_display().lower()
    if request.method == "POST":
        messages.warning(
            request, f"“{closed.title}” was already {status} when your verdict arrived; your verdict was not recorded."
        )
    else:
        messages.info(request, f"“{closed.title}” no longer waits for you: it was {status}.")
    return redirect("decisions:queue")


def _why_cannot_sign(decision: DecisionRequest, user, signoffs: list[SignOff]) -> DecisionError | None:
    """None when ``user`` may sign ``decision`` now, else the reason (a DecisionError)."""
    try:
        eligibility.check_can_sign(decision, user, now=timezone.now())
    except DecisionError as exc:
        return exc
    if any(s.signer_id == user.pk and s.voided_at is None for s in signoffs):
        return AlreadySigned("You have already signed this decision; one person counts once.")
    return None


def _break_glass_context(request: SignedInRequest, decision: DecisionRequest) -> dict:
    """The break-glass panel: shown on a pending decision whose policy allows it (with the form,
    or why this person may not), and the use itself on a decision that was executed so."""
    if decision.is_terminal:
        return {"break_glass": glass.break_glass_of(decision) if decision.status in EXECUTES else None}
    if not (decision.snapshot.get("break_glass") or {}).get("allowed"):
        return {}
    try:
        glass_services.check_can_break_glass(decision, request.user, now=timezone.now())
    except DecisionError as exc:
        return {"glass_offered": True, "glass_blocked": exc}
    # A reason kept while the person re-authenticated (step-up) comes back as it was typed.
    draft = stepup.take_draft(request, decision, kind="break-glass")
    initial = {"reason": draft.get("glass-reason", "")} if draft else None
    return {"glass_offered": True, "glass_form": BreakGlassForm(prefix="glass", initial=initial)}


def _render_detail(request, decision, signoffs, *, form, blocked, status=200) -> HttpResponse:
    return render(
        request,
        "decisions/detail.html",
        {
            "decision": decision,
            "signoffs": signoffs,
            "events": selectors.decision_events(decision=decision),
            "form": form,
            "blocked": blocked,
            "blocked_is_closed": isinstance(blocked, DecisionClosed),
            "stages": decision.snapshot.get("stages", []),
            "cosigners": decision.snapshot.get("cosigners", []),
            "reasons_by_verdict": {v: sorted(codes) for v, codes in REASONS_BY_VERDICT.items()},
            "override_template": {"target": decision.target},
            "can_escalate": form is not None and decision.status == DecisionStatus.PENDING,
            "escalate_form": EscalateForm(prefix="escalate"),
            "can_reassign": decision.status == DecisionStatus.PENDING and request.user.has_perm(escalation.REASSIGN),
            "reassign_form": ReassignForm(prefix="reassign"),
            **_break_glass_context(request, decision),
            "step_up": decision.snapshot.get("step_up"),
        },
        status=status,
    )


def _signed_message(signoff: SignOff) -> str:
    done = {
        Verdict.APPROVE: "Your approval is recorded.",
        Verdict.OVERRIDE: "Your override is recorded.",
        Verdict.REJECT: "Your rejection is recorded.",
    }[Verdict(signoff.verdict)]
    decision = signoff.decision
    if decision.status == DecisionStatus.PENDING:
        return f"{done} The decision still needs more approvals (it requires {decision.required_approvals})."
    return f"{done} The decision is now {decision.get_status_display().lower()}."
