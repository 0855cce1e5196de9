"""human_input_mode (ALWAYS / TERMINATE / NEVER), max_consecutive_auto_reply, is_termination_msg."""

from __future__ import annotations

from typing import Any

import pytest
from agents_helpers import contains_terminate, contents, kinds, pair_graph, scripted_agent

from flowagents import ConversableAgent, Runner, ScriptedInput, UserProxyAgent
from flowagents.errors import HumanInputError
from flowagents.events import Event, HumanInputReceived, HumanInputRequested


def _proxy(mode: Any, answers: list[str], **options: Any) -> tuple[UserProxyAgent, ScriptedInput]:
    script = ScriptedInput(answers)
    options.setdefault("default_auto_reply", "continue")
    proxy = UserProxyAgent(
        "user",
        human_input_mode=mode,
        code_execution_config=False,
        input_provider=script,
        **options,
    )
    return proxy, script


def test_always_asks_every_turn_feedback_empty_and_exit() -> None:
    proxy, script = _proxy("ALWAYS", ["fix the edge case", "", "exit"])
    assistant = scripted_agent("assistant", ["draft 1", "draft 2", "draft 3", "never"])

    result = proxy.initiate_chat(assistant, message="write a sort", silent=True)

    # Human text is sent as the reply; empty input lets the proxy auto-reply; exit stops.
    assert contents(result.chat_history) == [
        "write a sort",
        "draft 1",
        "fix the edge case",
        "draft 2",
        "continue",
        "draft 3",
    ]
    assert result.human_input == ["fix the edge case", "", "exit"]
    assert result.termination_reason == "human_exit"
    assert script.remaining == 0
    assert [agent for agent, _ in script.prompts] == ["user", "user", "user"]
    assert assistant.client is not None
    assert assistant.client.remaining == 1  # type: ignore[attr-defined]


def test_always_empty_input_on_termination_message_ends_the_chat() -> None:
    proxy, _ = _proxy("ALWAYS", [""], is_termination_msg=contains_terminate)
    assistant = scripted_agent("assistant", ["done TERMINATE"])

    result = proxy.initiate_chat(assistant, message="task", silent=True)

    assert contents(result.chat_history) == ["task", "done TERMINATE"]
    assert result.termination_reason == "is_termination_msg"
    assert result.human_input == [""]


def test_terminate_mode_asks_only_on_termination_message() -> None:
    proxy, script = _proxy(
        "TERMINATE", ["one more thing", ""], is_termination_msg=contains_terminate
    )
    assistant = scripted_agent("assistant", ["step 1", "step 2 TERMINATE", "step 3 TERMINATE"])

    result = proxy.initiate_chat(assistant, message="task", silent=True)

    assert contents(result.chat_history) == [
        "task",
        "step 1",
        "continue",  # not a termination message: no human asked, auto-reply
        "step 2 TERMINATE",
        "one more thing",  # the human answered the termination message: the chat goes on
        "step 3 TERMINATE",
    ]
    assert result.human_input == ["one more thing", ""]
    assert len(script.prompts) == 2
    assert result.termination_reason == "is_termination_msg"


def test_terminate_mode_empty_input_at_auto_reply_limit_means_auto_reply() -> None:
    # AutoGen: at the auto-reply limit, TERMINATE mode asks the human; pressing enter on a
    # message that is not a termination message skips and auto-replies.
    proxy, script = _proxy(
        "TERMINATE", ["", ""], is_termination_msg=contains_terminate, max_consecutive_auto_reply=1
    )
    assistant = scripted_agent("assistant", ["r1", "r2", "done TERMINATE"])

    result = proxy.initiate_chat(assistant, message="task", silent=True)

    assert contents(result.chat_history) == [
        "task",
        "r1",
        "continue",
        "r2",
        "continue",  # empty input at the limit: auto-reply
        "done TERMINATE",
    ]
    assert result.human_input == ["", ""]
    assert result.termination_reason == "is_termination_msg"
    assert script.remaining == 0


def test_terminate_mode_exit_at_limit_stops() -> None:
    proxy, _ = _proxy("TERMINATE", ["exit"], max_consecutive_auto_reply=1)
    assistant = scripted_agent("assistant", ["r1", "r2", "r3"])

    result = proxy.initiate_chat(assistant, message="task", silent=True)

    assert contents(result.chat_history) == ["task", "r1", "continue", "r2"]
    assert result.human_input == ["exit"]
    assert result.termination_reason == "human_exit"


def test_never_mode_never_asks_and_stops_on_termination_message() -> None:
    proxy, script = _proxy("NEVER", [], is_termination_msg=contains_terminate)
    assistant = scripted_agent("assistant", ["r1", "r2", "finished TERMINATE"])

    result = proxy.initiate_chat(assistant, message="task", silent=True)

    assert contents(result.chat_history) == [
        "task",
        "r1",
        "continue",
        "r2",
        "continue",
        "finished TERMINATE",
    ]
    assert script.prompts == []
    assert result.human_input == []
    assert result.termination_reason == "is_termination_msg"


def test_max_consecutive_auto_reply_counts_per_agent() -> None:
    a = scripted_agent("a", ["a1", "a2", "a3", "a4"], max_consecutive_auto_reply=2)
    b = scripted_agent("b", ["b1", "b2", "b3", "b4"], max_consecutive_auto_reply=2)

    result = a.initiate_chat(b, message="hello", silent=True)

    # b replies twice, a replies twice, then b has reached its limit and stops.
    assert contents(result.chat_history) == ["hello", "b1", "a1", "b2", "a2"]
    assert result.termination_reason == "max_consecutive_auto_reply"

    # The counters start again with the next chat.
    again = a.initiate_chat(b, message="hello again", silent=True)
    assert contents(again.chat_history) == ["hello again", "b3", "a3", "b4", "a4"]


def test_max_consecutive_auto_reply_zero_never_replies() -> None:
    a = scripted_agent("a", ["a1"])
    b = scripted_agent("b", ["b1"], max_consecutive_auto_reply=0)

    result = a.initiate_chat(b, message="hello", silent=True)

    assert contents(result.chat_history) == ["hello"]
    assert result.termination_reason == "max_consecutive_auto_reply"


def test_update_max_consecutive_auto_reply_for_one_sender() -> None:
    a = scripted_agent("a", ["a1", "a2", "a3"])
    b = scripted_agent("b", ["b1", "b2", "b3"])
    b.update_max_consecutive_auto_reply(1, sender=a)
    assert b.max_consecutive_auto_reply(a) == 1
    assert b.max_consecutive_auto_reply() == 100

    result = a.initiate_chat(b, message="hi", silent=True)

    assert contents(result.chat_history) == ["hi", "b1", "a1"]


def test_is_termination_msg_sees_the_message_as_a_dict() -> None:
    seen: list[dict[str, Any]] = []

    def stop_on_done(message: dict[str, Any]) -> bool:
        seen.append(dict(message))
        return message.get("content") == "done"

    a = scripted_agent("a", ["keep going"])
    b = scripted_agent("b", ["working", "done", "unreachable"])
    a_stopper = ConversableAgent(
        "a", llm_config=a.llm_config, human_input_mode="NEVER", is_termination_msg=stop_on_done
    )

    result = a_stopper.initiate_chat(b, message="start", silent=True)

    assert contents(result.chat_history) == ["start", "working", "keep going", "done"]
    assert result.termination_reason == "is_termination_msg"
    assert seen[-1]["content"] == "done"
    assert seen[-1]["name"] == "b"
    assert seen[-1]["role"] == "user"


def test_human_input_is_recorded_as_events() -> None:
    proxy, _ = _proxy("ALWAYS", ["please add tests", "exit"])
    assistant = scripted_agent("assistant", ["code", "code with tests"])
    events: list[Event] = []

    result = Runner(pair_graph(proxy, assistant), sinks=[events.append]).run(
        "write code", sender="user"
    )

    assert result.human_inputs == ["please add tests", "exit"]
    requested = [e for e in events if isinstance(e, HumanInputRequested)]
    received = [e for e in events if isinstance(e, HumanInputReceived)]
    assert [e.text for e in received] == ["please add tests", "exit"]
    assert len(requested) == 2
    assert all(e.node == "user" for e in requested + received)
    assert kinds(events)[-2:] == ["terminated", "run_finished"]
    assert events[-1].status == "completed"  # type: ignore[union-attr]


def test_scripted_input_used_up_is_a_clear_error() -> None:
    proxy, _ = _proxy("ALWAYS", [])
    assistant = scripted_agent("assistant", ["r1"])

    with pytest.raises(HumanInputError, match="used up") as caught:
        proxy.initiate_chat(assistant, message="task", silent=True)

    assert "user" in str(caught.value)
    # What was said before the failure stays with the agents.
    assert contents(proxy.chat_messages[assistant]) == ["task", "r1"]


def test_patched_sync_get_human_input_answers_and_is_recorded() -> None:
    # AutoGen scripts feed input by replacing the sync method on the agent.
    proxy = UserProxyAgent("user", human_input_mode="ALWAYS", code_execution_config=False)
    answers = iter(["more please", "exit"])
    prompts: list[str] = []

    def fake_input(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    proxy.get_human_input = fake_input  # type: ignore[method-assign]
    assistant = scripted_agent("assistant", ["answer 1", "answer 2", "answer 3"])

    result = proxy.initiate_chat(assistant, message="hello", silent=True)

    assert contents(result.chat_history) == ["hello", "answer 1", "more please", "answer 2"]
    assert len(prompts) == 2
    assert result.human_input == ["more please", "exit"]


def test_subclass_get_human_input_calling_super_is_recorded_once() -> None:
    seen: list[str] = []

    class LoggingProxy(UserProxyAgent):
        def get_human_input(self, prompt: str) -> str:
            answer = super().get_human_input(prompt)
            seen.append(answer)
            return answer

    script = ScriptedInput(["fix it", "exit"])
    proxy = LoggingProxy(
        "user", human_input_mode="ALWAYS", code_execution_config=False, input_provider=script
    )
    assistant = scripted_agent("assistant", ["draft 1", "draft 2"])

    result = proxy.initiate_chat(assistant, message="task", silent=True)

    assert seen == ["fix it", "exit"]
    assert result.human_input == ["fix it", "exit"]
    assert contents(result.chat_history) == ["task", "draft 1", "fix it", "draft 2"]
