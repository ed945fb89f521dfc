"""Break-glass on the analyst pages: breaking glass on a decision, the list of uses, and the
post-hoc review. Views parse, check access, call one service and render; the rules are in
``decisions.breakglass.services`` (checked again there under the decision's row lock)."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from decisions import selectors
from decisions.actors import SignedInRequest
from decisions.breakglass import selectors as glass
from decisions.breakglass import services
from decisions.errors import DecisionError, NotAllowed, StepUpRequired
from decisions.models import BreakGlass, DecisionRequest
from decisions.web import stepup
from decisions.web.governance_forms import BreakGlassForm, BreakGlassReviewForm
from decisions.web.responses import forbidden

# What a step-up round trip keeps of each form (the drafts' kinds in ``stepup``).
GLASS_DRAFT, GLASS_FIELDS = "break-glass", ("glass-reason",)
REVIEW_DRAFT, REVIEW_FIELDS = "break-glass-review", ("verdict", "rationale")


@login_required
@require_POST
def break_glass(request: SignedInRequest, public_id: UUID) -> HttpResponse:
    """Execute a pending decision before its quorum, with a reason (when its policy allows it)."""
    try:
        decision = selectors.decision_visible_to(user=request.user, public_id=public_id)
    except DecisionRequest.DoesNotExist as exc:
        raise Http404("No such decision, or it is not yours to see.") from exc
    form = BreakGlassForm(request.POST, prefix="glass")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, f"The glass is not broken: {error}")
        return redirect(f"{decision_url(decision)}#break-glass")
    try:
        used = services.decision_break_glass(
            decision=decision,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            auth=stepup.auth_context_at_signing(request, decision),
        )
    except StepUpRequired as exc:
        return stepup.reauthenticate(
            request, decision, draft=request.POST, why=exc.message, kind=GLASS_DRAFT, fields=GLASS_FIELDS, kept="reason"
        )
    except NotAllowed as exc:
        return forbidden(request, exc.message)
    except DecisionError as exc:
        messages.warning(request, f"The glass is not broken: {exc.message}")
        return redirect(decision_url(decision))
    messages.success(
        request,
        f"Break-glass recorded: the decision is {used.decision.get_status_display().lower()} (break-glass). "
        "The skipped approvers and the leads are being told; a different certified person reviews it by "
        f"{timezone.localtime(used.review_due_at):%a %d %b %H:%M %Z}.",
    )
    return redirect("decisions:break-glass-detail", public_id=used.public_id)


def decision_url(decision: DecisionRequest) -> str:
    return reverse("decisions:detail", args=[decision.public_id])


@login_required
@require_GET
def break_glass_list(request: SignedInRequest) -> HttpResponse:
    """Break-glass uses the person may read, those waiting for review first."""
    now = timezone.now()
    uses = glass.break_glass_visible_to(user=request.user, at=now)
    return render(request, "breakglass/list.html", {"uses": uses, "now": now, "limit": glass.LIST_LIMIT})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def break_glass_detail(request: SignedInRequest, public_id: UUID) -> HttpResponse:
    """One use, and the review form for a different certified person."""
    now = timezone.now()
    used = glass.break_glass_visible(user=request.user, at=now, public_id=public_id)
    if used is None:
        raise Http404("No such break-glass, or it is not yours to see.")
    try:
        services.check_can_review(used, request.user, now=now)
        blocked = None
    except DecisionError as exc:
        blocked = exc
    if request.method == "POST":
        form = BreakGlassReviewForm(request.POST)
    else:
        draft = stepup.take_draft(request, used.decision, kind=REVIEW_DRAFT)
        form = BreakGlassReviewForm(initial=draft or None)
    if request.method == "POST":
        if blocked is not None:
            return forbidden(request, blocked.message)
        if form.is_valid():
            try:
                services.break_glass_review(
                    used=used,
                    actor=request.user,
                    auth=stepup.auth_context_at_signing(request, used.decision),
                    **form.cleaned_data,
                )
            except StepUpRequired as exc:
                return stepup.reauthenticate(
                    request,
                    used.decision,
                    draft=request.POST,
                    why=exc.message,
                    kind=REVIEW_DRAFT,
                    fields=REVIEW_FIELDS,
                    page=reverse("decisions:break-glass-detail", args=[used.public_id]),
                    kept="review",
                )
            except NotAllowed as exc:
                return forbidden(request, exc.message)
            except DecisionError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, "Your review is recorded in the decision log.")
                return redirect("decisions:break-glass-detail", public_id=used.public_id)
        return _render(request, used, form, blocked, now, status=400)
    return _render(request, used, form, blocked, now)


def _render(request: SignedInRequest, used: BreakGlass, form, blocked, now, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "breakglass/detail.html",
        {
            "used": used,
            "decision": used.decision,
            "form": None if blocked else form,
            "blocked": blocked,
            "overdue": not used.is_reviewed and used.review_due_at < now,
        },
        status=status,
    )
