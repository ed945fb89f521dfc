"""Reads of decisions, eager-loaded so list endpoints and pages run a constant number of queries."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from decisions.models import (
    DecisionEvent,
    DecisionRequest,
    DecisionRequestUserObjectPermission,
    Integration,
    SignOff,
    Verdict,
)

VIEW_ALL = "decisions.view_decisionrequest"


def decisions_with_details() -> QuerySet[DecisionRequest]:
    return DecisionRequest.objects.select_related("integration", "action_type", "owner_role", "outcome").annotate(
        live_approvals=Count(
            "signoffs",
            filter=Q(signoffs__voided_at__isnull=True, signoffs__verdict__in=[Verdict.APPROVE, Verdict.OVERRIDE]),
        )
    )


def decisions_visible_to(*, user, integration: Integration | None) -> QuerySet[DecisionRequest]:
    """An integration sees its own; a reviewer (view permission) sees all; anyone else the
    decisions they may certify or have signed."""
    qs = decisions_with_details()
    if integration is not None:
        return qs.filter(integration=integration)
    if user.has_perm(VIEW_ALL):
        return qs
    granted = DecisionRequestUserObjectPermission.objects.filter(content_object=OuterRef("pk"), user=user)
    signed = SignOff.objects.filter(decision=OuterRef("pk"), signer=user)
    return qs.filter(Q(Exists(granted)) | Q(Exists(signed)))


def decision_for_response(pk: int) -> DecisionRequest:
    return decisions_with_details().get(pk=pk)


def new_decision_for_response(decision: DecisionRequest) -> DecisionRequest:
    """A decision just created in this request, ready to serialise without reading it back:
    it has no sign-offs and no outcome yet."""
    decision.live_approvals = 0
    decision._state.fields_cache["outcome"] = None
    return decision


def decision_events(*, decision: DecisionRequest) -> QuerySet[DecisionEvent]:
    return DecisionEvent.objects.filter(decision=decision).select_related("actor").order_by("seq")


def decision_signoffs(*, decision: DecisionRequest) -> QuerySet[SignOff]:
    return SignOff.objects.filter(decision=decision).select_related("signer", "signed_as").order_by("created_at", "id")
