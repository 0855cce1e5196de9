"""The console printer: untrusted text cannot drive the user's terminal."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from flowagents import AssistantAgent, UserProxyAgent, observe
from flowagents.events import Event, MessageSent, ModelCalled, ToolReturned
from flowagents.messages import Message, ToolResponse
from flowagents.runtime._console import ConsolePrinter, printable
from flowagents.testing import LoopbackServer

HOSTILE = "ok \x1b[2J\x1b[31mred\x1b[0m \x1b]0;pwned\x07title [bold]x[/] bell\x07 cr\r\nnext\tline"


def test_printable_removes_terminal_controls_and_escapes_markup() -> None:
    assert printable(HOSTILE) == "ok red title \\[bold]x\\[/] bell cr\nnext\tline"


def test_a_message_with_escape_sequences_prints_as_plain_text() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, emoji=False, highlight=False, width=200)
    printer = ConsolePrinter(console)
    message = Message(
        role="user",
        name="executor",
        content=HOSTILE,
        tool_responses=[ToolResponse(tool_call_id="c1", content="done\x1b[1A\x1b[K")],
    )
    printer.sink(MessageSent(run_id="r", step="1", node="executor", message=message,
                             sender="executor", recipients=("writer",)))
    printer.sink(ToolReturned(run_id="r", step="1", call_id="c1", tool="t", content="x"))
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert "ok red title [bold]x[/] bell cr\nnext" in text  # Rich expands the tab
    assert "***** tool result done" in text


def test_an_answer_cut_short_is_recorded_and_shown(capsys: Any) -> None:
    cut = {
        "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{
            "index": 0, "finish_reason": "length",
            "message": {"role": "assistant", "content": "The answer is forty"},
        }],
    }
    with LoopbackServer(replies=[cut]) as server:
        config = {"config_list": [{"model": "m", "base_url": server.base_url, "api_key": "k"}]}
        assistant = AssistantAgent("assistant", llm_config=config)
        user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
        events: list[Event] = []
        with observe(events.append):
            user.initiate_chat(assistant, message="what is 6 x 7?", max_turns=1)
    (called,) = [e for e in events if isinstance(e, ModelCalled)]
    assert called.finish_reason == "length"
    out = capsys.readouterr().out
    assert "the model's answer to assistant was cut short (length)" in out
    assert out.index("cut short") < out.index("The answer is forty")
