"""What a group member's model receives over HTTP, checked against the Chat Completions rules."""

from __future__ import annotations

from typing import Any

from flowagents import (
    AssistantAgent,
    GroupChat,
    GroupChatManager,
    ScriptedModel,
    UserProxyAgent,
    register_function,
)
from flowagents.agents._builtin_replies import to_wire, wire_name
from flowagents.testing import LoopbackServer


def _lookup(query: str) -> str:
    return f"found {query}"


def _sent_messages(body: dict[str, Any] | None) -> list[dict[str, Any]]:
    assert body is not None
    return list(body["messages"])


def test_after_a_tool_call_a_third_members_request_is_valid_chat_completions() -> None:
    call = {"tool_calls": [{"id": "call_7", "name": "lookup", "arguments": {"query": "x"}}]}
    with LoopbackServer(replies=["summary done"]) as server:
        caller = AssistantAgent("caller", llm_config=ScriptedModel([call]))
        runner = UserProxyAgent("runner", human_input_mode="NEVER", code_execution_config=False)
        writer = AssistantAgent(
            "Lead Writer",
            llm_config={"config_list": [{"model": "w", "base_url": server.base_url}]},
        )
        register_function(_lookup, caller=caller, executor=runner, name="lookup")
        group = GroupChat(
            [caller, runner, writer],
            messages=[],
            max_round=4,
            speaker_selection_method="round_robin",
        )
        manager = GroupChatManager(group, silent=True)
        writer.initiate_chat(manager, message="look x up", silent=True)

    (request,) = server.requests
    sent = _sent_messages(request.body)
    calling = next(m for m in sent if m.get("tool_calls"))
    # Only an assistant message may carry tool calls, and the tool result must follow it.
    assert calling["role"] == "assistant"
    answer = sent[sent.index(calling) + 1]
    assert (answer["role"], answer["tool_call_id"]) == ("tool", "call_7")
    assert answer["content"] == "found x"
    # OpenAI takes only [A-Za-z0-9_-] in names.
    assert all("name" not in m or wire_name(m["name"]) == m["name"] for m in sent)


def test_wire_names_keep_valid_names_and_replace_the_rest() -> None:
    assert wire_name("planner_2-b") == "planner_2-b"
    assert wire_name("Lead Writer.v2") == "Lead_Writer_v2"
    assert len(wire_name("x" * 80)) == 64
    sent = to_wire([{"role": "user", "content": "hi", "name": "Lead Writer"}])
    assert sent == [{"role": "user", "content": "hi", "name": "Lead_Writer"}]
