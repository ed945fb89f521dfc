"""The LangGraph node (clients/python, ``[langgraph]`` extra) against a live portal: the graph
pauses at its interrupt while the decision is pending, a resume before the verdict pauses it
again, and after a person signs through the API the graph acts on the final action."""

import pytest
from countersign_client import Countersign
from countersign_client.adapters.langgraph import approval_node
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command
from typing_extensions import TypedDict

from tests.e2e.portal_world import recommendation

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "EDR shows C2 beaconing."}


class State(TypedDict, total=False):
    host: str
    countersign: dict
    executed: dict


def graph_for(client: Countersign, world):
    def act(state: State) -> State:
        return {"executed": state["countersign"]["final_action"]}

    builder = StateGraph(State)
    builder.add_node(
        "approval",
        approval_node(client, request=lambda s: recommendation(world, target={"host": s["host"]}), wait_seconds=1),
    )
    builder.add_node("act", act)
    builder.add_edge(START, "approval")
    builder.add_conditional_edges("approval", lambda s: "act" if s["countersign"]["may_execute"] else END)
    builder.add_edge("act", END)
    return builder.compile(checkpointer=InMemorySaver())


def test_the_graph_waits_at_the_interrupt_until_a_person_approves(world):
    config = {"configurable": {"thread_id": "incident-4711"}}
    with Countersign(world.url, api_key=world.key) as agent, Countersign(world.url, token=world.token) as analyst:
        graph = graph_for(agent, world)

        paused = graph.invoke({"host": "laptop-042"}, config)
        asked = paused["__interrupt__"][0].value["countersign"]
        still = graph.invoke(Command(resume="too early"), config)
        analyst.sign_off(asked["id"], **APPROVE)
        done = graph.invoke(Command(resume="verdict webhook arrived"), config)

    assert asked["status"] == "pending"
    assert asked["may_execute"] is False
    assert "executed" not in paused
    assert still["__interrupt__"][0].value["countersign"]["id"] == asked["id"]  # the same decision, replayed
    assert "executed" not in still
    assert done["countersign"]["status"] == "approved"
    assert done["executed"]["target"] == {"host": "laptop-042"}
