"""A LangGraph node that asks Countersign before the graph acts (``[langgraph]`` extra).

    from countersign_client.adapters.langgraph import approval_node

    graph.add_node("approval", approval_node(client, request=lambda state: {...submit kwargs...}))
    graph.add_conditional_edges("approval", lambda s: "act" if s["countersign"]["may_execute"] else END)

The node submits the request (``client.submit``), optionally long-polls ``wait_seconds`` for the
verdict, and while it is pending calls LangGraph's ``interrupt()``: the graph pauses (needs a
checkpointer) with ``{"countersign": {"id", "status": "pending", ...}}`` as the interrupt's value.
Resume it with ``Command(resume=...)`` when the verdict may be in (its webhook arrived, or on a
timer): LangGraph runs the node again from the top, the submission replays (the same
Idempotency-Key: the thread id and the request body), and the node reads the verdict. It returns
``{"countersign": {"id", "status", "may_execute", "final_action"}}``: act only on ``may_execute``,
and then on ``final_action``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt

from countersign_client.client import Countersign
from countersign_client.models import Decision

STATE_KEY = "countersign"


def _key(config: RunnableConfig | None, request: dict[str, Any]) -> str:
    thread = str(((config or {}).get("configurable") or {}).get("thread_id", ""))
    digest = hashlib.sha256(json.dumps([thread, request], sort_keys=True, default=str).encode()).hexdigest()
    return f"langgraph-{digest[:48]}"


def state_of(decision: Decision) -> dict[str, Any]:
    return decision.agent_state()


def approval_node(
    client: Countersign,
    *,
    request: Callable[[Any], dict[str, Any]],
    wait_seconds: int = 0,
) -> Callable[..., dict[str, Any]]:
    """A node function: ``request(state)`` gives ``submit``'s keyword arguments (an
    ``idempotency_key`` among them is used as given)."""

    def node(state: Any, config: RunnableConfig | None = None) -> dict[str, Any]:
        kwargs = dict(request(state))
        key = kwargs.pop("idempotency_key", None) or _key(config, kwargs)
        decision = client.submit(**kwargs, idempotency_key=key)
        if decision.is_pending and wait_seconds:
            decision = client.get(decision.id, wait=wait_seconds)
        while decision.is_pending:  # each resume runs the node again from the top, past the answered interrupts
            interrupt({STATE_KEY: {**state_of(decision), "instruction": "Pending: do not act; resume later."}})
            decision = client.get(decision.id)
        return {STATE_KEY: state_of(decision)}

    return node
