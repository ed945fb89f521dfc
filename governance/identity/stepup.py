"""Step-up at signing: whether an authentication context satisfies what the decision's policy
asked for (frozen into its routing snapshot as ``step_up``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from governance.identity.context import AuthContext
from governance.models import ApprovalPolicy, StepUp

STALE_IDP = (
    "Your IdP did not sign you in again: the sign-in time it reports is from before this step-up "
    "began. Nothing was signed; sign in again at your IdP and confirm."
)


def step_up_of(policy: ApprovalPolicy | None) -> dict[str, Any] | None:
    """What a routing snapshot keeps of the policy's step-up demand (None: nothing asked)."""
    if policy is None or policy.step_up == StepUp.NONE:
        return None
    return {"mode": policy.step_up, "within_seconds": policy.step_up_minutes * 60}


def step_up_refusal(requirement: dict[str, Any] | None, context: AuthContext, *, now: datetime) -> str | None:
    """None when ``context`` satisfies ``requirement``, else why not (shown to the signer)."""
    if not requirement:
        return None
    minutes = int(requirement["within_seconds"]) // 60
    if context.via != "session":
        return "This decision's policy asks for a fresh sign-in at signing; an API token cannot give one."
    window = timedelta(seconds=int(requirement["within_seconds"]))
    # An IdP's auth_time is in whole seconds: a sign-in in the second the step-up began counts.
    began = context.step_up_began - timedelta(seconds=1) if context.step_up_began else None
    if requirement["mode"] == StepUp.MFA:
        if context.mfa_at is None or now - context.mfa_at > window:
            return f"This decision's policy asks for a second factor (MFA) within the last {minutes} minutes."
        if context.method == "sso" and began is not None and context.mfa_at < began:
            return STALE_IDP
        return None
    if context.fresh_at is None and context.method == "sso":
        return (
            "Your SSO sign-in cannot prove a fresh authentication (this IdP is not asked to sign you in "
            f"again): confirm with your password or your second factor, within the last {minutes} minutes."
        )
    if context.fresh_at is None or now - context.fresh_at > window:
        return f"This decision's policy asks you to have authenticated within the last {minutes} minutes."
    if context.method == "sso" and began is not None and context.fresh_at < began:
        return STALE_IDP
    return None
