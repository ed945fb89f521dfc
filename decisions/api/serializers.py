"""API shapes. Parsing and field validation only: rules live in ``decisions.services``."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.conf import settings
from django.urls import get_script_prefix, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from decisions.api.exceptions import PayloadTooLarge
from decisions.models import (
    DecisionEvent,
    DecisionRequest,
    DecisionStatus,
    OutcomeKind,
    ReasonCode,
    Verdict,
)
from governance.models import ActionType, Level
from governance.snapshot import current_snapshot

LEVELS = {level.name.lower(): level.value for level in Level}
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}
MAX_CHAIN_STEPS = 20


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def contains_nul(value: Any) -> bool:
    """True when a string (or an object key) anywhere in ``value`` holds U+0000 (iterative walk)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def copied_fields(declared: Mapping[str, serializers.Field]) -> dict[str, serializers.Field]:
    """Each serializer instance's own fields, copied from the declared ones. DRF deep-copies every
    declared field per instance, which runs each field's ``__init__`` again (a good part of a
    submission's CPU). A leaf field's state is set by its ``__init__`` and by ``bind`` (which sets
    attributes on the copy), so a shallow copy is an instance of its own; nested serializers hold
    fields and a bound child of their own and are deep-copied as DRF does."""
    return {
        name: copy.deepcopy(field) if isinstance(field, serializers.BaseSerializer) else copy.copy(field)
        for name, field in declared.items()
    }


class CopiedFieldsMixin:
    """``copied_fields`` instead of DRF's deep copy, for the serializers on intake's hot path."""

    _declared_fields: dict[str, serializers.Field]

    def get_fields(self) -> dict[str, serializers.Field]:
        return copied_fields(self._declared_fields)


class StrictSerializer(CopiedFieldsMixin, serializers.Serializer):
    """A request body (or a nested object in one) that refuses keys it does not declare: DRF drops
    them silently, and a misspelled flag (``affects_regulated_date``) would route a decision
    without the co-signer the flag calls for. Every unknown key is listed, each a 400."""

    def unknown_field_message(self, name: str) -> str:
        return "Unknown field."

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [self.unknown_field_message(name)] for name in unknown})
        return super().to_internal_value(data)


def chain_within_limit(value: list) -> list:
    if len(value) > MAX_CHAIN_STEPS:
        raise serializers.ValidationError(f"A chain has at most {MAX_CHAIN_STEPS} steps.")
    return value


class ConfidenceField(serializers.FloatField):
    """A JSON number: ``true`` or ``"0.9"`` is a type error, not a confidence (DRF would coerce both)."""

    default_error_messages = {"not_a_number": "Must be a JSON number from 0 to 1, not a string or a boolean."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("not_a_number")
        return super().to_internal_value(data)


class LevelField(serializers.ChoiceField):
    """low / medium / high / critical on the wire, an ordered integer in the database."""

    def __init__(self, **kwargs):
        super().__init__(choices=list(LEVELS), **kwargs)

    def to_internal_value(self, data):
        return LEVELS[super().to_internal_value(data)]

    def to_representation(self, value):
        return LEVEL_NAMES.get(value, value)


@extend_schema_field({"type": "string", "pattern": "^[-a-zA-Z0-9_]+$", "maxLength": 64})
class ActionTypeSlugField(serializers.SlugRelatedField):
    default_error_messages = {
        "does_not_exist": "Unknown action type '{value}'.",
        "invalid": "Give the action type's slug as a string.",
    }

    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=ActionType.objects.all(), **kwargs)

    def to_internal_value(self, data):
        # A list or an object is not a slug; a NUL byte would be a database error on PostgreSQL.
        if not isinstance(data, str) or "\x00" in data:
            self.fail("invalid")
        action_type = current_snapshot().action_types.get(data)  # cached: no query per submission
        if action_type is None:
            self.fail("does_not_exist", slug_name="slug", value=data)
        return action_type


class ModelInfoSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    version = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class SafeJSONField(serializers.JSONField):
    """Any JSON value that the database can store: PostgreSQL's jsonb refuses U+0000 (a 500 otherwise)."""

    default_error_messages = {"null_character": "Null characters are not allowed."}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if contains_nul(value):
            self.fail("null_character")
        return value


@extend_schema_field(
    {"type": "object", "additionalProperties": {}, "description": "No key or text in it may hold U+0000."}
)
class JSONObjectField(SafeJSONField):
    """A JSON object (not a list or a scalar), optionally size-limited."""

    default_error_messages = {"not_object": "Must be a JSON object."}

    def __init__(self, *, max_bytes: int | None = None, **kwargs):
        self.max_bytes = max_bytes
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            self.fail("not_object")
        if self.max_bytes is not None and json_size(value) > self.max_bytes:
            raise PayloadTooLarge(f"{self.field_name} is larger than {self.max_bytes} bytes.")
        return value


class ChainStepSerializer(StrictSerializer):
    agent = serializers.CharField(max_length=100)
    action = serializers.CharField(max_length=200)
    target = JSONObjectField(max_bytes=16 * 1024, required=False, default=dict)
    rationale = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class DecisionSubmitSerializer(StrictSerializer):
    """What an integration sends to submit a recommendation."""

    action_type = ActionTypeSlugField()
    title = serializers.CharField(max_length=200)
    recommendation = serializers.CharField(max_length=10_000)
    target = JSONObjectField(max_bytes=16 * 1024)
    ai_confidence = ConfidenceField(min_value=0.0, max_value=1.0)
    blast_radius = LevelField()
    severity = LevelField()
    affects_regulated_data = serializers.BooleanField(default=False)
    customer_impact = serializers.BooleanField(default=False)
    incident_ref = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    evidence = JSONObjectField(required=False, default=dict)
    model = ModelInfoSerializer()
    chain = ChainStepSerializer(many=True, required=False, default=list)

    def validate_ai_confidence(self, value: float) -> Decimal:
        return Decimal(str(value)).quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN)

    def validate_evidence(self, value: dict) -> dict:
        if json_size(value) > settings.EVIDENCE_MAX_BYTES:
            raise PayloadTooLarge(f"evidence is larger than {settings.EVIDENCE_MAX_BYTES} bytes.")
        return value

    def validate_chain(self, value: list) -> list:
        return chain_within_limit(value)

    def to_service_data(self) -> dict[str, Any]:
        data = dict(self.validated_data)
        model = data.pop("model")
        data["model_name"] = model["name"]
        data["model_version"] = model.get("version", "")
        data["proposed_chain"] = [dict(step) for step in data.pop("chain")]
        return data


class DecisionUpdateSerializer(StrictSerializer):
    """What an integration may correct on a pending decision (approvals given so far are void)."""

    title = serializers.CharField(max_length=200, required=False)
    recommendation = serializers.CharField(max_length=10_000, required=False)
    target = JSONObjectField(max_bytes=16 * 1024, required=False)
    evidence = JSONObjectField(required=False)
    incident_ref = serializers.CharField(max_length=100, required=False, allow_blank=True)
    chain = ChainStepSerializer(many=True, required=False)

    def unknown_field_message(self, name: str) -> str:
        if name in set(DecisionSubmitSerializer._declared_fields) - set(self.fields):
            return "Fixed at submission (routing depends on it); cancel and submit a new decision."
        return "Unknown field."

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send at least one field to change.")
        return attrs

    def validate_evidence(self, value: dict) -> dict:
        if json_size(value) > settings.EVIDENCE_MAX_BYTES:
            raise PayloadTooLarge(f"evidence is larger than {settings.EVIDENCE_MAX_BYTES} bytes.")
        return value

    def validate_chain(self, value: list) -> list:
        return chain_within_limit(value)

    def to_service_changes(self) -> dict[str, Any]:
        data = dict(self.validated_data)
        if "chain" in data:
            data["proposed_chain"] = [dict(step) for step in data.pop("chain")]
        return data


class RoleRefSerializer(CopiedFieldsMixin, serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class DecisionSerializer(CopiedFieldsMixin, serializers.Serializer):
    """A decision as integrations and people read it. Declared field by field (not a
    ModelSerializer): it is built on every response and introspection would cost each time."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    status = serializers.ChoiceField(choices=DecisionStatus.choices, read_only=True)
    integration = serializers.CharField(source="integration.name", read_only=True)
    action_type = serializers.CharField(source="action_type.slug", read_only=True)
    title = serializers.CharField(read_only=True)
    recommendation = serializers.CharField(read_only=True)
    target = serializers.JSONField(read_only=True)
    ai_confidence = serializers.DecimalField(max_digits=4, decimal_places=3, coerce_to_string=False, read_only=True)
    blast_radius = LevelField(read_only=True)
    severity = LevelField(read_only=True)
    affects_regulated_data = serializers.BooleanField(read_only=True)
    customer_impact = serializers.BooleanField(read_only=True)
    incident_ref = serializers.CharField(read_only=True)
    evidence = serializers.JSONField(read_only=True)
    model = serializers.SerializerMethodField()
    chain = serializers.JSONField(source="proposed_chain", read_only=True)
    payload_version = serializers.IntegerField(read_only=True)
    owner_role = RoleRefSerializer(read_only=True, allow_null=True)
    policy = serializers.SerializerMethodField()
    required_approvals = serializers.IntegerField(read_only=True)
    approvals_received = serializers.SerializerMethodField()
    eligible_signers = serializers.SerializerMethodField()
    current_step = serializers.IntegerField(read_only=True)
    deadline = serializers.DateTimeField(read_only=True, allow_null=True)
    final_action = serializers.JSONField(read_only=True, allow_null=True)
    outcome = serializers.SerializerMethodField()
    break_glass = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    decided_at = serializers.DateTimeField(read_only=True, allow_null=True)
    links = serializers.SerializerMethodField()

    @extend_schema_field({"type": "object", "properties": {"name": {"type": "string"}, "version": {"type": "string"}}})
    def get_model(self, obj: DecisionRequest) -> dict:
        return {"name": obj.model_name, "version": obj.model_version}

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {"name": {"type": "string"}, "version": {"type": "integer"}},
        }
    )
    def get_policy(self, obj: DecisionRequest) -> dict | None:
        policy = (obj.snapshot or {}).get("policy")
        return {"name": policy["name"], "version": policy["version"]} if policy else None

    @extend_schema_field(OpenApiTypes.INT)
    def get_approvals_received(self, obj: DecisionRequest) -> int:
        annotated = getattr(obj, "live_approvals", None)
        if annotated is not None:
            return annotated
        return obj.signoffs.filter(voided_at__isnull=True, verdict__in=[Verdict.APPROVE, Verdict.OVERRIDE]).count()

    @extend_schema_field(OpenApiTypes.INT)
    def get_eligible_signers(self, obj: DecisionRequest) -> int:
        if obj.status != DecisionStatus.PENDING:
            return 0
        return len({e["user_id"] for e in obj.eligible_entries})

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {
                "kind": {"type": "string"},
                "reverted": {"type": "boolean"},
                "notes": {"type": "string"},
            },
        }
    )
    def get_outcome(self, obj: DecisionRequest) -> dict | None:
        outcome = getattr(obj, "outcome", None)
        if outcome is None:
            return None
        return {"kind": outcome.kind, "reverted": outcome.reverted, "notes": outcome.notes}

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "description": "Set when a certified person executed the decision before its quorum (break-glass).",
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "by": {"type": "string"},
                "reason": {"type": "string"},
                "at": {"type": "string", "format": "date-time"},
                "review_due_at": {"type": "string", "format": "date-time"},
                "review": {"type": "string", "enum": ["", "confirmed", "condemned"]},
            },
            "required": ["id", "by", "reason", "at", "review_due_at", "review"],
        }
    )
    def get_break_glass(self, obj: DecisionRequest) -> dict | None:
        used = getattr(obj, "break_glass", None)
        if used is None:
            return None
        return {
            "id": str(used.public_id),
            "by": used.user.get_username(),
            "reason": used.reason,
            "at": used.at,
            "review_due_at": used.review_due_at,
            "review": used.review,
        }

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_links(self, obj: DecisionRequest) -> dict[str, str]:
        pid = str(obj.public_id)
        return {name: template.replace(_LINK_PLACEHOLDER, pid) for name, template in _link_templates().items()}


_LINK_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"
_LINKS = {
    "self": "api:decision-detail",
    "events": "api:decision-events",
    "cancel": "api:decision-cancel",
    "outcome": "api:decision-outcome",
    "signoffs": "api:decision-signoffs",
    "receipt": "api:decision-receipt",
}


def _link_templates() -> dict[str, str]:
    """A decision's links with a placeholder id, reversed once per script prefix (six
    ``reverse`` calls per response were a measurable part of intake)."""
    return _templates_for(get_script_prefix())


@functools.lru_cache(maxsize=8)
def _templates_for(prefix: str) -> dict[str, str]:
    return {name: reverse(view, args=[_LINK_PLACEHOLDER]) for name, view in _LINKS.items()}


class DecisionEventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = DecisionEvent
        fields = ["seq", "kind", "at", "actor", "data", "prev_hash", "hash"]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True})
    def get_actor(self, obj: DecisionEvent) -> str | None:
        return obj.actor.get_username() if obj.actor is not None else None


class CancelSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class OutcomeSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=OutcomeKind.choices)
    reverted = serializers.BooleanField(default=False)
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class SignOffRequestSerializer(StrictSerializer):
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    reason_code = serializers.ChoiceField(choices=ReasonCode.choices)
    rationale = serializers.CharField(max_length=5000)
    override_action = JSONObjectField(max_bytes=16 * 1024, required=False, allow_null=True, default=None)


class AuthContextSerializer(serializers.Serializer):
    """How the signer authenticated (null fields on sign-offs from before it was recorded)."""

    method = serializers.ChoiceField(
        choices=["sso", "password", "passkey", "api_token", "unknown"], allow_null=True, default=None
    )
    provider = serializers.CharField(allow_null=True, default=None, help_text="The IdP's id, or local.")
    authenticated_at = serializers.DateTimeField(
        allow_null=True, default=None, help_text="The signer's latest authentication before signing."
    )
    mfa = serializers.BooleanField(allow_null=True, default=None)
    via = serializers.ChoiceField(choices=["session", "api_token"], allow_null=True, default=None)


class SignOffSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    signer = serializers.CharField(source="signer.username")
    signed_as = serializers.CharField(source="signed_as.name")
    verdict = serializers.CharField()
    reason_code = serializers.CharField()
    rationale = serializers.CharField()
    override_action = serializers.JSONField(allow_null=True)
    auth = AuthContextSerializer(source="auth_context")
    created_at = serializers.DateTimeField()
    voided_at = serializers.DateTimeField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    # A declared field, not Serializer.errors: DRF's metaclass moves declared fields off the class.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.JSONField(), required=False, help_text="Messages per field (nested for nested fields)."
    )
