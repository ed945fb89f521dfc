"""API v1 for draft approval policies: the drafts, and the what-if replay of one over a period of
past decisions (aggregates, and a page of decisions with the draft's requirement next to what
happened). Reads only: drafts are written and activated in the admin.

People only (a personal token or a session) holding ``decisions.view_policydraft``: governance
leads and auditors. An API key gets 403.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from decisions.api.pagination import StrictCursorPagination
from decisions.api.review import REVIEW_ERRORS, IsPerson, PeriodSerializer, ReviewPeriodQuerySerializer
from decisions.api.serializers import ErrorSerializer
from decisions.models import DecisionStatus, DraftStatus, PolicyDraft, Verdict
from decisions.replay.report import MAX_PAGE_SIZE, PAGE_SIZE, Replay, replay, rule_entry

# --- permissions -----------------------------------------------------------------------------


class CanViewDrafts(BasePermission):
    message = "Reading draft policies needs the draft permission (governance leads and auditors)."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("decisions.view_policydraft")


ERRORS = {
    **REVIEW_ERRORS,
    403: OpenApiResponse(
        ErrorSerializer, description="An integration (API key), or a person without the draft permission."
    ),
    404: OpenApiResponse(ErrorSerializer, description="No such draft policy."),
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


# --- shapes ----------------------------------------------------------------------------------


class PolicyDraftSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=DraftStatus.choices)
    policy = serializers.SerializerMethodField(help_text="The policy's id; null for a draft of a new policy.")
    base_version = serializers.IntegerField(allow_null=True, help_text="The policy's version the draft started from.")
    priority = serializers.IntegerField()
    enabled = serializers.BooleanField()
    action_types = serializers.SerializerMethodField(help_text="Action type slugs; empty: every action type.")
    required_approvals = serializers.IntegerField()
    cosigner_roles = serializers.SerializerMethodField(help_text="Slugs of the roles that must co-sign.")
    time_to_act_seconds = serializers.IntegerField()
    escalation_chain = serializers.CharField(source="escalation_chain.name")
    allow_auto_approval = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    activated_at = serializers.DateTimeField(allow_null=True)
    activated_version = serializers.IntegerField(allow_null=True)

    @extend_schema_field(OpenApiTypes.UUID)
    def get_policy(self, draft: PolicyDraft) -> str | None:
        return str(draft.policy.public_id) if draft.policy is not None else None

    @extend_schema_field({"type": "array", "items": {"type": "string"}})
    def get_action_types(self, draft: PolicyDraft) -> list[str]:
        return [a.slug for a in draft.action_types.all()]

    @extend_schema_field({"type": "array", "items": {"type": "string"}})
    def get_cosigner_roles(self, draft: PolicyDraft) -> list[str]:
        return [r.slug for r in draft.cosigner_roles.all()]


class RuleSerializer(serializers.Serializer):
    policy = serializers.CharField(help_text="The rule's name (the fail-safe default when no rule matched).")
    from_draft = serializers.BooleanField()
    priority = serializers.IntegerField(allow_null=True)
    required_approvals = serializers.IntegerField()
    cosigner_roles = serializers.ListField(child=serializers.CharField())
    time_to_act_seconds = serializers.IntegerField()
    escalation_chain = serializers.CharField(allow_null=True)
    allow_auto_approval = serializers.BooleanField()


class DraftRequirementSerializer(RuleSerializer):
    auto_approved = serializers.BooleanField(help_text="The draft would auto-approve it.")
    approvals = serializers.IntegerField(help_text="Distinct approvals the draft would need (0 when auto-approved).")


class SignerSerializer(serializers.Serializer):
    username = serializers.CharField()
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    signed_as = serializers.CharField()


class ActualSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=DecisionStatus.choices)
    policy = serializers.CharField(allow_null=True, help_text="The policy its routing matched (null: none).")
    auto_approved = serializers.BooleanField()
    approvals = serializers.IntegerField(help_text="Approvals its routing required (0 when auto-approved).")
    cosigner_roles = serializers.ListField(child=serializers.CharField())
    time_to_act_seconds = serializers.IntegerField(allow_null=True)
    escalation_chain = serializers.CharField(allow_null=True)
    signers = SignerSerializer(many=True, help_text="Live sign-offs, oldest first.")
    time_to_decision_seconds = serializers.FloatField(
        allow_null=True, help_text="Submission to the human verdict; null without one."
    )


class ReplayRowSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The decision's id.")
    title = serializers.CharField()
    action_type = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    changed = serializers.BooleanField(help_text="The draft changes what this decision requires.")
    auto_over_rejection = serializers.BooleanField(help_text="The draft auto-approves it; a person rejected it.")
    draft = DraftRequirementSerializer()
    actual = ActualSerializer()


class ObservedSerializer(serializers.Serializer):
    approvals = serializers.IntegerField()
    decisions = serializers.IntegerField(help_text="Human verdicts at this number of approvals.")
    mean_seconds = serializers.FloatField()


class ReplaySummarySerializer(serializers.Serializer):
    decisions = serializers.IntegerField(help_text="Decisions submitted in the period.")
    matched_by_draft = serializers.IntegerField(help_text="Decisions the draft's rule would match first.")
    changed = serializers.IntegerField(help_text="Decisions whose requirement changes.")
    changed_auto = serializers.IntegerField(help_text="Auto-approval instead of people, or the reverse.")
    changed_approvals = serializers.IntegerField(help_text="Both need people: a different number of approvals.")
    changed_cosigners = serializers.IntegerField(help_text="Both need people: other co-signer roles.")
    changed_time_to_act = serializers.IntegerField(help_text="Both need people: another time to act.")
    changed_chain = serializers.IntegerField(help_text="Both need people: another escalation chain.")
    auto_over_rejection = serializers.IntegerField(help_text="Auto-approved by the draft, rejected by a person.")
    auto_over_override = serializers.IntegerField(help_text="Auto-approved by the draft, overridden by a person.")
    newly_auto_approved = serializers.IntegerField()
    no_longer_auto_approved = serializers.IntegerField()
    extra_approvals = serializers.IntegerField(help_text="Draft approvals minus recorded approvals, summed (net).")
    approvals_added = serializers.IntegerField()
    approvals_removed = serializers.IntegerField()
    expected_extra_seconds = serializers.FloatField(
        allow_null=True,
        help_text=(
            "Expected extra time to decision, summed, from the observed mean time per number of approvals "
            "(a number never observed: the observed mean time per approval times it). Null without human verdicts."
        ),
    )
    expected_extra_seconds_per_decision = serializers.FloatField(allow_null=True)
    observed_time_to_decision = ObservedSerializer(many=True)
    observed_seconds_per_approval = serializers.FloatField(allow_null=True)


class ReplayParametersSerializer(serializers.Serializer):
    period = PeriodSerializer()
    rules = RuleSerializer(many=True, help_text="The rule set replayed, in the order it is tried.")


class ReplayPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = ReplayRowSerializer(many=True)


class ReplaySerializer(serializers.Serializer):
    draft = PolicyDraftSerializer()
    parameters = ReplayParametersSerializer()
    summary = ReplaySummarySerializer()
    decisions = ReplayPageSerializer(
        help_text="Auto-approved by the draft but rejected by a person first, then changed ones, newest first."
    )


class ReplayQuerySerializer(ReviewPeriodQuerySerializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=1_000_000)
    page_size = serializers.IntegerField(required=False, default=PAGE_SIZE, min_value=1, max_value=MAX_PAGE_SIZE)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown parameter."] for name in unknown})
        return super().validate(attrs)


def _link(request, query: dict[str, str], page: int | None) -> str | None:
    if page is None:
        return None
    return request.build_absolute_uri(f"{request.path}?{urlencode({**query, 'page': page})}")


def replay_body(result: Replay, request, query: dict[str, str]) -> dict[str, Any]:
    """The shape ReplaySerializer reads."""
    info = result.page
    return {
        "draft": result.draft,
        "parameters": {
            "period": {"start": result.period.start, "end": result.period.end},
            "rules": [rule_entry(r) for r in result.rules],
        },
        "summary": result.summary,
        "decisions": {
            "count": info.count,
            "page": info.number,
            "page_size": info.size,
            "pages": info.pages,
            "next": _link(request, query, info.number + 1 if info.has_next else None),
            "previous": _link(request, query, min(info.number - 1, info.pages) if info.has_previous else None),
            "results": result.rows,
        },
    }


# --- views ----------------------------------------------------------------------------------


class DraftCursor(StrictCursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50


DRAFT_ID = OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The draft's id.")


@extend_schema_view(
    list=extend_schema(
        summary="Draft approval policies, newest first",
        responses={200: PolicyDraftSerializer(many=True), **_errors(400, 401, 403, 429)},
    ),
    retrieve=extend_schema(
        summary="A draft approval policy",
        parameters=[DRAFT_ID],
        responses={200: PolicyDraftSerializer, **_errors(401, 403, 404, 429)},
    ),
)
@extend_schema(tags=["policy drafts"])
class PolicyDraftViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, IsPerson, CanViewDrafts]
    serializer_class = PolicyDraftSerializer
    pagination_class = DraftCursor
    lookup_field = "public_id"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        if self.action == "replay":  # the replay loads the draft with its rule itself
            return PolicyDraft.objects.all()
        return PolicyDraft.objects.select_related("policy", "escalation_chain").prefetch_related(
            "action_types", "cosigner_roles"
        )

    def get_object(self):
        try:
            return super().get_object()
        except (Http404, ValueError, DjangoValidationError):
            raise NotFound("No such draft policy.") from None

    @extend_schema(
        summary="Replay a draft over past decisions",
        description=(
            "What the rule set with this draft would have required of each decision submitted in the period "
            "(approvals, co-signer roles, time to act, chain, auto-approval) next to what happened (verdict, "
            "signers, time to decision), and the aggregates. Computed in SQL; changes nothing."
        ),
        parameters=[DRAFT_ID, ReplayQuerySerializer],
        responses={200: ReplaySerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, methods=["get"], url_path="replay", pagination_class=None)
    def replay(self, request, public_id=None):
        draft = self.get_object()
        query = ReplayQuerySerializer(data=request.query_params.dict())
        if not query.is_valid():
            raise DRFValidationError(query.errors)
        data = query.validated_data
        result = replay(draft, query.period, page=data["page"], page_size=data["page_size"])
        raw = {k: v for k, v in request.query_params.items() if k != "page"}
        return Response(ReplaySerializer(replay_body(result, request, raw)).data)
