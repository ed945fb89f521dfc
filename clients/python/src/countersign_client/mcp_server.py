"""``countersign-mcp``: an MCP server (stdio) that lets an AI agent ask people for approval.

    COUNTERSIGN_URL=https://countersign.example COUNTERSIGN_API_KEY=… countersign-mcp

Tools: ``request_approval`` (returns at once: the decision id, its status, who was asked),
``get_verdict`` (optionally waiting up to 60 s), ``cancel_request``. Only a verdict whose
``may_execute`` is true carries a ``final_action``, and that (not the original proposal) is what
the agent may execute. Needs the ``mcp`` extra: ``pip install './clients/python[mcp]'``.
Optional: COUNTERSIGN_AGENT_NAME / COUNTERSIGN_AGENT_VERSION (the ``model`` recorded with each
request; default ``mcp-agent``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.fastmcp import FastMCP

from countersign_client.client import MAX_WAIT, AsyncCountersign
from countersign_client.errors import APIError
from countersign_client.models import Decision

DO_NOT_ACT = "Pending: a person has not decided yet. Do NOT perform the action; check again with get_verdict."
STOPPED = "The action was not approved ({status}). Do NOT perform it."
GO = "Approved. Perform exactly final_action (it may differ from what you proposed), nothing else."

INSTRUCTIONS = (
    "Countersign routes risky security actions to an on-call, certified person. Before you perform an action "
    "that changes production state, touches regulated data or affects customers, call request_approval, then "
    "get_verdict. A pending verdict means: do not act. Act only when may_execute is true, and then perform "
    "final_action exactly."
)


def _instruction(decision: Decision) -> str:
    if decision.is_pending:
        return DO_NOT_ACT
    if decision.may_execute:
        return GO
    return STOPPED.format(status=decision.status)


def verdict(decision: Decision) -> dict[str, Any]:
    """What a tool returns: the state, and what the agent may do about it."""
    return {**decision.agent_state(), "instruction": _instruction(decision)}


def _settings() -> tuple[str, str]:
    missing = [name for name in ("COUNTERSIGN_URL", "COUNTERSIGN_API_KEY") if not os.environ.get(name)]
    if missing:
        raise SystemExit(f"countersign-mcp: set {' and '.join(missing)} (the portal, and an integration's API key)")
    return os.environ["COUNTERSIGN_URL"], os.environ["COUNTERSIGN_API_KEY"]


def _client() -> AsyncCountersign:
    url, key = _settings()
    return AsyncCountersign(url, api_key=key)


def _refused(exc: APIError) -> ValueError:
    fields = f" Fields: {exc.errors}" if exc.errors else ""
    return ValueError(f"Countersign refused ({exc.status} {exc.code}): {exc.detail}.{fields}")


@asynccontextmanager
async def _countersign() -> AsyncIterator[AsyncCountersign]:
    """A client for one tool call; the API's refusals become the tool's errors."""
    async with _client() as client:
        try:
            yield client
        except APIError as exc:
            raise _refused(exc) from exc


def build_server() -> FastMCP:
    server = FastMCP("countersign", instructions=INSTRUCTIONS)
    model = {
        "name": os.environ.get("COUNTERSIGN_AGENT_NAME", "mcp-agent"),
        "version": os.environ.get("COUNTERSIGN_AGENT_VERSION", ""),
    }

    @server.tool(
        description=(
            "Ask a person to approve an action BEFORE you perform it. Returns at once (it never waits for the "
            "person) with the request id, its status and who was asked. Status 'pending' means: do NOT act; call "
            "get_verdict later. 'auto_approved' means policy lets you act without a person: perform final_action. "
            "blast_radius and severity are one of low, medium, high, critical; ai_confidence is 0..1; target is "
            'a JSON object naming what the action touches (e.g. {"host": "laptop-042"}).'
        )
    )
    async def request_approval(
        action_type: str,
        title: str,
        recommendation: str,
        target: dict[str, Any],
        ai_confidence: float,
        blast_radius: str,
        severity: str,
        incident_ref: str = "",
        evidence: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        async with _countersign() as client:
            decision = await client.submit(
                action_type=action_type, title=title, recommendation=recommendation, target=target,
                ai_confidence=ai_confidence, blast_radius=blast_radius, severity=severity, model=model,
                incident_ref=incident_ref, evidence=evidence or {}, idempotency_key=idempotency_key,
            )  # fmt: skip
        asked = decision.owner_role or {}
        return {
            **verdict(decision),
            "asked": {
                "role": asked.get("name"),
                "people_who_may_sign": decision.eligible_signers,
                "approvals_needed": decision.required_approvals,
                "deadline": decision.deadline,
            },
        }

    @server.tool(
        description=(
            "The verdict on an approval request. wait_seconds (0 to 60) waits that long at most for a person to "
            "decide. Status 'pending' means: do NOT act yet, ask again later. Act only when may_execute is true, "
            "and then perform final_action exactly (a person may have changed it). Any other status "
            "(rejected, expired, cancelled) means: do NOT act."
        )
    )
    async def get_verdict(decision_id: str, wait_seconds: int = 0) -> dict[str, Any]:
        if not 0 <= wait_seconds <= MAX_WAIT:
            raise ValueError(f"wait_seconds is 0 to {MAX_WAIT}.")
        async with _countersign() as client:
            decision = await client.get(decision_id, wait=wait_seconds or None)
        return verdict(decision)

    @server.tool(
        description=(
            "Withdraw a pending approval request you no longer need (the situation changed). A cancelled request "
            "can never be approved: do NOT act on it."
        )
    )
    async def cancel_request(decision_id: str, reason: str = "") -> dict[str, Any]:
        async with _countersign() as client:
            decision = await client.cancel(decision_id, reason=reason)
        return verdict(decision)

    return server


def main() -> None:
    _settings()  # fail at start, not at the first tool call, when the environment is incomplete
    build_server().run("stdio")


if __name__ == "__main__":
    main()
