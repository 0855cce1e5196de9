"""register_hook: AutoGen's hookable methods change what an agent reads and sends."""

from __future__ import annotations

from typing import Any

import pytest

from flowagents import Agent, ConversableAgent, GroupChat, GroupChatManager
from flowagents.errors import ConfigError


def _replying(name: str, answer: Any) -> ConversableAgent:
    agent = ConversableAgent(name, llm_config=False, human_input_mode="NEVER")
    agent.register_reply([Agent, None], lambda agent, messages, sender, config: answer(messages))
    return agent


def _signed(sender: Any, message: Any, recipient: Any, silent: bool) -> Any:
    return f"{message} [signed by {sender.name} for {recipient.name}]"


def test_reply_hooks_change_what_the_agent_reads_not_what_it_heard() -> None:
    seen: list[list[str]] = []

    def b_answer(messages: list[dict[str, Any]]) -> tuple[bool, str]:
        seen.append([m["content"] for m in messages])
        return True, f"b got {messages[-1]['content']}"

    a = _replying("a", lambda messages: (True, "again"))
    b = _replying("b", b_answer)
    b.register_hook("process_last_received_message", str.upper)
    b.register_hook("process_all_messages_before_reply", lambda messages: messages[-1:])

    result = a.initiate_chat(b, message="hello", max_turns=2, silent=True)

    assert seen == [["HELLO"], ["AGAIN"]]
    assert [m["content"] for m in result.chat_history] == [
        "hello",
        "b got HELLO",
        "again",
        "b got AGAIN",
    ]
    assert [m["content"] for m in b.chat_messages[a]] == [m["content"] for m in result.chat_history]


def test_send_hooks_change_every_message_the_agent_sends() -> None:
    a = _replying("a", lambda messages: (True, "again"))
    b = _replying("b", lambda messages: (True, "ok"))
    a.register_hook("process_message_before_send", _signed)

    result = a.initiate_chat(b, message="hello", max_turns=2, silent=True)
    history = [m["content"] for m in result.chat_history]
    a.send("bye", b, request_reply=False)

    assert history == [
        "hello [signed by a for b]",
        "ok",
        "again [signed by a for b]",
        "ok",
    ]
    assert b.chat_messages[a][-1]["content"] == "bye [signed by a for b]"


def test_send_hooks_apply_in_a_group_chat_to_the_opening_and_each_turn() -> None:
    a = _replying("a", lambda messages: (True, "a speaks"))
    b = _replying("b", lambda messages: (True, "b speaks"))
    a.register_hook("process_message_before_send", _signed)
    group = GroupChat([a, b], messages=[], max_round=3, speaker_selection_method="round_robin")
    manager = GroupChatManager(group, llm_config=False)

    a.initiate_chat(manager, message="start", silent=True)

    assert [m["content"] for m in group.messages] == [
        "start [signed by a for chat_manager]",
        "b speaks",
        "a speaks [signed by a for chat_manager]",
    ]


def test_hooks_run_in_registration_order() -> None:
    b = _replying("b", lambda messages: (True, messages[-1]["content"]))
    b.register_hook("process_last_received_message", lambda text: text + "1")
    b.register_hook("process_last_received_message", lambda text: text + "2")

    assert b.generate_reply([{"role": "user", "content": "x"}], None) == "x12"
    assert b.hook_lists["process_last_received_message"][0]("y") == "y1"


def test_an_unknown_hookable_method_or_a_second_registration_is_an_error() -> None:
    agent = ConversableAgent("a", llm_config=False)

    def hook(text: str) -> str:
        return text

    with pytest.raises(ConfigError, match="'nope' is not a hookable method"):
        agent.register_hook("nope", hook)
    agent.register_hook("process_last_received_message", hook)
    with pytest.raises(ConfigError, match="already registered"):
        agent.register_hook("process_last_received_message", hook)
