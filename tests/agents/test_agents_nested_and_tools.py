"""register_nested_chats, and an agent consulted through a function call."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from agents_helpers import contains_terminate, contents, pair_graph, scripted_agent

from flowagents import (
    AssistantAgent,
    ConversableAgent,
    Message,
    Runner,
    ScriptedModel,
    ToolCall,
    UserProxyAgent,
    register_function,
)
from flowagents.events import Event, MessageSent, ToolCalled, ToolReturned


def test_nested_chats_answer_with_the_last_summary() -> None:
    writer = scripted_agent("writer", ["Draft: cats sleep a lot.", "Final: cats sleep 16 hours."])
    critic = scripted_agent("critic", ["unused"])
    reviewer = scripted_agent("reviewer", ["Add a number."])
    editor = scripted_agent("editor", ["Cats sleep about 16 hours a day."])
    critic.register_nested_chats(
        [
            {"recipient": reviewer, "max_turns": 1, "summary_method": "last_msg"},
            {"recipient": editor, "message": "Edit with the review.", "max_turns": 1},
        ],
        trigger=writer,
    )

    result = critic.initiate_chat(writer, message="Write about cats.", silent=True, max_turns=2)

    # critic's reply to the writer is the last nested summary, not its own model's answer.
    assert contents(result.chat_history) == [
        "Write about cats.",
        "Draft: cats sleep a lot.",
        "Cats sleep about 16 hours a day.",
        "Final: cats sleep 16 hours.",
    ]
    assert critic.client is not None
    assert critic.client.remaining == 1  # type: ignore[attr-defined]
    # The first nested chat got the triggering message; the second the carried-over review.
    assert contents(reviewer.chat_messages[critic]) == ["Draft: cats sleep a lot.", "Add a number."]
    opening = editor.chat_messages[critic][0]["content"]
    assert opening.startswith("Edit with the review.")
    assert "Add a number." in opening


def _writer_user_critic() -> tuple[ConversableAgent, ConversableAgent, ConversableAgent]:
    writer = ConversableAgent("writer", llm_config=False, human_input_mode="NEVER")
    return scripted_agent("user", []), writer, scripted_agent("critic", ["critique!"])


def test_nested_chat_callable_message_has_autogens_signature() -> None:
    user, writer, critic = _writer_user_critic()
    seen: list[Any] = []

    def message(recipient: Any, messages: list[dict[str, Any]], sender: Any, config: Any) -> str:
        seen.append((recipient, sender, config))
        return "Review: " + messages[-1]["content"]

    writer.register_nested_chats(
        [{"recipient": critic, "message": message, "max_turns": 1}], trigger=user
    )
    result = user.initiate_chat(writer, message="write", max_turns=1, silent=True)

    assert seen == [(writer, user, None)]
    assert contents(critic.chat_messages[writer]) == ["Review: write", "critique!"]
    assert contents(result.chat_history) == ["write", "critique!"]


def test_custom_reply_func_from_nested_chats_gets_the_chat_queue() -> None:
    user, writer, critic = _writer_user_critic()
    queue = [{"recipient": critic, "max_turns": 1}]
    seen: list[Any] = []

    def reply(chat_queue: Any, recipient: Any, messages: Any, sender: Any, config: Any) -> Any:
        seen.append((chat_queue, recipient, sender))
        return True, "custom nested reply"

    writer.register_nested_chats(queue, trigger=user, reply_func_from_nested_chats=reply)
    result = user.initiate_chat(writer, message="write", max_turns=1, silent=True)

    assert seen == [(queue, writer, user)]
    assert contents(result.chat_history) == ["write", "custom nested reply"]


def test_nested_chats_after_the_first_without_a_message_are_skipped() -> None:
    user, writer, critic = _writer_user_critic()
    second = scripted_agent("second", ["two"])
    writer.register_nested_chats(
        [{"recipient": critic, "max_turns": 1}, {"recipient": second, "max_turns": 1}],
        trigger=user,
    )

    result = user.initiate_chat(writer, message="write", max_turns=1, silent=True)

    assert contents(result.chat_history) == ["write", "critique!"]
    assert second.chat_messages[writer] == []


def test_nested_chats_only_for_their_trigger() -> None:
    expert = scripted_agent("expert", ["nested answer"])
    host = scripted_agent("host", ["own answer"])
    host.register_nested_chats([{"recipient": expert, "max_turns": 1}], trigger="boss")
    stranger = scripted_agent("stranger", [])
    boss = scripted_agent("boss", [])

    from_stranger = stranger.initiate_chat(host, message="q1", silent=True, max_turns=1)
    from_boss = boss.initiate_chat(host, message="q2", silent=True, max_turns=1)

    assert contents(from_stranger.chat_history) == ["q1", "own answer"]
    assert contents(from_boss.chat_history) == ["q2", "nested answer"]


def test_nested_chats_are_recorded_in_the_enclosing_run() -> None:
    student = scripted_agent("student", [])
    tutor = scripted_agent("tutor", ["unused"])
    expert = scripted_agent("expert", ["Photosynthesis makes sugar from light."])
    tutor.register_nested_chats([{"recipient": expert, "max_turns": 1}], trigger=student)
    events: list[Event] = []

    result = Runner(pair_graph(student, tutor), sinks=[events.append], max_turns=2).run(
        "What is photosynthesis?", sender="student"
    )

    assert result.messages[-1].text == "Photosynthesis makes sugar from light."
    messages = [e for e in events if isinstance(e, MessageSent)]
    # The nested chat's two messages appear between the question and the tutor's answer,
    # under the tutor's step, in one run with one sequence.
    assert [(m.sender, m.message.text) for m in messages] == [
        ("student", "What is photosynthesis?"),
        ("tutor", "What is photosynthesis?"),
        ("expert", "Photosynthesis makes sugar from light."),
        ("tutor", "Photosynthesis makes sugar from light."),
    ]
    tutor_step = messages[-1].step
    assert messages[1].step.startswith(tutor_step + "/")
    assert messages[2].step.startswith(tutor_step + "/")
    assert {e.run_id for e in events} == {result.run_id}
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.kind for e in events].count("run_started") == 1
    assert [e.kind for e in events].count("run_finished") == 1


def _student_and_expert() -> tuple[AssistantAgent, UserProxyAgent, list[str]]:
    """The reference's 'student asks an expert': a tool runs a chat with the expert."""
    asked: list[str] = []
    expert = AssistantAgent(
        "expert", llm_config=ScriptedModel(["Use the quadratic formula: x = 2 or x = 3."])
    )
    expert_proxy = UserProxyAgent(
        "expert_proxy", human_input_mode="NEVER", code_execution_config=False
    )
    student = AssistantAgent(
        "student",
        llm_config=ScriptedModel(
            [
                Message(
                    role="assistant",
                    content=None,
                    tool_calls=[
                        ToolCall(
                            id="call_1",
                            name="ask_expert",
                            arguments=json.dumps({"message": "How do I solve x^2-5x+6=0?"}),
                        )
                    ],
                ),
                "The roots are 2 and 3. TERMINATE",
            ]
        ),
    )
    user = UserProxyAgent(
        "user",
        human_input_mode="NEVER",
        code_execution_config=False,
        is_termination_msg=contains_terminate,
    )

    async def ask_expert(message: Annotated[str, "the question for the expert"]) -> str:
        asked.append(message)
        result = await expert_proxy.a_initiate_chat(
            expert, message=message, max_turns=1, silent=True, summary_method="last_msg"
        )
        return result.summary

    register_function(
        ask_expert, caller=student, executor=user, description="Ask an expert in math."
    )
    return student, user, asked


def test_student_asks_an_expert_through_a_function_call() -> None:
    student, user, asked = _student_and_expert()

    result = user.initiate_chat(student, message="Solve x^2-5x+6=0.", silent=True)

    assert asked == ["How do I solve x^2-5x+6=0?"]
    history = result.chat_history
    assert history[1]["tool_calls"][0]["function"]["name"] == "ask_expert"
    tool_result = history[2]
    assert tool_result["role"] == "tool"
    assert tool_result["tool_responses"][0]["tool_call_id"] == "call_1"
    assert "x = 2 or x = 3" in tool_result["tool_responses"][0]["content"]
    assert history[3]["content"] == "The roots are 2 and 3. TERMINATE"
    assert result.summary == "The roots are 2 and 3. "
    # The student's model saw the tool schema and then the expert's answer.
    assert student.client is not None
    requests = student.client.requests  # type: ignore[attr-defined]
    tool = requests[0].tools[0]["function"]
    assert tool["name"] == "ask_expert"
    assert tool["description"] == "Ask an expert in math."
    assert tool["parameters"]["properties"]["message"]["description"] == (
        "the question for the expert"
    )
    assert requests[1].messages[-1]["role"] == "tool"
    assert "x = 2 or x = 3" in requests[1].messages[-1]["content"]


def test_student_asks_an_expert_events_nest_under_the_tool_step() -> None:
    student, user, _ = _student_and_expert()
    events: list[Event] = []

    Runner(pair_graph(user, student), sinks=[events.append]).run("Solve x^2-5x+6=0.", sender="user")

    called = [e for e in events if isinstance(e, ToolCalled)]
    returned = [e for e in events if isinstance(e, ToolReturned)]
    assert [e.tool for e in called] == ["ask_expert"]
    assert not returned[0].is_error
    expert_messages = [
        e for e in events if isinstance(e, MessageSent) and e.sender in ("expert", "expert_proxy")
    ]
    assert [e.message.text for e in expert_messages] == [
        "How do I solve x^2-5x+6=0?",
        "Use the quadratic formula: x = 2 or x = 3.",
    ]
    # The expert chat ran inside the user's tool-executing step.
    assert all(e.step.startswith(called[0].step + "/") for e in expert_messages)


def test_register_function_tool_error_is_reported_to_the_model() -> None:
    def divide(a: int, b: int) -> float:
        return a / b

    caller = AssistantAgent(
        "caller",
        llm_config=ScriptedModel(
            [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "divide", "arguments": '{"a": 1, "b": 0}'},
                        }
                    ],
                },
                "Division by zero. TERMINATE",
            ]
        ),
    )
    executor = UserProxyAgent(
        "executor",
        human_input_mode="NEVER",
        code_execution_config=False,
        is_termination_msg=contains_terminate,
    )
    register_function(divide, caller=caller, executor=executor, description="Divide.")

    result = executor.initiate_chat(caller, message="1/0?", silent=True)

    content: Any = result.chat_history[2]["tool_responses"][0]["content"]
    assert "ZeroDivisionError" in content or "division by zero" in content
    assert result.chat_history[-1]["content"] == "Division by zero. TERMINATE"


def test_a_printed_chat_inside_a_printed_chat_prints_each_message_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A printed chat whose reply runs another printed chat (as a tool or reply function may).
    outer = scripted_agent("outer", [])
    inner_a = scripted_agent("inner_a", [])
    inner_b = scripted_agent("inner_b", ["inner reply"])

    async def consult(agent: Any, messages: Any, sender: Any, config: Any) -> tuple[bool, str]:
        result = await inner_a.a_initiate_chat(inner_b, message="inner question", max_turns=1)
        return True, result.summary

    host = scripted_agent("host", [])
    host.register_reply(outer, consult)

    outer.initiate_chat(host, message="outer question", max_turns=1)

    out = capsys.readouterr().out
    assert out.count("outer (to host):") == 1
    assert out.count("inner_a (to inner_b):") == 1
    assert out.count("inner_b (to inner_a):") == 1
    assert out.count("host (to outer):") == 1
