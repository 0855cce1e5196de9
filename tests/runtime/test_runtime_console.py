"""The console printer: untrusted text cannot drive the user's terminal."""

from __future__ import annotations

import io

from rich.console import Console

from flowagents.events import MessageSent, ToolReturned
from flowagents.messages import Message, ToolResponse
from flowagents.runtime._console import ConsolePrinter, printable

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
