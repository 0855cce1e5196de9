"""``flowagents validate`` and ``flowagents schema``: the graph compiler on the command line."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from flowagents.cli._app import app
from flowagents.errors import GraphLoadError, SourceLocation
from flowagents.graph import Finding, check_graph, graph_json_schema
from flowagents.graph._schema import render_reference


class OutputFormat(enum.StrEnum):
    """How ``validate`` prints findings."""

    text = "text"
    json = "json"


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Graph files to check.")],
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            help="text: a line per finding (each schema violation is one), "
            "file:line:col: severity code message; json: one object for tools.",
        ),
    ] = OutputFormat.text,
) -> None:
    """Check graph files like a compiler; exit 1 when any has an error."""
    failed = False
    report: list[dict[str, Any]] = []
    for file in files:
        try:
            findings = [f.to_json() for f in check_graph(file)]
        except GraphLoadError as exc:  # one finding per schema violation, else the error's
            where = exc.where
            if not isinstance(where, SourceLocation):
                where = SourceLocation(str(file))
            problems = [f for f in exc.findings if isinstance(f, Finding)] or [
                Finding(code=exc.code, severity="error", message=exc.message, location=where)
            ]
            findings = [f.to_json() for f in problems]
        failed = failed or any(f["severity"] == "error" for f in findings)
        report.append({"file": str(file), "findings": findings})
    if output_format is OutputFormat.json:
        typer.echo(json.dumps({"ok": not failed, "files": report}, indent=2))
    else:
        for entry in report:
            for f in entry["findings"]:
                where = ":".join(str(p) for p in (f["file"], f["line"], f["column"]) if p)
                typer.echo(f"{where or entry['file']}: {f['severity']} {f['code']} {f['message']}")
        errors = sum(f["severity"] == "error" for e in report for f in e["findings"])
        warnings = sum(f["severity"] == "warning" for e in report for f in e["findings"])
        typer.echo(f"{len(report)} file(s): {errors} error(s), {warnings} warning(s)", err=True)
    if failed:
        raise typer.Exit(1)


@app.command()
def schema(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the field reference tables instead.")
    ] = False,
) -> None:
    """Print the JSON Schema of the graph file format."""
    if markdown:
        typer.echo(render_reference())
    else:
        typer.echo(json.dumps(graph_json_schema(), indent=2))
