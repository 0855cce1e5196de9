"""``flowagents run``: compile a graph file and run it on a task."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from flowagents.cli._app import app
from flowagents.errors import FlowAgentsError


def fail(error: FlowAgentsError, console: Console | None = None) -> typer.Exit:
    """Print ``error`` the way every command does and return the exit to raise."""
    (console or Console(stderr=True)).print(
        f"[bold red]error[{error.code}][/] {error}", highlight=False, soft_wrap=True
    )
    return typer.Exit(code=1)


@app.command()
def run(
    graph_file: Annotated[Path, typer.Argument(help="The graph file (YAML) to run.")],
    task: Annotated[str, typer.Option("--task", "-t", help="The task: the first message.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the result.")] = False,
    max_turns: Annotated[
        int | None, typer.Option(help="Stop after this many messages (overrides the file).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for random speaker selection.")] = 0,
    run_id: Annotated[str | None, typer.Option(help="Use this run id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run a conversation graph on a task and print the conversation."""
    from flowagents.graph import compile_graph
    from flowagents.runtime import ConsolePrinter, Runner

    console = Console(highlight=False, soft_wrap=True)
    try:
        graph = compile_graph(graph_file)
        sinks = [] if quiet or as_json else [ConsolePrinter(console).sink]
        runner = Runner(
            graph,
            sinks=sinks,
            max_turns=max_turns,
            seed=seed,
            manifest={"graph_file": str(graph_file)},
        )
        result = runner.run(task, run_id=run_id)
    except FlowAgentsError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    console.print(
        f"[bold]run {result.run_id}[/]: {result.status} ({result.reason}) after "
        f"{len(result.messages)} messages"
    )
    if result.summary:
        console.print(f"[bold]result:[/] {result.summary}")
    if result.status == "failed":
        raise typer.Exit(code=1)
