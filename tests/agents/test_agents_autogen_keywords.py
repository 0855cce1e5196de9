"""AutoGen 0.2.35 keyword arguments: honoured where they map onto flowagents, else accepted."""

from __future__ import annotations

import pytest
from agents_helpers import scripted_agent

from flowagents import ConversableAgent, GroupChat, GroupChatManager, ScriptedModel


def test_an_agents_own_silent_wins_over_the_chats(capsys: pytest.CaptureFixture[str]) -> None:
    quiet = scripted_agent("quiet", ["hidden reply"], silent=True)
    loud = scripted_agent("loud", [], silent=False)

    loud.initiate_chat(quiet, message="shown question", max_turns=1, silent=True)

    out = capsys.readouterr().out
    assert "shown question" in out
    assert "hidden reply" not in out


def test_group_chat_selection_templates_build_the_selector_prompt() -> None:
    a = scripted_agent("a", ["a1"], description="writes poems")
    b = scripted_agent("b", ["b1"], description="does math")
    picks = ScriptedModel(["b"], model="picker")
    group = GroupChat(
        agents=[a, b],
        max_round=2,
        select_speaker_message_template="Roles:\n{roles}\nPick from {agentlist}.",
        select_speaker_prompt_template="Now pick one of {agentlist}.",
        role_for_select_speaker_messages="user",
    )

    a.initiate_chat(GroupChatManager(group, llm_config=picks), message="2+2?", silent=True)

    messages = picks.requests[0].messages
    assert messages[0] == {
        "role": "system",
        "content": "Roles:\na: writes poems\nb: does math\nPick from ['a', 'b'].",
    }
    assert {"role": "user", "content": "Now pick one of ['a', 'b']."} in messages
    assert [m["name"] for m in group.messages] == ["a", "b"]


def test_autogen_keywords_without_an_equivalent_are_accepted() -> None:
    a = scripted_agent("a", [])
    b = scripted_agent("b", [])
    group = GroupChat(
        [a, b],
        [],
        enable_clear_history=True,
        select_speaker_auto_verbose=True,
        select_speaker_auto_multiple_template="several: {agentlist}",
        select_speaker_auto_none_template="none: {agentlist}",
    )
    assert group.enable_clear_history

    def double(x: int) -> int:
        return 2 * x

    a.register_for_llm(description="doubles", api_style="function")(double)
    assert [tool.name for tool in a.tools] == ["double"]
    a.register_nested_chats([{"recipient": b, "max_turns": 1}], trigger=b, use_async=False)
    assert len(a.reply_functions) == 4
    assert ConversableAgent("c", llm_config=False, silent=True).silent is True
