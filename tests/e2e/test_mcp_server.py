"""The MCP server (``countersign-mcp``, clients/python) end to end: the mcp SDK's own client
starts it over stdio, against a live portal (gunicorn, a celery worker, PostgreSQL, Redis). It
lists the tools, asks for approval (answered at once: pending, who was asked), reads a pending
verdict that says do not act, then the final verdict once a person signs through the API."""

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import pytest
from countersign_client import Countersign
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.e2e.portal_world import recommendation

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

COMMAND = Path(sys.executable).parent / "countersign-mcp"
APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "EDR shows C2 beaconing."}


def tool_result(result) -> dict:
    assert not result.isError, result.content
    return json.loads(result.content[0].text)


async def talk(world):
    params = StdioServerParameters(
        command=str(COMMAND),
        env={"PATH": os.environ["PATH"], "COUNTERSIGN_URL": world.url, "COUNTERSIGN_API_KEY": world.key},
    )
    body = recommendation(world)
    body.pop("model")
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        started = time.monotonic()
        asked = tool_result(await session.call_tool("request_approval", body))
        asked_in = time.monotonic() - started
        pending = tool_result(await session.call_tool("get_verdict", {"decision_id": asked["id"], "wait_seconds": 1}))
        with Countersign(world.url, token=world.token) as analyst:
            await asyncio.to_thread(analyst.sign_off, asked["id"], **APPROVE)
        final = tool_result(await session.call_tool("get_verdict", {"decision_id": asked["id"], "wait_seconds": 30}))
        other = tool_result(await session.call_tool("request_approval", {**body, "title": "Isolate laptop-043"}))
        cancelled = tool_result(await session.call_tool("cancel_request", {"decision_id": other["id"]}))
        refused = await session.call_tool("get_verdict", {"decision_id": asked["id"], "wait_seconds": 61})
    return tools, asked, asked_in, pending, final, cancelled, refused


def test_an_agent_asks_over_mcp_waits_while_pending_and_gets_the_final_action(world):
    tools, asked, asked_in, pending, final, cancelled, refused = asyncio.run(talk(world))

    assert set(tools) == {"request_approval", "get_verdict", "cancel_request"}
    assert "do NOT act" in tools["get_verdict"].description
    assert "never waits" in tools["request_approval"].description
    assert asked_in < 10  # at once, not when a person decides
    assert asked["status"] == "pending"
    assert asked["asked"]["people_who_may_sign"] == 1
    assert asked["asked"]["role"]
    assert pending["status"] == "pending"
    assert pending["may_execute"] is False
    assert pending["final_action"] is None
    assert "Do NOT perform" in pending["instruction"]
    assert final["status"] == "approved"
    assert final["may_execute"] is True
    assert final["final_action"]["target"] == {"host": "laptop-042"}
    assert cancelled["status"] == "cancelled"
    assert cancelled["may_execute"] is False
    assert refused.isError
