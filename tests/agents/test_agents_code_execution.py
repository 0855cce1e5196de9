"""Code the model wrote runs in the sandbox; a runaway program does not stop the chat."""

from __future__ import annotations

from pathlib import Path

from flowagents import AssistantAgent, ScriptedModel, UserProxyAgent
from flowagents.events import CodeExecuted, Event, MessageSent
from flowagents.runtime import observe

HANG = "This loops forever:\n```python\nwhile True:\n    pass\n```"
FIXED = "Fixed:\n```python\nprint('recovered', 6 * 7)\n```"
DONE = "It printed 42. TERMINATE"


def test_a_hanging_program_times_out_and_the_conversation_goes_on(tmp_path: Path) -> None:
    events: list[Event] = []
    assistant = AssistantAgent("assistant", llm_config=ScriptedModel([HANG, FIXED, DONE]))
    proxy = UserProxyAgent(
        "user_proxy",
        human_input_mode="NEVER",
        is_termination_msg=lambda m: "TERMINATE" in (m.get("content") or ""),
        code_execution_config={"work_dir": str(tmp_path), "timeout": 1},
    )

    with observe(events.append):
        result = proxy.initiate_chat(assistant, message="Compute 6*7.", silent=True)

    contents = [m["content"] for m in result.chat_history]
    assert contents[1] == HANG
    assert "timeout" in contents[2].lower()
    assert contents[3] == FIXED
    assert contents[4].startswith("exitcode: 0")
    assert "recovered 42" in contents[4]
    assert contents[5] == DONE
    executed = [e for e in events if isinstance(e, CodeExecuted)]
    assert [(e.timed_out, e.executor) for e in executed] == [(True, "sandbox"), (False, "sandbox")]
    assert executed[0].code.startswith("while True")
    # Each code result is a message of the user proxy's turn, in the same step as the execution.
    messages = {e.step: e for e in events if isinstance(e, MessageSent)}
    assert messages[executed[0].step].sender == "user_proxy"
    assert result.termination_reason == "is_termination_msg"
