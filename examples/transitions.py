"""Constrained speaker transitions: the selector may only choose a permitted successor.

``allowed_or_disallowed_speaker_transitions`` becomes the edges of the compiled graph; the
selector model is offered exactly the successors of the last speaker (here the scripted
selector prints what it was offered and takes each in turn). Run it with::

    python examples/transitions.py
"""

from __future__ import annotations

import json
from collections.abc import Callable

from flowagents import GroupChat, GroupChatManager, ScriptedModel, UserProxyAgent
from flowagents.agents import AssistantAgent
from flowagents.models import ModelRequest


def make_selector() -> Callable[[ModelRequest], str]:
    """A stand-in selector model: show the permitted names, take them in turn."""
    answered: list[str] = []

    def selector(request: ModelRequest) -> str:
        assert request.response_format is not None
        schema = request.response_format["json_schema"]["schema"]
        offered = schema["properties"]["next_speaker"]["enum"]
        choice = offered[len(answered) % len(offered)]
        answered.append(choice)
        print(f"[selector offered: {', '.join(offered)}; chose {choice}]")
        return json.dumps({"next_speaker": choice})

    return selector


def agent(name: str, description: str, replies: list[str]) -> AssistantAgent:
    return AssistantAgent(name, description=description, llm_config=ScriptedModel(replies))


def main() -> None:
    team_a_lead = agent("team_a_lead", "Leads team A.", ["A lead: I have 3 chocolates."] * 3)
    team_a_member = agent("team_a_member", "Member of team A.", ["A member: I have 2."] * 3)
    team_b_lead = agent("team_b_lead", "Leads team B.", ["B lead: team B has 7."] * 3)
    team_b_member = agent("team_b_member", "Member of team B.", ["B member: I have 4."] * 3)
    allowed = {
        team_a_lead: [team_a_member, team_b_lead],
        team_a_member: [team_a_lead],
        team_b_lead: [team_b_member, team_a_lead],
        team_b_member: [team_b_lead],
    }
    group = GroupChat(
        agents=[team_a_lead, team_a_member, team_b_lead, team_b_member],
        max_round=8,
        allowed_or_disallowed_speaker_transitions=allowed,
        speaker_transitions_type="allowed",
    )
    manager = GroupChatManager(group, llm_config=ScriptedModel(make_selector(), model="selector"))
    print("Edges of the compiled graph:")
    for edge in manager.graph.edges:
        print(f"  {edge.source} -> {edge.target}")
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
    user.initiate_chat(manager, message="Count the chocolates of both teams.")
    print("Speakers: " + " -> ".join(m["name"] for m in group.messages))


if __name__ == "__main__":
    main()
