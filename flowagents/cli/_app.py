"""The ``flowagents`` command line: one typer app, commands grouped by concern."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="flowagents",
    help="Design, check, run and replay multi-agent conversation graphs.",
    no_args_is_help=True,
    add_completion=False,
)
