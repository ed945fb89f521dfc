"""The OpenAPI schema says what the server does (``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``).

drf-spectacular describes each serializer field; what the server does beyond a field is added here,
in one place, for every request body:
- no other keys (``additionalProperties: false``): every request serializer is strict;
- text is never U+0000 (PostgreSQL cannot store it) and a required text is never blank (DRF trims
  it first), as patterns;
- a correction changes at least one field (``minProperties: 1``); a chain has at most
  ``MAX_CHAIN_STEPS`` steps (drf-spectacular does not map a list serializer's ``max_length``);
- a sign-off is one of three shapes, by verdict: each with the reason codes that fit it, and the
  changed action exactly for an override (``oneOf`` with a ``verdict`` discriminator).
"""

from __future__ import annotations

from typing import Any

from decisions.api.serializers import MAX_CHAIN_STEPS
from decisions.models import REASONS_BY_VERDICT, Verdict

# A text with no U+0000, and one that also holds a character other than white space.
NO_NUL = "^[^\\u0000]*$"
NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"
SIGN_OFF_REQUEST = "SignOffRequestRequest"
PATCH_REQUEST = "PatchedDecisionUpdateRequest"
SUBMIT_REQUEST = "DecisionSubmitRequest"
JSON_OBJECT_NOTE = "A JSON object; no key or text in it may hold U+0000."
VERDICT_SHAPES: dict[str, str] = {
    Verdict.APPROVE: "Approve the recommended action as it stands.",
    Verdict.OVERRIDE: "Approve a changed action: its target or parameters, never its action type.",
    Verdict.REJECT: "Refuse the action: one eligible reject ends the decision.",
}


def _is_plain_text(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" and not ({"enum", "format", "pattern"} & set(schema))


def _describe_text(schema: dict[str, Any]) -> None:
    if _is_plain_text(schema):
        schema["pattern"] = NOT_BLANK if schema.get("minLength", 0) >= 1 else NO_NUL


def _strict_request(component: dict[str, Any]) -> None:
    component["additionalProperties"] = False
    for prop in component.get("properties", {}).values():
        _describe_text(prop)
        if prop.get("type") == "array":
            _describe_text(prop.get("items", {}))


def _sign_off_shape(verdict: str, base: dict[str, Any]) -> dict[str, Any]:
    properties = base["properties"]
    override = verdict == Verdict.OVERRIDE
    return {
        "type": "object",
        "additionalProperties": False,
        "description": VERDICT_SHAPES[verdict],
        "properties": {
            "verdict": {"type": "string", "enum": [verdict]},
            "reason_code": {"type": "string", "enum": sorted(REASONS_BY_VERDICT[verdict])},
            "rationale": properties["rationale"],
            "override_action": (
                {
                    "type": "object",
                    "additionalProperties": {},
                    "minProperties": 1,
                    "description": "What to execute instead (merged over the recommended action). "
                    + JSON_OBJECT_NOTE
                    + " An `action_type` in it must be the decision's own.",
                }
                if override
                else {
                    "type": "object",
                    "nullable": True,
                    "maxProperties": 0,
                    "description": "Only an override has one.",
                }
            ),
        },
        "required": ["verdict", "reason_code", "rationale", *(["override_action"] if override else [])],
    }


def _sign_off_by_verdict(components: dict[str, Any]) -> None:
    base = components[SIGN_OFF_REQUEST]
    names = {}
    for verdict in Verdict.values:
        name = f"{verdict.title()}SignOffRequest"
        components[name] = _sign_off_shape(verdict, base)
        names[verdict] = f"#/components/schemas/{name}"
    components[SIGN_OFF_REQUEST] = {
        "oneOf": [{"$ref": ref} for ref in names.values()],
        "discriminator": {"propertyName": "verdict", "mapping": names},
    }


def describe_the_server(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (see the module docstring)."""
    components = result.get("components", {}).get("schemas", {})
    for name, component in components.items():
        if name.endswith("Request") and component.get("type") == "object":
            _strict_request(component)
    if PATCH_REQUEST in components:
        components[PATCH_REQUEST]["minProperties"] = 1
    for name in (PATCH_REQUEST, SUBMIT_REQUEST):
        if name in components:
            components[name]["properties"]["chain"]["maxItems"] = MAX_CHAIN_STEPS
    if SIGN_OFF_REQUEST in components:
        _sign_off_by_verdict(components)
    return result
