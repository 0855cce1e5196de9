"""``flowagents run``: compile a graph file and run it on a task."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from flowagents.cli._app import app
from flowagents.errors import FlowAgentsError, RunError, RunLocation, describe_error
from flowagents.runtime._console import plain_console, printable


def fail(error: Exception, console: Console | None = None) -> typer.Exit:
    """Print ``error`` the way every command does and return the exit to raise.

    An error from user code that ended a run is printed with its type and location.
    """
    code = error.code if isinstance(error, FlowAgentsError) else RunError.code
    (console or plain_console(stderr=True)).print(
        f"[bold red]error[{code}][/] {printable(describe_error(error))}",
        highlight=False,
        soft_wrap=True,
    )
    return typer.Exit(code=1)


def reportable(error: Exception) -> bool:
    """Whether ``fail`` reports ``error``: ours, or one that ended a run (it has its place).

    Any other error is a bug, which keeps its traceback.
    """
    located = isinstance(getattr(error, "run_location", None), RunLocation)
    return located or isinstance(error, FlowAgentsError)


@app.command()
def run(
    graph_file: Annotated[Path, typer.Argument(help="The graph file (YAML) to run.")],
    task: Annotated[str, typer.Option("--task", "-t", help="The task: the first message.")],
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print the outcome only, not the conversation.")
    ] = False,
    max_turns: Annotated[
        int | None,
        typer.Option(min=1, help="Stop after this many messages (overrides the file)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for random speaker selection.")] = 0,
    run_id: Annotated[str | None, typer.Option(help="Use this run id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    store_path: Annotated[
        Path | None,
        typer.Option(
            "--store",
            help="Record into this run store; default $FLOWAGENTS_STORE or .flowagents/runs.db.",
        ),
    ] = None,
    record: Annotated[
        bool, typer.Option("--record/--no-record", help="Record the run into the store.")
    ] = True,
    non_interactive: Annotated[
        bool,
        typer.Option(
            help="Park the run (waiting_for_human) on human input; also when stdin is no TTY."
        ),
    ] = False,
    cache: Annotated[
        bool, typer.Option("--cache", help="Answer repeated model requests from the cache.")
    ] = False,
    cache_seed: Annotated[
        int | None, typer.Option(help="Cache namespace (implies --cache); default 41.")
    ] = None,
) -> None:
    """Run a conversation graph on a task, record it, and print the conversation."""
    if not record and (cache or cache_seed is not None):
        raise typer.BadParameter(
            "--cache and --cache-seed keep answers in the run store, which --no-record turns "
            "off: leave out one or the other",
            param_hint="'--no-record'",
        )
    from flowagents.cli._store_commands import input_provider, open_cli_store
    from flowagents.graph import compile_graph
    from flowagents.runtime import ConsolePrinter, Runner, new_run_id
    from flowagents.store import record_run

    console = plain_console()
    store = open_cli_store(store_path) if record else None
    try:
        graph = compile_graph(graph_file)
        sinks = [] if quiet or as_json else [ConsolePrinter(console).sink]
        inputs = input_provider(non_interactive)
        if store is not None:
            run_id = run_id or new_run_id()
            if not as_json:
                console.print(f"recording run {printable(run_id)} in {printable(store.location)}")
            result = record_run(
                store,
                graph,
                task,
                graph_file=graph_file,
                run_id=run_id,
                seed=seed,
                max_turns=max_turns,
                cache=cache,
                cache_seed=cache_seed,
                sinks=sinks,
                input_provider=inputs,
            )
        else:
            runner = Runner(
                graph,
                sinks=sinks,
                input_provider=inputs,
                max_turns=max_turns,
                seed=seed,
                manifest={"graph_file": str(graph_file)},
            )
            result = runner.run(task, run_id=run_id)
    except Exception as error:
        if not reportable(error):
            raise
        raise fail(error) from None
    finally:
        if store is not None:
            store.close()
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    from flowagents.cli._store_commands import print_outcome

    print_outcome(console, result)
    if result.status == "failed":
        raise typer.Exit(code=1)
