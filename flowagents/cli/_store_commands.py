"""The run store on the command line: runs, show, export, import, resume, replay."""

from __future__ import annotations

import datetime
import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from flowagents.cli._app import app
from flowagents.cli._run_command import fail, reportable
from flowagents.errors import FlowAgentsError, ReplayDivergenceError
from flowagents.runtime._console import plain_console, printable

if TYPE_CHECKING:
    from flowagents.runtime import InputProvider, RunResult
    from flowagents.store import RunStore

StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="The run store (SQLite file); default $FLOWAGENTS_STORE or .flowagents/runs.db.",
    ),
]


class ExportFormatOption(enum.StrEnum):
    """The forms ``export`` writes."""

    jsonl = "jsonl"
    json = "json"


def open_cli_store(path: Path | None, *, readonly: bool = False, create: bool = True) -> RunStore:
    """Open the store for a command, turning errors into the CLI's error exit.

    Commands that only read open it ``readonly``; those that need runs already in it do not
    ``create`` it: either way a mistyped path is an error, not a new empty store.
    """
    from flowagents.store import open_store

    try:
        return open_store(path, readonly=readonly, create=create)
    except FlowAgentsError as error:
        raise fail(error) from None


def input_provider(non_interactive: bool) -> InputProvider | None:
    """Park the run on human input when asked to, or when no terminal can answer."""
    from flowagents.store import NonInteractiveInput
    from flowagents.store._runs import stdin_is_interactive

    if non_interactive or not stdin_is_interactive():
        return NonInteractiveInput()
    return None


def print_outcome(console: Console, result: RunResult) -> None:
    """The last lines of run, resume and fork."""
    console.print(
        f"[bold]run {printable(result.run_id)}[/]: {result.status} "
        f"({printable(result.reason)}) after {len(result.messages)} messages"
    )
    if result.status == "waiting_for_human":
        console.print(
            f"waiting for human input ({printable(result.detail or result.last_node or '')}); "
            f"answer with: flowagents resume {printable(result.run_id)} --reply \"...\""
        )
    elif result.summary:
        console.print(f"[bold]result:[/] {printable(result.summary)}")


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


@app.command("runs")
def list_runs(
    store_path: StoreOption = None,
    graph: Annotated[str | None, typer.Option(help="Only runs of this graph.")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="Only runs with this status (running, completed, failed, ...)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
) -> None:
    """List recorded runs, newest first."""
    with open_cli_store(store_path, readonly=True) as store:
        try:
            runs = store.list_runs(graph=graph, status=status, limit=limit)
        except FlowAgentsError as error:
            raise fail(error) from None
    if as_json:
        typer.echo(json.dumps([run.model_dump(mode="json") for run in runs], indent=2))
        return
    table = Table()
    # The id is what `show`, `resume` and `replay` take: other columns shrink, it never does.
    table.add_column("run", no_wrap=True, min_width=max((len(r.run_id) for r in runs), default=3))
    for column in ("graph", "status", "reason", "started"):
        table.add_column(column, overflow="fold")
    table.add_column("events", no_wrap=True, justify="right")
    for run in runs:
        table.add_row(
            *map(printable, (run.run_id, run.graph, run.status, run.reason)),
            _when(run.started_at),
            str(run.events),
        )
    plain_console().print(table)


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="The run to show.")],
    store_path: StoreOption = None,
    events: Annotated[bool, typer.Option("--events", help="Print every event.")] = False,
) -> None:
    """Print a recorded run's transcript (or all its events)."""
    from flowagents.events import MessageSent
    from flowagents.store._verify import describe

    console = plain_console()
    with open_cli_store(store_path, readonly=True) as store:
        try:
            run = store.get_run(run_id)
            recorded = store.events(run_id)
        except FlowAgentsError as error:
            raise fail(error) from None
    console.print(
        f"[bold]run {printable(run.run_id)}[/] graph {printable(run.graph)}: "
        f"{printable(run.status)}"
        + (f" ({printable(run.reason)})" if run.reason else "")
        + f", started {_when(run.started_at)}, {run.events} events"
    )
    if run.task is not None:
        console.print(f"task: {printable(run.task)}")
    for event in recorded:
        if isinstance(event, MessageSent):
            speaker = event.sender or event.message.name or event.message.role
            console.print(
                f"\n[dim]{printable(event.step)}[/] [bold yellow]{printable(speaker)}[/]:"
            )
            if event.message.text:
                console.print(printable(event.message.text))
            for call in event.message.tool_calls or ():
                console.print(
                    f"[green]tool call {printable(call.name)}({printable(call.arguments)})[/]"
                )
        elif events:
            console.print(f"[dim]{printable(event.step)} {printable(describe(event))}[/]")


@app.command("export")
def export_command(
    run_id: Annotated[str, typer.Argument(help="The run to export.")],
    store_path: StoreOption = None,
    output_format: Annotated[
        ExportFormatOption, typer.Option("--format", help="jsonl (a record a line) or json.")
    ] = ExportFormatOption.jsonl,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Export a run (manifest, events, recorded answers) to a file or stdout."""
    from flowagents.errors import StoreError
    from flowagents.store import export_run

    with open_cli_store(store_path, readonly=True) as store:
        try:
            text = export_run(store, run_id, output_format.value)
        except FlowAgentsError as error:
            raise fail(error) from None
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(StoreError(f"cannot write {output}: {exc.strerror}")) from None


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A file written by flowagents export.")],
    store_path: StoreOption = None,
) -> None:
    """Import an exported run into the store."""
    from flowagents.errors import StoreError
    from flowagents.store import import_run

    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(StoreError(f"cannot read {file}: {exc.strerror}")) from None
    except UnicodeDecodeError as exc:
        raise fail(
            StoreError(
                f"cannot read {file}: it is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                f"at offset {exc.start}), so not a file flowagents export wrote"
            )
        ) from None
    with open_cli_store(store_path) as store:
        try:
            run = import_run(store, text, source=str(file))
        except FlowAgentsError as error:
            raise fail(error) from None
    typer.echo(f"imported run {run.run_id} ({run.graph}, {run.status}, {run.events} events)")


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to continue.")],
    store_path: StoreOption = None,
    reply: Annotated[
        str | None, typer.Option(help="The answer to the human input the run waits for.")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Resume even if the graph file changed since the run.")
    ] = False,
    non_interactive: Annotated[
        bool, typer.Option(help="Park the run again on the next human input request.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print the outcome only, not the conversation.")
    ] = False,
) -> None:
    """Continue a crashed, paused or failed run from its last committed step."""
    from flowagents.runtime import ConsolePrinter
    from flowagents.store import resume_run

    console = plain_console()
    with open_cli_store(store_path, create=False) as store:
        try:
            result = resume_run(
                store,
                run_id,
                reply=reply,
                force=force,
                sinks=[] if quiet else [ConsolePrinter(console).sink],
                input_provider=input_provider(non_interactive),
            )
        except Exception as error:
            if not reportable(error):
                raise
            raise fail(error) from None
    print_outcome(console, result)
    if result.status == "failed":
        raise typer.Exit(code=1)


@app.command()
def replay(
    run_id: Annotated[str, typer.Argument(help="The run to replay.")],
    store_path: StoreOption = None,
    from_step: Annotated[
        str | None,
        typer.Option(
            "--from", help="Fork a new run from this step, with live models from there on."
        ),
    ] = None,
    new_run_id: Annotated[
        str | None, typer.Option("--run-id", help="With --from: id of the fork.")
    ] = None,
    non_interactive: Annotated[
        bool, typer.Option(help="With --from: park the fork on human input.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print the outcome only, not the conversation.")
    ] = False,
) -> None:
    """Re-execute a run offline from its record and check it matches, step by step."""
    if new_run_id is not None and from_step is None:
        raise typer.BadParameter(
            "it names the new run of a fork, and only --from STEP forks: add --from, or leave "
            "out --run-id (a replay records nothing)",
            param_hint="'--run-id'",
        )
    from flowagents.runtime import ConsolePrinter
    from flowagents.store import fork_run, replay_run

    console = plain_console()
    sinks = [] if quiet else [ConsolePrinter(console).sink]
    # A replay writes nothing; a fork records a new run beside the one it starts from.
    forking = from_step is not None
    with open_cli_store(store_path, readonly=not forking, create=False) as store:
        try:
            if from_step is not None:
                result = fork_run(
                    store,
                    run_id,
                    from_step,
                    new_run_id=new_run_id,
                    sinks=sinks,
                    input_provider=input_provider(non_interactive),
                )
                console.print(
                    f"forked run {printable(result.run_id)} from {printable(run_id)} "
                    f"at step {printable(from_step)}"
                )
                print_outcome(console, result)
                return
            report = replay_run(store, run_id, sinks=sinks)
        except ReplayDivergenceError as error:
            notes = getattr(error, "__notes__", [])
            for note in notes:
                if not note.startswith("during "):
                    error.message += f"\n{note}"
            raise fail(error) from None
        except Exception as error:
            if not reportable(error):
                raise
            raise fail(error) from None
    ending = "the whole record" if report.complete else "the record up to where it stops"
    console.print(
        f"[bold]replay of run {printable(run_id)} matches {ending}[/]: "
        f"{report.events_checked} events checked, {report.answers_replayed} recorded answers "
        "fed back, no live calls"
    )
