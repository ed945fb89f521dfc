"""API v1 for the periodic review (BI tools): the figures of any period, the ownership gaps
now, and the frozen review reports with their sign-off.

People only (a personal token or a session) holding ``decisions.view_reviewreport``: governance
leads and auditors. Integrations read decisions, not the review of them: an API key gets 403.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from decisions.api.pagination import ReviewReportCursor
from decisions.api.serializers import ErrorSerializer
from decisions.api.views import ERRORS
from decisions.models import IntegrationAPIKey, ReasonCode, ReviewReport
from decisions.review.figures import (
    EARLIEST_DAY,
    LATEST_DAY,
    MAX_PERIOD_DAYS,
    Period,
    PeriodError,
    period_from_params,
    review_figures,
)
from governance.gaps import GapKind, gaps_by_kind, ownership_gaps

TIME_ZONES = frozenset(available_timezones())


# --- permissions -----------------------------------------------------------------------------


class IsPerson(BasePermission):
    message = "Integrations cannot read the review: use a personal token (Authorization: Bearer <token>)."

    def has_permission(self, request, view) -> bool:
        return not isinstance(request.auth, IntegrationAPIKey)


class CanViewReview(BasePermission):
    message = "Reading the periodic review needs the review permission (governance leads and auditors)."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("decisions.view_reviewreport")


class ReviewAccess(APIView):
    # One place for who may read the review through the API (no docstring: it would become
    # every operation's description in the schema).
    permission_classes = [IsAuthenticated, IsPerson, CanViewReview]


REVIEW_ERRORS = {
    **ERRORS,
    403: OpenApiResponse(
        ErrorSerializer, description="An integration (API key), or a person without the review permission."
    ),
    404: OpenApiResponse(ErrorSerializer, description="No such review report."),
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: REVIEW_ERRORS[code] for code in codes}


# --- query parameters -----------------------------------------------------------------------


# Not an enum of the ~600 names: they depend on the server's tzdata, and some differ only by a
# sign ("Etc/GMT+0", "Etc/GMT-0"), which generated clients cannot name apart.
@extend_schema_field({"type": "string", "pattern": "^[A-Za-z0-9_+/-]+$", "maxLength": 64})
class TimeZoneField(serializers.CharField):
    """An IANA time zone name known to the server (checked by the serializer)."""


class ReviewPeriodQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PERIOD_DAYS,
        help_text="The last N days up to now (default 30). Not with start and end.",
    )
    start = serializers.DateField(
        required=False, help_text="First local day of the period (YYYY-MM-DD, included); give end too."
    )
    end = serializers.DateField(required=False, help_text="Last local day of the period (YYYY-MM-DD, included).")
    tz = TimeZoneField(
        required=False,
        default="UTC",
        max_length=64,
        help_text="IANA time zone in which start and end are local days, e.g. Europe/Berlin (default UTC).",
    )

    def _in_range(self, value: date) -> date:
        if not EARLIEST_DAY <= value <= LATEST_DAY:
            raise serializers.ValidationError(f"Give a date from {EARLIEST_DAY} to {LATEST_DAY}.")
        return value

    def validate_start(self, value: date) -> date:
        return self._in_range(value)

    def validate_end(self, value: date) -> date:
        return self._in_range(value)

    def validate_tz(self, value: str) -> str:
        if value not in TIME_ZONES:
            raise serializers.ValidationError("Unknown time zone: give an IANA name such as Europe/Berlin or UTC.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        if start is not None and end is None:
            raise serializers.ValidationError({"end": ["Give an end date with the start date."]})
        if end is not None and start is None:
            raise serializers.ValidationError({"start": ["Give a start date with the end date."]})
        if start is not None and "days" in attrs:
            raise serializers.ValidationError({"days": ["Give either days, or start and end; not both."]})
        params = (
            {"start": start.isoformat(), "end": end.isoformat()}
            if start is not None and end is not None
            else {"days": str(attrs.get("days", ""))}
        )
        try:
            attrs["period"] = period_from_params(params, tz=ZoneInfo(attrs["tz"]))
        except PeriodError as exc:
            raise serializers.ValidationError({"end" if start else "days": [str(exc)]}) from None
        return attrs

    @property
    def period(self) -> Period:
        return self.validated_data["period"]


# --- figures --------------------------------------------------------------------------------


class PercentilesSerializer(serializers.Serializer):
    p50 = serializers.FloatField(allow_null=True, help_text="Seconds; null when nothing was measured.")
    p90 = serializers.FloatField(allow_null=True, help_text="Seconds.")
    p99 = serializers.FloatField(allow_null=True, help_text="Seconds.")


def _rate(help_text: str) -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, help_text=f"{help_text} Null when the denominator is 0.")


class DecisionMetricsSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Decisions submitted in the period.")
    auto = serializers.IntegerField(help_text="Auto-approved.")
    human = serializers.IntegerField(help_text="Not auto-approved.")
    pending = serializers.IntegerField()
    approved = serializers.IntegerField()
    overridden = serializers.IntegerField()
    rejected = serializers.IntegerField()
    expired = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    escalations = serializers.IntegerField()
    outcomes = serializers.IntegerField(help_text="Decisions with a reported outcome.")
    false_positives = serializers.IntegerField()
    containments = serializers.IntegerField(help_text="Executed actions of types that change production state.")
    over_blocked = serializers.IntegerField(help_text="Containments later reported false positive or reverted.")
    approve_rate = _rate("Approved / (approved + overridden + rejected + expired).")
    override_rate = _rate("Overridden / closed.")
    reject_rate = _rate("Rejected / closed.")
    expire_rate = _rate("Expired / closed.")
    false_positive_rate = _rate("False positives / outcomes reported.")
    over_blocking_rate = _rate("Over-blocked / containments.")
    escalations_per_decision = _rate("Escalations / decisions.")
    time_to_decision = PercentilesSerializer(help_text="Submission to human verdict.")


class GroupMetricsSerializer(DecisionMetricsSerializer):
    key = serializers.CharField(help_text="Action type or role id, or the model's 'name version'.")
    label = serializers.CharField()  # type: ignore[assignment]  # DRF moves declared fields off the class


class ApproverMetricsSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The person's user id.")
    label = serializers.CharField()  # type: ignore[assignment]  # DRF moves declared fields off the class
    signoffs = serializers.IntegerField()
    approvals = serializers.IntegerField()
    overrides = serializers.IntegerField()
    rejections = serializers.IntegerField()
    approved_with_outcome = serializers.IntegerField()
    approved_then_false_or_reverted = serializers.IntegerField()
    over_blocking_rate = _rate("Approved then false positive or reverted / approved with an outcome.")
    time_to_sign = PercentilesSerializer(help_text="Submission to this person's sign-off.")


class ReasonCountSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=ReasonCode.choices)
    label = serializers.CharField()  # type: ignore[assignment]  # DRF moves declared fields off the class
    count = serializers.IntegerField()


class ReasonCodesSerializer(serializers.Serializer):
    override = ReasonCountSerializer(many=True)
    reject = ReasonCountSerializer(many=True)


class BreakGlassUseSerializer(serializers.Serializer):
    person = serializers.CharField()
    role = serializers.CharField()
    uses = serializers.IntegerField()
    confirmed = serializers.IntegerField()
    condemned = serializers.IntegerField()
    unreviewed = serializers.IntegerField()
    overdue = serializers.IntegerField(help_text="Unreviewed past their review deadline.")


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Included.")
    end = serializers.DateTimeField(help_text="Excluded.")


class ReviewFiguresSerializer(serializers.Serializer):
    """The figures of a period over the decisions submitted in it (see decisions.review.figures)."""

    period = PeriodSerializer()
    computed_at = serializers.DateTimeField()
    totals = DecisionMetricsSerializer()
    by_action_type = GroupMetricsSerializer(many=True)
    by_owner_role = GroupMetricsSerializer(many=True)
    by_model = GroupMetricsSerializer(many=True)
    by_approver = ApproverMetricsSerializer(many=True)
    reason_codes = ReasonCodesSerializer(help_text="Override and reject reason codes of live sign-offs.")
    break_glass = BreakGlassUseSerializer(
        many=True,
        required=False,
        help_text="Break-glass uses on the period's decisions, per person and role (absent in older reports).",
    )


# --- gaps -----------------------------------------------------------------------------------


class GapSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(GapKind.LABELS))
    kind_label = serializers.SerializerMethodField()
    critical = serializers.SerializerMethodField()
    subject = serializers.CharField()
    detail = serializers.CharField()
    fix_url = serializers.CharField(help_text="Path of the admin page that fixes it.")
    fix_label = serializers.CharField()

    def get_kind_label(self, gap: dict) -> str:
        return GapKind.LABELS.get(gap["kind"], gap["kind"])

    def get_critical(self, gap: dict) -> bool:
        return gap["kind"] in GapKind.CRITICAL


class GapKindCountSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(GapKind.LABELS))
    label = serializers.CharField()  # type: ignore[assignment]  # DRF moves declared fields off the class
    critical = serializers.BooleanField()
    count = serializers.IntegerField()


class GapsSerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text="When the gaps were looked for.")
    count = serializers.IntegerField()
    critical = serializers.IntegerField(help_text="Gaps that leave a risky action without its owner now or soon.")
    by_kind = GapKindCountSerializer(many=True, help_text="Every kind, with 0 where there is none.")
    gaps = GapSerializer(many=True)


def gaps_body(gaps: list[dict], *, at) -> dict[str, Any]:
    """The shape GapsSerializer reads, for live gaps and a report's frozen ones alike."""
    groups = gaps_by_kind(gaps)
    return {
        "at": at,
        "count": len(gaps),
        "critical": sum(len(g["gaps"]) for g in groups if g["critical"]),
        "by_kind": [{**g, "count": len(g["gaps"])} for g in groups],
        "gaps": gaps,
    }


# --- reports --------------------------------------------------------------------------------


class LogVerificationSerializer(serializers.Serializer):
    intact = serializers.BooleanField(allow_null=True)
    first_break = serializers.CharField(allow_null=True)
    decisions = serializers.IntegerField(help_text="Decisions whose log was checked.")
    events = serializers.IntegerField()
    verified_at = serializers.DateTimeField()


class ReviewReportSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    schedule = serializers.SerializerMethodField()
    period_start = serializers.DateTimeField(help_text="Included.")
    period_end = serializers.DateTimeField(help_text="Excluded.")
    frozen_at = serializers.DateTimeField()
    signed_off = serializers.BooleanField(source="is_signed_off")
    signed_off_by = serializers.SerializerMethodField()
    signed_off_at = serializers.DateTimeField(allow_null=True)
    log_intact = serializers.SerializerMethodField()
    gap_count = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    def get_schedule(self, report: ReviewReport) -> str | None:
        return report.schedule.name if report.schedule is not None else None

    def get_signed_off_by(self, report: ReviewReport) -> str | None:
        return report.signed_off_by.get_username() if report.signed_off_by is not None else None

    def get_log_intact(self, report: ReviewReport) -> bool | None:
        verification = report.log_verification
        return verification.get("intact") if isinstance(verification, dict) else None

    def get_gap_count(self, report: ReviewReport) -> int:
        return len(report.gaps)

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "self": {"type": "string", "description": "This report in the API."},
                "page": {"type": "string", "description": "The report page (read, sign off)."},
            },
            "required": ["self", "page"],
        }
    )
    def get_links(self, report: ReviewReport) -> dict[str, str]:
        pid = str(report.public_id)
        return {
            "self": reverse("api:review-report-detail", args=[pid]),
            "page": reverse("decisions:review-report", args=[pid]),
        }


class ReviewReportSerializer(ReviewReportSummarySerializer):
    """A frozen report as it was frozen, and its sign-off."""

    figures = serializers.SerializerMethodField()
    gaps = serializers.SerializerMethodField()
    log_verification = serializers.SerializerMethodField()
    signoff_notes = serializers.CharField()
    follow_up_actions = serializers.SerializerMethodField()

    # The frozen JSON as stored, not re-serialised: a report frozen in a shape an older or newer
    # version wrote still reads exactly as frozen, never as a 500 (the report page does the same).
    @extend_schema_field(ReviewFiguresSerializer)
    def get_figures(self, report: ReviewReport) -> Any:
        return report.figures

    @extend_schema_field(LogVerificationSerializer)
    def get_log_verification(self, report: ReviewReport) -> Any:
        return report.log_verification

    @extend_schema_field(GapsSerializer)
    def get_gaps(self, report: ReviewReport) -> dict[str, Any]:
        return GapsSerializer(gaps_body(report.gaps, at=report.frozen_at)).data

    def get_follow_up_actions(self, report: ReviewReport) -> list[str]:
        return [line for line in report.follow_up_actions.splitlines() if line.strip()]


# --- views ----------------------------------------------------------------------------------


@extend_schema(tags=["review"])
class ReviewFiguresView(ReviewAccess, APIView):
    @extend_schema(
        summary="Review figures of a period",
        description=(
            "Counts, auto vs human, approve / override / reject / expire rates, false-positive and over-blocking "
            "rates, time to decision (p50/p90/p99), escalations, reason codes: in total and per action type, "
            "owning role, AI model and approver, over the decisions submitted in the period."
        ),
        parameters=[ReviewPeriodQuerySerializer],
        responses={200: ReviewFiguresSerializer, **_errors(400, 401, 403, 429)},
    )
    def get(self, request):
        # A plain dict: DRF reads an empty query value as "not given" (form semantics); here it is refused.
        query = ReviewPeriodQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        return Response(ReviewFiguresSerializer(review_figures(query.period)).data)


@extend_schema(tags=["review"])
class ReviewGapsView(ReviewAccess, APIView):
    @extend_schema(
        summary="Ownership gaps now",
        description="Where a risky action lacks a named, certified, on-call owner, each with the admin page to fix it.",
        responses={200: GapsSerializer, **_errors(401, 403, 429)},
    )
    def get(self, request):
        now = timezone.now()
        gaps = [gap.as_dict() for gap in ownership_gaps(at=now)]
        return Response(GapsSerializer(gaps_body(gaps, at=now)).data)


REPORT_ID = OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The report's id.")


@extend_schema_view(
    list=extend_schema(
        summary="Frozen review reports, newest first",
        description="One per schedule and period, frozen by celery beat when the period ended; with the sign-off.",
        responses={
            200: ReviewReportSummarySerializer(many=True),
            **_errors(400, 401, 403, 429),
        },
    ),
    retrieve=extend_schema(
        summary="A frozen review report",
        description="The figures, gaps and decision-log check exactly as frozen, and the sign-off.",
        parameters=[REPORT_ID],
        responses={200: ReviewReportSerializer, **_errors(401, 403, 404, 429)},
    ),
)
@extend_schema(tags=["review"])
class ReviewReportViewSet(ReviewAccess, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    pagination_class = ReviewReportCursor
    lookup_field = "public_id"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        reports = ReviewReport.objects.select_related("schedule", "signed_off_by")
        return reports.defer("figures") if self.action == "list" else reports

    def get_serializer_class(self):
        return ReviewReportSummarySerializer if self.action == "list" else ReviewReportSerializer

    def get_object(self):
        try:
            return super().get_object()
        except (Http404, ValueError, DjangoValidationError):
            raise NotFound("No such review report.") from None
