"""The OpenAI Agents SDK approval hook (clients/python, ``[openai-agents]`` extra) against a live
portal. The model is scripted (no model runs here): it calls the tool once, then answers. The
run pauses on the tool call (an interruption) while the decision is pending, the tool does not
run; after a person approves through the API the run resumes and the tool runs; a rejection
resumes the run without it."""

import asyncio
import json

import pytest
from agents import Agent, ModelResponse, Runner, Usage, function_tool, set_tracing_disabled
from agents.models.interface import Model
from countersign_client import AsyncCountersign, Countersign, VerdictTimeout
from countersign_client.adapters.openai_agents import CountersignApprovals
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from tests.e2e.portal_world import recommendation

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "EDR shows C2 beaconing."}
REJECT = {"verdict": "reject", "reason_code": "false_positive", "rationale": "A scanner, not C2."}


class ScriptedModel(Model):
    """Turn one: call ``isolate_host`` for laptop-042; afterwards: say it is done."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.turns = 0

    async def get_response(self, *args, **kwargs) -> ModelResponse:
        self.turns += 1
        if self.turns == 1:
            output = [
                ResponseFunctionToolCall(
                    type="function_call",
                    call_id=self.call_id,
                    name="isolate_host",
                    id="fc_1",
                    arguments=json.dumps({"host": "laptop-042"}),
                    status="completed",
                )  # fmt: skip
            ]
        else:
            text = ResponseOutputText(type="output_text", text="Handled.", annotations=[])
            output = [
                ResponseOutputMessage(id="msg_1", type="message", role="assistant", status="completed", content=[text])
            ]
        return ModelResponse(output=output, usage=Usage(), response_id=None)

    def stream_response(self, *args, **kwargs):
        raise NotImplementedError


def run_until_verdict(world, call_id: str, verdict: dict):
    """Run the agent; check the paused call does not resolve early; sign ``verdict`` as the person;
    resolve and resume. What ran, and the run's results."""
    isolated = []

    async def scenario():
        async with AsyncCountersign(world.url, api_key=world.key) as client:
            approvals = CountersignApprovals(
                client, request=lambda tool, args: recommendation(world, target={"host": args["host"]})
            )

            @function_tool(needs_approval=approvals.needs_approval("isolate_host"))
            async def isolate_host(host: str) -> str:
                """Isolate a host from the network."""
                isolated.append(host)
                return f"{host} isolated"

            model = ScriptedModel(call_id)
            agent = Agent(name="responder", instructions="Contain threats.", tools=[isolate_host], model=model)
            paused = await Runner.run(agent, "laptop-042 beacons to a C2 domain")
            decision = approvals.verdicts[call_id]
            with pytest.raises(VerdictTimeout):
                await approvals.resolve(paused, timeout=1)
            ran_before = list(isolated)
            with Countersign(world.url, token=world.token) as analyst:
                await asyncio.to_thread(analyst.sign_off, decision.id, **verdict)
            state = await approvals.resolve(paused, timeout=30)
            done = await Runner.run(agent, state)
            return paused, decision, ran_before, done, approvals.verdicts[call_id]

    paused, decision, ran_before, done, final = asyncio.run(scenario())
    return isolated, paused, decision, ran_before, done, final


@pytest.fixture(autouse=True)
def _no_tracing_export():
    set_tracing_disabled(True)


def test_a_tool_call_waits_for_a_person_and_runs_once_approved(world):
    isolated, paused, decision, ran_before, done, final = run_until_verdict(world, "call_4711", APPROVE)

    assert len(paused.interruptions) == 1
    assert decision.is_pending
    assert ran_before == []
    assert final.status == "approved"
    assert isolated == ["laptop-042"]
    assert done.final_output == "Handled."


def test_a_rejected_tool_call_never_runs(world):
    isolated, paused, _decision, ran_before, done, final = run_until_verdict(world, "call_4712", REJECT)

    assert len(paused.interruptions) == 1
    assert ran_before == []
    assert final.status == "rejected"
    assert isolated == []
    assert done.final_output == "Handled."
