"""Printing a run's events on the console as they happen."""

from __future__ import annotations

from collections.abc import Collection

from rich.console import Console
from rich.markup import escape

from flowagents.events import (
    CodeExecuted,
    ErrorRaised,
    Event,
    MessageSent,
    SpeakerSelected,
    Terminated,
    ToolCalled,
)


def plain_console(*, stderr: bool = False) -> Console:
    """A console that prints text as it is: no emoji codes, no highlighting, no hard wraps.

    User text (messages, run ids, paths) is escaped for markup where it is printed; this
    keeps Rich from also turning ``:smile:`` into an emoji or colouring numbers.
    """
    return Console(stderr=stderr, emoji=False, highlight=False, soft_wrap=True)


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
            out.print(f"[bold yellow]{escape(event.sender)}[/] (to {escape(to)}):\n")
            message = event.message
            if message.text:
                out.print(escape(message.text))
            for call in message.tool_calls or ():
                out.print(
                    f"[green]***** tool call {escape(call.name)}({escape(call.arguments)})[/]"
                )
            for response in message.tool_responses or ():
                out.print(f"[green]***** tool result {escape(response.content)}[/]")
            out.print("\n" + "-" * 80)
        elif isinstance(event, SpeakerSelected):
            out.print(f"[dim]next speaker: {escape(event.choice)} ({escape(event.method)})[/]")
        elif isinstance(event, CodeExecuted):
            out.print(
                f"[red]>>>>>>>> EXECUTED {escape(event.language)} with {escape(event.executor)}"
                f" (exit code {event.exit_code})[/]"
            )
        elif isinstance(event, ToolCalled):
            out.print(f"[red]>>>>>>>> CALLING TOOL {escape(event.tool)}[/]")
        elif isinstance(event, ErrorRaised):
            out.print(f"[bold red]error {escape(event.code)}: {escape(event.message)}[/]")
        elif isinstance(event, Terminated):
            detail = f": {event.detail}" if event.detail else ""
            out.print(f"[dim]conversation ended ({escape(event.reason)}{escape(detail)})[/]")
