"""Synchronous calls made while an event loop runs: Jupyter cells and reply functions."""

from __future__ import annotations

import asyncio
from typing import Any

from agents_helpers import contents, scripted_agent

from flowagents import ChatResult, ConversableAgent, ScriptedInput
from flowagents.agents import Agent
from flowagents.events import Event, MessageSent
from flowagents.runtime import observe


def test_a_reply_function_can_start_a_synchronous_chat() -> None:
    user = scripted_agent("user", [])
    boss = ConversableAgent("boss", llm_config=False, human_input_mode="NEVER")
    expert = scripted_agent("expert", ["42"])

    def ask_expert(agent: Any, messages: Any, sender: Any, config: Any) -> tuple[bool, str]:
        inner = agent.initiate_chat(expert, message="Q", max_turns=1, silent=True)
        return True, "expert says " + inner.summary

    boss.register_reply([Agent, None], ask_expert)
    events: list[Event] = []
    with observe(events.append):
        result = user.initiate_chat(boss, message="meaning of life?", max_turns=1, silent=True)

    assert contents(result.chat_history) == ["meaning of life?", "expert says 42"]
    # The inner chat is recorded inside the outer run.
    said = [(e.run_id, e.sender) for e in events if isinstance(e, MessageSent)]
    assert (result.chat_id, "expert") in said


def test_initiate_chat_works_while_an_event_loop_runs() -> None:
    async def cell() -> ChatResult:
        a = scripted_agent("a", [])
        b = scripted_agent("b", ["hi"])
        return a.initiate_chat(b, message="x", max_turns=1, silent=True)

    result = asyncio.run(cell())

    assert contents(result.chat_history) == ["x", "hi"]


def test_a_reply_function_can_ask_the_human_synchronously() -> None:
    human = ScriptedInput(["approved"])
    gate = ConversableAgent(
        "gate", llm_config=False, human_input_mode="NEVER", input_provider=human
    )

    def ask(agent: Any, messages: Any, sender: Any, config: Any) -> tuple[bool, str]:
        return True, "human said " + agent.get_human_input("approve? ")

    gate.register_reply([Agent, None], ask)
    user = scripted_agent("user", [])
    result = user.initiate_chat(gate, message="deploy?", max_turns=1, silent=True)

    assert contents(result.chat_history) == ["deploy?", "human said approved"]
    assert result.human_input == ["approved"]
