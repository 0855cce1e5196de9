"""ChatResult fields, summary methods, max_turns, clear_history and initiate_chats."""

from __future__ import annotations

from typing import Any

import pytest
from agents_helpers import contains_terminate, contents, scripted_agent

from flowagents import AssistantAgent, ChatResult, ConversableAgent, ScriptedInput, UserProxyAgent
from flowagents.agents._chat import DEFAULT_SUMMARY_PROMPT
from flowagents.errors import ConfigError
from flowagents.testing import LoopbackServer


def _llm_config(server: LoopbackServer, model: str = "gpt-test") -> dict[str, Any]:
    return {
        "config_list": [{"model": model, "api_key": "sk-test", "base_url": server.base_url}],
        "temperature": 0,
    }


def test_chat_result_fields_and_cost_per_model() -> None:
    writer = scripted_agent("writer", ["draft", "final draft TERMINATE"], model="writer-model")
    critic = scripted_agent(
        "critic",
        ["tighten it", "unused"],
        model="critic-model",
        is_termination_msg=contains_terminate,
    )

    result = critic.initiate_chat(writer, message="write a haiku", silent=True)

    assert isinstance(result, ChatResult)
    assert contents(result.chat_history) == [
        "write a haiku",
        "draft",
        "tighten it",
        "final draft TERMINATE",
    ]
    assert [m["name"] for m in result.chat_history] == ["critic", "writer", "critic", "writer"]
    # The history is the sender's view: its own messages are "assistant".
    assert [m["role"] for m in result.chat_history] == ["assistant", "user", "assistant", "user"]
    assert result.summary == "final draft "  # as AutoGen: not stripped
    assert result.run is not None and result.run.summary == "final draft "
    assert result.termination_reason == "is_termination_msg"
    assert result.human_input == []
    assert result.chat_id
    cost = result.cost["usage_including_cached_inference"]
    assert set(cost) == {"total_cost", "writer-model", "critic-model"}
    # ScriptedModel counts words: the writer's replies have 1 + 3 words.
    assert cost["writer-model"]["completion_tokens"] == 4
    assert cost["critic-model"]["completion_tokens"] == 2
    for model in ("writer-model", "critic-model"):
        usage = cost[model]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert usage["prompt_tokens"] > 0
    assert (
        result.cost["usage_excluding_cached_inference"]
        == result.cost["usage_including_cached_inference"]
    )


def test_price_in_the_config_list_gives_the_cost() -> None:
    with LoopbackServer(replies=["hello there"]) as server:
        config = _llm_config(server, model="priced")
        config["config_list"][0]["price"] = [1.0, 2.0]
        assistant = AssistantAgent("assistant", llm_config=config)
        user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)

        result = user.initiate_chat(assistant, message="hi", max_turns=1, silent=True)

    for block in ("usage_including_cached_inference", "usage_excluding_cached_inference"):
        usage = result.cost[block]["priced"]
        # As AutoGen: price is USD per 1,000 prompt and completion tokens.
        expected = (usage["prompt_tokens"] * 1.0 + usage["completion_tokens"] * 2.0) / 1000
        assert usage["completion_tokens"] == 2
        assert usage["cost"] == pytest.approx(expected)
        assert result.cost[block]["total_cost"] == pytest.approx(expected)


def test_chat_result_human_input() -> None:
    proxy = UserProxyAgent(
        "user",
        human_input_mode="ALWAYS",
        code_execution_config=False,
        input_provider=ScriptedInput(["make it shorter", "exit"]),
    )
    assistant = scripted_agent("assistant", ["long answer", "short"])

    result = proxy.initiate_chat(assistant, message="explain", silent=True)

    assert result.human_input == ["make it shorter", "exit"]
    assert result.summary == "short"


def test_summary_last_msg_removes_terminate() -> None:
    a = scripted_agent("a", [], is_termination_msg=contains_terminate)
    b = scripted_agent("b", ["The answer is 4. TERMINATE"])

    result = a.initiate_chat(b, message="2+2?", silent=True, summary_method="last_msg")

    assert result.summary == "The answer is 4. "  # as AutoGen: not stripped


def test_summary_none_is_empty() -> None:
    a = scripted_agent("a", [], is_termination_msg=contains_terminate)
    b = scripted_agent("b", ["ok TERMINATE"])

    result = a.initiate_chat(b, message="go", silent=True, summary_method=None)

    assert result.summary == ""


def test_summary_callable_gets_sender_recipient_and_args() -> None:
    seen: list[tuple[str, str, dict[str, Any]]] = []

    def summarize(
        sender: ConversableAgent, recipient: ConversableAgent, args: dict[str, Any]
    ) -> str:
        seen.append((sender.name, recipient.name, args))
        history = sender.chat_messages[recipient]
        return f"{args['label']}: {len(history)} messages"

    a = scripted_agent("a", [], is_termination_msg=contains_terminate)
    b = scripted_agent("b", ["TERMINATE"])

    result = a.initiate_chat(
        b, message="go", silent=True, summary_method=summarize, summary_args={"label": "count"}
    )

    assert result.summary == "count: 2 messages"
    assert seen == [("a", "b", {"label": "count"})]


def test_summary_method_unknown_is_a_config_error() -> None:
    a = scripted_agent("a", [], is_termination_msg=contains_terminate)
    b = scripted_agent("b", ["TERMINATE"])

    with pytest.raises(ConfigError, match="summary_method"):
        a.initiate_chat(b, message="go", silent=True, summary_method="telepathy")


def test_summary_method_is_checked_before_the_chat_spends_anything() -> None:
    a = scripted_agent("a", [], is_termination_msg=contains_terminate)
    b = scripted_agent("b", ["TERMINATE"])

    with pytest.raises(ConfigError, match="summary_method"):
        a.initiate_chat(b, message="go", silent=True, summary_method="telepathy")

    assert b.client is not None
    assert b.client.requests == []  # type: ignore[attr-defined]
    assert a.chat_messages[b] == []


def test_reflection_without_any_model_fails_before_the_chat() -> None:
    a = ConversableAgent("a", llm_config=False, human_input_mode="NEVER")
    b = ConversableAgent("b", llm_config=False, human_input_mode="NEVER", default_auto_reply="ok")

    with pytest.raises(ConfigError, match="needs a model"):
        a.initiate_chat(b, message="go", silent=True, summary_method="reflection_with_llm")

    assert b.chat_messages[a] == []


def test_initiate_chats_checks_every_summary_method_before_the_first_chat() -> None:
    user = scripted_agent("user", [])
    first, second = scripted_agent("first", ["one"]), scripted_agent("second", ["two"])

    with pytest.raises(ConfigError, match="summary_method"):
        user.initiate_chats(
            [
                {"recipient": first, "message": "a", "max_turns": 1, "silent": True},
                {"recipient": second, "message": "b", "max_turns": 1, "summary_method": "x"},
            ]
        )

    assert first.chat_messages[user] == []


def test_summary_reflection_with_llm_over_http() -> None:
    replies = ["Paris is the capital of France. TERMINATE", "France's capital is Paris."]
    with LoopbackServer(replies=replies) as server:
        assistant = AssistantAgent("assistant", llm_config=_llm_config(server))
        user = UserProxyAgent(
            "user",
            human_input_mode="NEVER",
            code_execution_config=False,
            is_termination_msg=contains_terminate,
        )
        result = user.initiate_chat(
            assistant,
            message="What is the capital of France?",
            silent=True,
            summary_method="reflection_with_llm",
        )
        requests = server.requests

    assert result.summary == "France's capital is Paris."
    assert len(requests) == 2
    summary_request = requests[1].body
    assert summary_request is not None
    wire = summary_request["messages"]
    # The transcript as the sender saw it, then the summary prompt as a system message.
    assert [m["content"] for m in wire[:2]] == [
        "What is the capital of France?",
        "Paris is the capital of France. TERMINATE",
    ]
    assert wire[-1] == {"role": "system", "content": DEFAULT_SUMMARY_PROMPT}
    # The summary call is part of the chat's cost.
    usage = result.cost["usage_including_cached_inference"]["gpt-test"]
    assert usage["completion_tokens"] == 7 + 4


def test_summary_reflection_with_custom_prompt() -> None:
    with LoopbackServer(replies=["done TERMINATE", "summary"]) as server:
        assistant = AssistantAgent("assistant", llm_config=_llm_config(server))
        user = UserProxyAgent(
            "user",
            human_input_mode="NEVER",
            code_execution_config=False,
            is_termination_msg=contains_terminate,
        )
        user.initiate_chat(
            assistant,
            message="task",
            silent=True,
            summary_method="reflection_with_llm",
            summary_args={"summary_prompt": "One word only."},
        )
        body = server.requests[-1].body

    assert body is not None
    assert body["messages"][-1] == {"role": "system", "content": "One word only."}


def test_max_turns_counts_round_trips() -> None:
    a = scripted_agent("a", ["a1", "a2", "a3"])
    b = scripted_agent("b", ["b1", "b2", "b3"])

    result = a.initiate_chat(b, message="start", silent=True, max_turns=2)

    assert contents(result.chat_history) == ["start", "b1", "a1", "b2"]
    assert result.termination_reason == "max_turns"
    assert result.summary == "b2"


def test_max_turns_one() -> None:
    a = scripted_agent("a", ["a1"])
    b = scripted_agent("b", ["b1"])

    result = a.initiate_chat(b, message="question", silent=True, max_turns=1)

    assert contents(result.chat_history) == ["question", "b1"]


def test_clear_history_false_keeps_the_previous_chat() -> None:
    a = scripted_agent("a", [])
    b = scripted_agent("b", ["b1", "b2", "b3"])

    a.initiate_chat(b, message="first", silent=True, max_turns=1)
    second = a.initiate_chat(b, message="second", silent=True, max_turns=1, clear_history=False)

    assert contents(second.chat_history) == ["first", "b1", "second", "b2"]
    assert contents(b.chat_messages[a]) == ["first", "b1", "second", "b2"]
    # b's model saw the whole history on its second turn.
    assert b.client is not None
    last_request = b.client.requests[-1]  # type: ignore[attr-defined]
    assert [m["content"] for m in last_request.messages[1:]] == ["first", "b1", "second"]

    third = a.initiate_chat(b, message="third", silent=True, max_turns=1)
    assert contents(third.chat_history) == ["third", "b3"]
    assert contents(b.chat_messages[a]) == ["third", "b3"]


def test_clear_history_method() -> None:
    a = scripted_agent("a", ["a1"])
    b = scripted_agent("b", ["b1", "b2"])
    c = scripted_agent("c", ["c1"])
    a.initiate_chat(b, message="to b", silent=True, max_turns=2)
    a.initiate_chat(c, message="to c", silent=True, max_turns=1)

    with pytest.raises(ValueError, match="several agents"):
        a.last_message()

    # As AutoGen: with a recipient, nr_messages_to_preserve is ignored.
    a.clear_history(b, nr_messages_to_preserve=1)
    assert a.chat_messages[b] == []
    assert contents(a.chat_messages[c]) == ["to c", "c1"]
    assert a.last_message(b) is None

    a.clear_history(nr_messages_to_preserve=1)
    assert contents(a.chat_messages[c]) == ["c1"]

    a.clear_history()
    assert a.chat_messages == {}
    assert a.last_message() is None
    with pytest.raises(KeyError):
        a.last_message(b)


def test_clear_history_keeps_a_tool_call_with_its_responses() -> None:
    a = scripted_agent("a", [])
    b = scripted_agent("b", [])
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    response = {"tool_call_id": "c1", "role": "tool", "content": "ok"}
    a.chat_messages[b].extend(
        [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "content": "ok", "tool_responses": [response]},
        ]
    )

    a.clear_history(nr_messages_to_preserve=1)

    assert [m["role"] for m in a.chat_messages[b]] == ["assistant", "tool"]


def test_only_exactly_terminate_ends_a_chat_by_default() -> None:
    a = scripted_agent("a", ["r1", "r2"])
    b = scripted_agent("b", [" TERMINATE\n", "TERMINATE"])

    result = a.initiate_chat(b, message="go", silent=True)

    # As AutoGen: surrounding whitespace keeps the chat going.
    assert contents(result.chat_history) == ["go", " TERMINATE\n", "r1", "TERMINATE"]


def test_initiate_chats_carries_summaries_over() -> None:
    user = scripted_agent("user", [])
    researcher = scripted_agent("researcher", ["Fact: bees dance."])
    writer = scripted_agent("writer", ["Poem about dancing bees."])
    critic = scripted_agent("critic", ["Nice poem."])

    results = user.initiate_chats(
        [
            {"recipient": researcher, "message": "Find a fact.", "max_turns": 1, "silent": True},
            {"recipient": writer, "message": "Write a poem.", "max_turns": 1, "silent": True},
            {
                "recipient": critic,
                "message": "Review it.",
                "carryover": "Be kind.",
                "max_turns": 1,
                "silent": True,
                "summary_method": lambda s, r, a: "critic summary",
            },
        ]
    )

    assert [r.summary for r in results] == [
        "Fact: bees dance.",
        "Poem about dancing bees.",
        "critic summary",
    ]
    assert contents(results[0].chat_history)[0] == "Find a fact."
    second = contents(results[1].chat_history)[0]
    assert second.startswith("Write a poem.")
    assert "Fact: bees dance." in second
    third = contents(results[2].chat_history)[0]
    assert third.startswith("Review it.")
    assert "Be kind." in third
    assert "Fact: bees dance." in third
    assert "Poem about dancing bees." in third
    # The writer's model was asked with the carried-over context.
    assert writer.client is not None
    asked = writer.client.requests[0].messages[-1]["content"]  # type: ignore[attr-defined]
    assert "Fact: bees dance." in asked


def test_module_level_initiate_chats_runs_each_chat_from_its_sender() -> None:
    import flowagents

    alice, bob = scripted_agent("alice", []), scripted_agent("bob", [])
    x, y = scripted_agent("x", ["x found it"]), scripted_agent("y", ["y wrote it"])

    results = flowagents.initiate_chats(
        [
            {"sender": alice, "recipient": x, "message": "Find.", "max_turns": 1, "silent": True},
            {"sender": bob, "recipient": y, "message": "Write.", "max_turns": 1, "silent": True},
        ]
    )

    assert [r.summary for r in results] == ["x found it", "y wrote it"]
    assert contents(alice.chat_messages[x]) == ["Find.", "x found it"]
    assert contents(bob.chat_messages[y]) == ["Write.\nContext: \nx found it", "y wrote it"]


def test_module_level_initiate_chats_without_a_sender_runs_no_chat() -> None:
    import flowagents

    alice = scripted_agent("alice", [])
    x, y = scripted_agent("x", ["x1"]), scripted_agent("y", ["y1"])

    with pytest.raises(ConfigError, match="chat 1 of initiate_chats has no 'sender'"):
        flowagents.initiate_chats(
            [
                {"sender": alice, "recipient": x, "message": "Find.", "silent": True},
                {"recipient": y, "message": "Write.", "silent": True},
            ]
        )
    assert x.chat_messages == {}


def test_initiate_chat_appends_its_carryover() -> None:
    a = scripted_agent("a", [])
    b = scripted_agent("b", ["ok"])

    result = a.initiate_chat(b, message="Task", carryover="prior", max_turns=1, silent=True)

    assert contents(result.chat_history)[0] == "Task\nContext: \nprior"


def test_initiate_chats_carryover_into_dict_messages_with_exclusions() -> None:
    a = scripted_agent("a", [])
    b, c, d = (scripted_agent(name, [f"s-{name}"]) for name in ("b", "c", "d"))
    once = {"max_turns": 1, "silent": True}

    results = a.initiate_chats(
        [
            {"recipient": b, "message": "T1", **once},
            {"recipient": c, "message": {"content": "T2", "role": "user"}, **once},
            {
                "recipient": d,
                "message": "T3",
                "carryover": ["own", {"content": "as dict"}],
                "finished_chat_indexes_to_exclude_from_carryover": [0],
                **once,
            },
        ]
    )

    assert contents(results[1].chat_history)[0] == "T2\nContext: \ns-b"
    assert contents(results[2].chat_history)[0] == "T3\nContext: \nown\nas dict\ns-c"


def test_initiate_chats_callable_message_reads_the_carryover() -> None:
    a = scripted_agent("a", [])
    b, c = (scripted_agent(name, [f"s-{name}"]) for name in ("b", "c"))
    seen: list[object] = []

    def message(sender: object, recipient: object, context: dict[str, object]) -> str:
        seen.append(context.get("carryover"))
        return "T2"

    results = a.initiate_chats(
        [
            {"recipient": b, "message": "T1", "max_turns": 1, "silent": True},
            {"recipient": c, "message": message, "max_turns": 1, "silent": True},
        ]
    )

    assert seen == [["s-b"]]
    # As AutoGen: a callable's message is sent as it is returned.
    assert contents(results[1].chat_history)[0] == "T2"


def test_initiate_chats_without_a_message_asks_the_human() -> None:
    human = ScriptedInput(["typed by human"])
    a = scripted_agent("a", [], input_provider=human)
    b, c = (scripted_agent(name, [f"s-{name}"]) for name in ("b", "c"))

    results = a.initiate_chats(
        [
            {"recipient": b, "message": "T1", "max_turns": 1, "silent": True},
            {"recipient": c, "max_turns": 1, "silent": True},
        ]
    )

    assert contents(results[1].chat_history)[0] == "typed by human\nContext: \ns-b"
    assert human.remaining == 0


def test_initiate_chats_without_recipient_is_a_config_error() -> None:
    user = scripted_agent("user", [])
    with pytest.raises(ConfigError, match="recipient"):
        user.initiate_chats([{"message": "hello"}])


def test_chat_with_itself_is_a_config_error() -> None:
    a = scripted_agent("a", ["x"])
    with pytest.raises(ConfigError, match="itself"):
        a.initiate_chat(a, message="hi", silent=True)


def test_message_callable_builds_the_first_message() -> None:
    a = scripted_agent("a", [])
    b = scripted_agent("b", ["b1"])

    def opening(
        sender: ConversableAgent, recipient: ConversableAgent, context: dict[str, Any]
    ) -> str:
        return f"{sender.name} asks {recipient.name} about {context['topic']}"

    result = a.initiate_chat(b, message=opening, topic="owls", silent=True, max_turns=1)

    assert contents(result.chat_history) == ["a asks b about owls", "b1"]


def test_a_chat_that_is_not_silent_prints_the_conversation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    a = scripted_agent("a", [])
    b = scripted_agent("b", ["printed reply"])

    a.initiate_chat(b, message="printed question", max_turns=1)

    out = capsys.readouterr().out
    assert "printed question" in out
    assert "printed reply" in out


def test_summary_reflection_uses_the_recipients_model_and_view() -> None:
    a = scripted_agent("a", ["hello from a", "summary by a's model"])
    b = scripted_agent("b", ["hello from b", "summary by b's model"])

    result = a.initiate_chat(
        b, message="start", max_turns=1, summary_method="reflection_with_llm", silent=True
    )

    assert result.summary == "summary by b's model"
    assert a.client is not None and b.client is not None
    assert a.client.requests == []  # type: ignore[attr-defined]
    summary_request = b.client.requests[-1]  # type: ignore[attr-defined]
    assert [(m["role"], m["content"]) for m in summary_request.messages] == [
        ("user", "start"),
        ("assistant", "hello from b"),
        ("system", DEFAULT_SUMMARY_PROMPT),
    ]
