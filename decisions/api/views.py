"""API v1. Views parse, check who is calling, call one service or selector, render."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from decisions import selectors
from decisions.api.pagination import DecisionCursor, DecisionEventCursor, SignOffCursor
from decisions.api.serializers import (
    CancelSerializer,
    DecisionEventSerializer,
    DecisionSerializer,
    DecisionSubmitSerializer,
    DecisionUpdateSerializer,
    ErrorSerializer,
    OutcomeSerializer,
    SignOffRequestSerializer,
    SignOffSerializer,
)
from decisions.errors import NoLongerWaitsForYou, NotYetProvable
from decisions.health import metrics
from decisions.ledger import receipts
from decisions.lifecycle import cancellation, corrections, intake, outcomes, signing, waiting
from decisions.models import DecisionRequest, DecisionStatus, IntegrationAPIKey
from governance.identity.context import API_TOKEN, auth_context_of
from governance.snapshot import pinned_snapshot

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input: field messages under `errors`."),
    401: OpenApiResponse(ErrorSerializer, description="Missing, invalid, revoked or expired credentials."),
    403: OpenApiResponse(ErrorSerializer, description="Not allowed."),
    404: OpenApiResponse(ErrorSerializer, description="No such decision (or not yours to see)."),
    429: OpenApiResponse(ErrorSerializer, description="Rate limit or pending cap reached; see Retry-After."),
}
NO_LONGER_WAITS = "To a person it was routed to: it closed since, so it no longer waits for you."


def _conflict(description: str = "") -> OpenApiResponse:
    """The 409 of an endpoint a person reaches by the decision's id, with the endpoint's own conflicts."""
    return OpenApiResponse(
        ErrorSerializer, description=f"{description} Or: {NO_LONGER_WAITS}" if description else NO_LONGER_WAITS
    )


def _errors(*codes: int) -> dict:
    return {code: ERRORS[code] for code in codes}


def _aware_utc(raw: str) -> datetime | None:
    """An aware instant in UTC, or None when naive or malformed. (PostgreSQL refuses offsets
    beyond ±15:59, so the offset is applied here; an instant before year 1 or after 9999 in UTC
    is the earliest or latest one: as a bound it filters the same.)"""
    try:
        value = parse_datetime(raw)
    except ValueError:
        return None
    if value is None or value.tzinfo is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC) if value.year == 1 else datetime.max.replace(tzinfo=UTC)


def integration_of(request):
    """The calling integration, or None for a person."""
    return request.auth.integration if isinstance(request.auth, IntegrationAPIKey) else None


DECISION_ID = OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The decision's id.")
WAIT = OpenApiParameter(
    "wait",
    {"type": "integer", "minimum": 1, "maximum": waiting.MAX_WAIT_SECONDS},
    description=(
        "Long-poll: when the decision is pending, answer as soon as it is not (approved, overridden, rejected, "
        f"expired, cancelled) or after this many seconds (1 to {waiting.MAX_WAIT_SECONDS}), whichever comes first. "
        "A decision that is not pending is answered at once. Still `pending` in the answer means the wait ended: "
        "ask again. When the server already holds its share of waits it answers at once, with `Retry-After: 1`."
    ),
)


def wait_seconds(params) -> int | None:
    """The ``wait`` query parameter: None when absent, else 1..MAX_WAIT_SECONDS (a 400 otherwise)."""
    if "wait" not in params:
        return None
    raw = params["wait"]
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= waiting.MAX_WAIT_SECONDS:
        raise ValidationError({"wait": [f"Give a whole number of seconds from 1 to {waiting.MAX_WAIT_SECONDS}."]})
    return int(raw)


@extend_schema_view(
    list=extend_schema(
        summary="List decisions",
        description="An integration sees its own decisions; a person those they may certify or review.",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=DecisionStatus.values),
            OpenApiParameter(
                "action_type",
                {"type": "string", "minLength": 1, "pattern": "^[^\\u0000]*$"},
                description="Action type slug.",
            ),
            OpenApiParameter("created_after", OpenApiTypes.DATETIME),
            OpenApiParameter("created_before", OpenApiTypes.DATETIME),
        ],
        responses={200: DecisionSerializer(many=True), **_errors(400, 401, 429)},
    ),
    retrieve=extend_schema(
        summary="A decision (optionally waiting for its verdict)",
        parameters=[DECISION_ID, WAIT],
        responses={200: DecisionSerializer, 409: _conflict(), **_errors(400, 401, 404, 429)},
    ),
)
class DecisionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = DecisionSerializer
    pagination_class = DecisionCursor
    lookup_field = "public_id"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        qs = selectors.decisions_visible_to(user=self.request.user, integration=integration_of(self.request))
        if self.action == "list":
            qs = self._filter(qs)
        return qs

    def get_object(self):
        try:
            return super().get_object()
        except (Http404, DecisionRequest.DoesNotExist, ValueError, DjangoValidationError):
            pass
        if integration_of(self.request) is None:
            # Closing revokes the grants and with them the right to read it; someone it was
            # routed to learns that it ended (as the pages say), not that it never existed.
            try:
                closed = selectors.closed_decision_routed_to(user=self.request.user, public_id=self.kwargs["public_id"])
            except (ValueError, DjangoValidationError):
                closed = None
            if closed is not None:
                raise NoLongerWaitsForYou(
                    f"This decision no longer waits for you: it was {closed.get_status_display().lower()}."
                )
        raise NotFound("No such decision.")

    def retrieve(self, request, public_id=None):
        wait = wait_seconds(request.query_params)
        decision = self.get_object()
        admitted = True
        if wait is not None and decision.status == DecisionStatus.PENDING:
            pk = decision.pk
            admitted = waiting.wait_while_pending(
                public_id=decision.public_id, seconds=wait, is_pending=lambda: selectors.decision_is_pending(pk=pk)
            )
            if admitted:
                decision = self.get_object()
        body = self.get_serializer(decision).data
        response = Response(body)
        if wait is not None:
            waiting.release_connection()  # a waiting thread keeps no connection between waits
            if not admitted:
                response["Retry-After"] = "1"
        return response

    def _filter(self, qs):
        params = self.request.query_params
        errors = {}
        for name in ("status", "action_type", "created_after", "created_before"):
            if name in params and not params[name]:
                errors[name] = ["Give a value, or leave the parameter out."]
        if status_value := params.get("status"):
            if status_value not in DecisionStatus.values:
                errors["status"] = [f"Unknown status; use one of {', '.join(DecisionStatus.values)}."]
            qs = qs.filter(status=status_value)
        if slug := params.get("action_type"):
            if "\x00" in slug:  # PostgreSQL refuses NUL in text: a 400, not a 500
                errors["action_type"] = ["Null characters are not allowed."]
            else:
                qs = qs.filter(action_type__slug=slug)
        for name, lookup in (("created_after", "created_at__gte"), ("created_before", "created_at__lt")):
            if raw := params.get(name):
                value = _aware_utc(raw)
                if value is None:
                    errors[name] = ["Use an ISO 8601 date-time with a time zone, e.g. 2026-11-26T09:00:00Z."]
                else:
                    qs = qs.filter(**{lookup: value})
        if errors:
            raise ValidationError(errors)
        return qs

    def _require_integration(self):
        integration = integration_of(self.request)
        if integration is None:
            raise PermissionDenied("Only an integration (API key) can do this.")
        return integration

    @extend_schema(
        summary="Submit a recommendation",
        description=(
            "Routes the decision to the on-call, certified owner. Send an `Idempotency-Key` header: a retry with "
            "the same key and body returns the original decision (200); the same key with another body is a 422."
        ),
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "maxLength": 255},
                OpenApiParameter.HEADER,
                description=("Up to 255 characters; a retry with the same key and body returns the original decision."),
            )
        ],
        request=DecisionSubmitSerializer,
        responses={
            201: DecisionSerializer,
            200: OpenApiResponse(DecisionSerializer, description="Replay of an earlier submission."),
            413: OpenApiResponse(ErrorSerializer, description="Body or evidence too large."),
            415: OpenApiResponse(ErrorSerializer, description="Send application/json."),
            422: OpenApiResponse(ErrorSerializer, description="Idempotency-Key reused with another body."),
            **_errors(400, 401, 403, 429),
        },
    )
    def create(self, request):
        integration = self._require_integration()
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 255:
            raise ValidationError({"Idempotency-Key": ["At most 255 characters."]})
        if "\x00" in key:
            raise ValidationError({"Idempotency-Key": ["Null characters are not allowed."]})
        with metrics.INTAKE_SECONDS.time(), pinned_snapshot():  # one governance snapshot for the submission
            serializer = DecisionSubmitSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            decision, created = intake.decision_submit(
                integration=integration,
                actor=request.user,
                data=serializer.to_service_data(),
                request_fingerprint=intake.fingerprint(request.data),
                idempotency_key=key,
            )
        if created:
            decision = selectors.new_decision_for_response(decision)
        else:
            decision = selectors.decision_for_response(decision.pk)
        body = DecisionSerializer(decision, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Correct a pending decision",
        parameters=[DECISION_ID],
        description="Approvals already given are void: the signers must sign the corrected payload.",
        request=DecisionUpdateSerializer,
        responses={
            200: DecisionSerializer,
            409: OpenApiResponse(ErrorSerializer, description="Not pending."),
            **_errors(400, 401, 403, 404, 429),
        },
    )
    def partial_update(self, request, public_id=None):
        integration = self._require_integration()
        decision = self.get_object()
        serializer = DecisionUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        corrections.decision_update_payload(
            decision=decision, integration=integration, actor=request.user, changes=serializer.to_service_changes()
        )
        return Response(DecisionSerializer(selectors.decision_for_response(decision.pk)).data)

    @extend_schema(
        summary="The decision log",
        parameters=[DECISION_ID],
        description="Append-only and hash-chained: each event's `hash` covers its content and `prev_hash`.",
        responses={
            200: DecisionEventSerializer(many=True),
            400: ERRORS[400],
            409: _conflict(),
            **_errors(401, 404, 429),
        },
    )
    @action(detail=True, methods=["get"], pagination_class=DecisionEventCursor)
    def events(self, request, public_id=None):
        decision = self.get_object()
        page = self.paginate_queryset(selectors.decision_events(decision=decision))
        return self.get_paginated_response(DecisionEventSerializer(page, many=True).data)

    @extend_schema(
        summary="The decision's receipt",
        parameters=[DECISION_ID],
        description=(
            "Its events, each with its inclusion proof in the log of all decisions, the signed checkpoint the "
            "proofs lead to and the signing public key: verify it offline with `python decisions/verifier.py "
            "receipt.json --trusted-key <key>` (no Django, no database)."
        ),
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The receipt (format countersign-receipt/1)."),
            409: _conflict("Its newest events are not in a signed checkpoint yet."),
            **_errors(401, 404, 429),
        },
    )
    @action(detail=True, methods=["get"])
    def receipt(self, request, public_id=None):
        decision = self.get_object()
        try:
            return Response(receipts.receipt_for(decision))
        except receipts.ReceiptNotReady as exc:
            raise NotYetProvable(str(exc)) from exc

    @extend_schema(
        summary="Cancel a pending decision",
        parameters=[DECISION_ID],
        request=CancelSerializer,
        responses={
            200: DecisionSerializer,
            409: OpenApiResponse(ErrorSerializer, description="Not pending."),
            **_errors(400, 401, 403, 404, 429),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, public_id=None):
        integration = self._require_integration()
        decision = self.get_object()
        serializer = CancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cancellation.decision_cancel(
            decision=decision, integration=integration, actor=request.user, reason=serializer.validated_data["reason"]
        )
        return Response(DecisionSerializer(selectors.decision_for_response(decision.pk)).data)

    @extend_schema(
        summary="Report the outcome",
        parameters=[DECISION_ID],
        description="Once per decision, after its verdict: true/false positive or benign, and whether it was reverted.",
        request=OutcomeSerializer,
        responses={
            201: DecisionSerializer,
            409: _conflict("Still pending, or already reported."),
            **_errors(400, 401, 403, 404, 429),
        },
    )
    @action(detail=True, methods=["post"])
    def outcome(self, request, public_id=None):
        decision = self.get_object()
        serializer = OutcomeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcomes.decision_report_outcome(decision=decision, actor=request.user, **serializer.validated_data)
        body = DecisionSerializer(selectors.decision_for_response(decision.pk)).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["POST"],
        summary="Sign (people only)",
        parameters=[DECISION_ID],
        description=(
            "Approve, override (with `override_action`) or reject, with a reason code and a rationale. "
            "Integrations never sign; nor does the submitter; one person counts once."
        ),
        request=SignOffRequestSerializer,
        responses={
            201: SignOffSerializer,
            409: _conflict("Decision closed, or already signed by you."),
            **_errors(400, 401, 403, 404, 429),
        },
    )
    @extend_schema(
        methods=["GET"],
        summary="Sign-offs so far",
        parameters=[DECISION_ID],
        responses={200: SignOffSerializer(many=True), 409: _conflict(), **_errors(400, 401, 404, 429)},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=SignOffCursor)
    def signoffs(self, request, public_id=None):
        decision = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(selectors.decision_signoffs(decision=decision))
            return self.get_paginated_response(SignOffSerializer(page, many=True).data)
        serializer = SignOffRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # Only a browser session carries an authentication context; anything else (a personal
        # token, any other authenticator) never satisfies a step-up policy.
        via_session = isinstance(request.successful_authenticator, SessionAuthentication)
        auth = auth_context_of(request._request) if via_session else API_TOKEN
        signoff = signing.decision_sign_off(
            decision=decision, actor=request.user, auth=auth, **serializer.validated_data
        )
        signoff = selectors.decision_signoffs(decision=decision).get(pk=signoff.pk)
        return Response(SignOffSerializer(signoff).data, status=status.HTTP_201_CREATED)
