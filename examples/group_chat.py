"""A group chat: a manager's model picks who speaks next among three specialists.

Offline: every agent and the manager's selector answer from a script. Run it with::

    python examples/group_chat.py
"""

from __future__ import annotations

import json

from flowagents import (
    AssistantAgent,
    GroupChat,
    GroupChatManager,
    ScriptedModel,
    UserProxyAgent,
)


def pick(name: str) -> str:
    """What a selector model answers: the next speaker's name as JSON."""
    return json.dumps({"next_speaker": name})


def main() -> None:
    planner = AssistantAgent(
        "planner",
        description="Breaks the task into steps.",
        llm_config=ScriptedModel(["Step 1: pick a venue. Step 2: send invitations."]),
    )
    researcher = AssistantAgent(
        "researcher",
        description="Finds facts: venues, prices, dates.",
        llm_config=ScriptedModel(["The town hall is free on Saturday and costs 200 EUR."]),
    )
    writer = AssistantAgent(
        "writer",
        description="Writes the final text.",
        llm_config=ScriptedModel(["Invitation: join us at the town hall on Saturday!\nTERMINATE"]),
    )
    group = GroupChat(
        agents=[planner, researcher, writer],
        max_round=8,
        speaker_selection_method="auto",
        allow_repeat_speaker=False,
    )
    manager = GroupChatManager(
        group,
        # The user is not a member, so the model picks the first speaker too.
        llm_config=ScriptedModel(
            [pick("planner"), pick("researcher"), pick("writer")], model="scripted-selector"
        ),
        is_termination_msg=lambda m: "TERMINATE" in (m.get("content") or ""),
    )
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
    result = user.initiate_chat(manager, message="Plan a neighbourhood party.")
    print("Speakers: " + " -> ".join(m["name"] for m in group.messages))
    print(f"Ended by: {result.termination_reason}")


if __name__ == "__main__":
    main()
