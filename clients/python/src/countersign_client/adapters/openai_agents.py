"""OpenAI Agents SDK approvals through Countersign (``[openai-agents]`` extra).

    approvals = CountersignApprovals(client, request=lambda tool, args: {...submit's arguments...})

    @function_tool(needs_approval=approvals.needs_approval("isolate_host"))
    async def isolate_host(host: str) -> str: ...

    result = await Runner.run(agent, "…")
    while result.interruptions:                        # the tool calls waiting for a person
        state = await approvals.resolve(result, timeout=900)
        result = await Runner.run(agent, state)

``needs_approval(tool)`` submits each call of that tool as a decision (its Idempotency-Key is the
call id) and asks the SDK to pause unless policy auto-approved it. ``resolve`` replays each paused
call's submission, waits for its verdict (long-poll; ``VerdictTimeout`` when still pending: do not
resume) and approves the call only when a person approved it **as proposed**. An override is a
rejection of the call as proposed (the SDK would run the tool with the model's arguments): its
``final_action`` is in ``approvals.verdicts[call_id]`` for the application to execute.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from agents import RunContextWrapper, RunResult, RunState

from countersign_client.client import AsyncCountersign
from countersign_client.models import Decision

Request = Callable[[str, dict[str, Any]], dict[str, Any]]


class CountersignApprovals:
    def __init__(self, client: AsyncCountersign, *, request: Request) -> None:
        self.client = client
        self.request = request
        self.verdicts: dict[str, Decision] = {}

    async def _submit(self, tool: str, arguments: dict[str, Any], call_id: str) -> Decision:
        kwargs = dict(self.request(tool, arguments))
        return await self.client.submit(**kwargs, idempotency_key=f"openai-agents-{call_id}")

    def needs_approval(self, tool: str) -> Callable[[RunContextWrapper[Any], dict[str, Any], str], Awaitable[bool]]:
        """The ``needs_approval`` callable for ``function_tool``: True (pause) unless auto-approved."""

        async def check(context: RunContextWrapper[Any], arguments: dict[str, Any], call_id: str) -> bool:
            decision = await self._submit(tool, arguments, call_id)
            self.verdicts[call_id] = decision
            return not (decision.approved_as_proposed)

        return check

    async def resolve(self, result: RunResult, *, timeout: float) -> RunState:
        """The run's state with every paused call approved (a person approved it as proposed) or
        rejected (rejected, expired, cancelled, or overridden); ``VerdictTimeout`` if one is pending."""
        state = result.to_state()
        for item in result.interruptions:
            raw = item.raw_item
            call_id = str(getattr(raw, "call_id", "") or (raw.get("call_id") if isinstance(raw, dict) else ""))
            arguments_text = getattr(raw, "arguments", None) or (raw.get("arguments") if isinstance(raw, dict) else "")
            arguments = json.loads(arguments_text or "{}")
            decision = await self._submit(item.tool_name or "", arguments, call_id)
            verdict = await self.client.wait_for_verdict(decision.id, timeout=timeout)
            self.verdicts[call_id] = verdict
            if verdict.approved_as_proposed:
                state.approve(item)
            else:
                state.reject(item)
        return state
