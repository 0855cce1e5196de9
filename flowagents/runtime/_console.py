"""Printing a run's events on the console as they happen."""

from __future__ import annotations

import re
from collections.abc import Collection

from rich.console import Console
from rich.markup import escape

from flowagents.events import (
    CodeExecuted,
    ErrorRaised,
    Event,
    MessageSent,
    ModelCalled,
    SpeakerSelected,
    Terminated,
    ToolCalled,
)
from flowagents.models._protocol import CUT_SHORT


def plain_console(*, stderr: bool = False) -> Console:
    """A console that prints text as it is: no emoji codes, no highlighting, no hard wraps.

    User text (messages, run ids, paths) goes through ``printable`` where it is printed; with
    this console, Rich does not turn ``:smile:`` into an emoji or colour numbers either.
    """
    return Console(stderr=stderr, emoji=False, highlight=False, soft_wrap=True)


# Escape sequences (CSI, OSC, two-character ones) and C0/C1 controls, but newline and tab.
_TERMINAL_CONTROLS = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_])?"
    r"|[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f-\x9f]"
)


def printable(text: str) -> str:
    """``text`` ready for Rich's ``print``: markup escaped, terminal controls removed.

    Messages, code output and tool results are untrusted: an escape sequence in them must not
    recolour, clear or retitle the user's terminal, nor a carriage return hide what came
    before it on the line.
    """
    return escape(_TERMINAL_CONTROLS.sub("", text.replace("\r\n", "\n")))


class ConsolePrinter:
    """An event sink that prints messages, selections, code results and the ending.

    Messages from ``quiet_senders`` are not printed (AutoGen's ``silent`` agents).
    """

    def __init__(
        self, console: Console | None = None, *, quiet_senders: Collection[str] = ()
    ) -> None:
        self.console = console or plain_console()
        self.quiet_senders = frozenset(quiet_senders)

    def sink(self, event: Event) -> None:
        """Print one event (the signature of an event sink)."""
        out = self.console
        if isinstance(event, MessageSent):
            if event.sender in self.quiet_senders:
                return
            to = ", ".join(event.recipients) if len(event.recipients) <= 2 else "all"
            out.print(f"[bold yellow]{printable(event.sender)}[/] (to {printable(to)}):\n")
            message = event.message
            if message.text:
                out.print(printable(message.text))
            for call in message.tool_calls or ():
                out.print(
                    f"[green]***** tool call "
                    f"{printable(call.name)}({printable(call.arguments)})[/]"
                )
            for response in message.tool_responses or ():
                out.print(f"[green]***** tool result {printable(response.content)}[/]")
            out.print("\n" + "-" * 80)
        elif isinstance(event, SpeakerSelected):
            choice, method = printable(event.choice), printable(event.method)
            out.print(f"[dim]next speaker: {choice} ({method})[/]")
        elif isinstance(event, CodeExecuted):
            out.print(
                f"[red]>>>>>>>> EXECUTED {printable(event.language)} with "
                f"{printable(event.executor)} (exit code {event.exit_code})[/]"
            )
        elif isinstance(event, ModelCalled):
            if event.finish_reason in CUT_SHORT:
                out.print(
                    f"[bold red]the model's answer to {printable(event.node)} was cut short "
                    f"({printable(event.finish_reason or '')})[/]"
                )
        elif isinstance(event, ToolCalled):
            out.print(f"[red]>>>>>>>> CALLING TOOL {printable(event.tool)}[/]")
        elif isinstance(event, ErrorRaised):
            out.print(f"[bold red]error {printable(event.code)}: {printable(event.message)}[/]")
        elif isinstance(event, Terminated):
            detail = f": {event.detail}" if event.detail else ""
            out.print(f"[dim]conversation ended ({printable(event.reason)}{printable(detail)})[/]")
