"""AutoGen ConversableAgent methods that map onto flowagents: receive, reset, and others."""

from __future__ import annotations

from typing import Any

from agents_helpers import contents, scripted_agent

from flowagents import ConversableAgent
from flowagents.agents import Agent


def test_receive_with_request_reply_sends_the_answer_back() -> None:
    a = scripted_agent("a", ["unused"])
    b = scripted_agent("b", ["from b"])

    b.receive("hi b", a, request_reply=True, silent=True)

    assert contents(b.chat_messages[a]) == ["hi b", "from b"]
    # As AutoGen: receive is the recipient's side; the sender keeps only the answer.
    assert contents(a.chat_messages[b]) == ["from b"]


def test_receive_without_request_reply_only_listens() -> None:
    a = scripted_agent("a", [])
    b = scripted_agent("b", ["unused"])

    b.receive({"content": "note", "role": "user"}, a)

    assert contents(b.chat_messages[a]) == ["note"]
    assert a.chat_messages == {}


def test_reset_clears_chats_and_restores_reply_configs() -> None:
    a = scripted_agent("a", ["a1"])
    b = scripted_agent("b", ["b1"])
    restored: list[Any] = []
    a.register_reply(b, lambda *_: (False, None), config={"n": 0}, reset_config=restored.append)
    a.register_reply(b, lambda *_: (False, None), config={"m": 1})
    a.initiate_chat(b, message="x", silent=True, max_turns=1)
    a._reply_func_list[0].config["m"] = 5

    a.reset()

    assert a.chat_messages == {}
    assert a.reply_at_receive == {}
    assert restored == [{"n": 0}]
    assert a._reply_func_list[0].config == {"m": 1}


def test_get_chat_results_after_initiate_chats() -> None:
    a = scripted_agent("a", [])
    b, c = (scripted_agent(name, [f"s-{name}"]) for name in ("b", "c"))

    results = a.initiate_chats(
        [
            {"recipient": b, "message": "T1", "max_turns": 1, "silent": True},
            {"recipient": c, "message": "T2", "max_turns": 1, "silent": True},
        ]
    )

    assert a.get_chat_results() == results
    assert a.get_chat_results(1) is results[1]


def test_execute_function_runs_the_function_map() -> None:
    agent = ConversableAgent("agent", llm_config=False, function_map={"add": lambda x, y: x + y})

    ok, message = agent.execute_function({"name": "add", "arguments": '{"x": 1, "y": 2}'})
    failed, error = agent.execute_function({"name": "missing", "arguments": "{}"})

    assert ok and message == {"name": "add", "role": "function", "content": "3"}
    assert not failed and error["name"] == "missing"
    assert agent.can_execute_function("add") and not agent.can_execute_function(["add", "x"])


def test_a_legacy_function_call_reply_is_executed_through_the_function_map() -> None:
    # A reply function answering in AutoGen's legacy form ({"function_call": ...}), as a
    # model behind api_style="function" would.
    replies = iter(
        [{"content": None, "function_call": {"name": "mul", "arguments": '{"a": 4, "b": 5}'}}]
    )
    assistant = ConversableAgent("assistant", llm_config=False, human_input_mode="NEVER")
    assistant.register_reply(
        [Agent, None], lambda agent, messages, sender, config: (True, next(replies, "TERMINATE"))
    )
    user = ConversableAgent(
        "user", llm_config=False, human_input_mode="NEVER", function_map={"mul": lambda a, b: a * b}
    )

    result = user.initiate_chat(assistant, message="4 times 5?", silent=True)

    assert contents(result.chat_history) == ["4 times 5?", None, "20", "TERMINATE"]
    call = result.chat_history[1]
    assert call["role"] == "assistant"
    assert call["tool_calls"][0]["function"] == {"name": "mul", "arguments": '{"a": 4, "b": 5}'}
    assert result.chat_history[2]["tool_responses"][0]["tool_call_id"] == (
        call["tool_calls"][0]["id"]
    )


def test_builtin_reply_functions_are_attributes_for_exclude_and_replace() -> None:
    agent = scripted_agent("agent", ["from the model"])
    other = scripted_agent("other", [])
    messages = [{"role": "user", "content": "hi"}]

    excluded = agent.generate_reply(messages, other, exclude=[ConversableAgent.generate_oai_reply])
    assert excluded == ""  # the default auto-reply: the model was not asked

    def canned(*_: Any) -> tuple[bool, str]:
        return True, "canned"

    agent.replace_reply_func(ConversableAgent.a_generate_oai_reply, canned)
    assert agent.generate_reply(messages, other) == "canned"
    assert ConversableAgent.check_termination_and_human_reply in agent.reply_functions
    agent.register_reply([Agent, None], ConversableAgent.generate_tool_calls_reply)
    assert agent.reply_functions[0] is ConversableAgent.a_generate_tool_calls_reply
