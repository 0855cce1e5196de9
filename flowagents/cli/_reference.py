"""The CLI reference (docs/cli.md), rendered from the commands' own ``--help``.

A test checks docs/cli.md is current and rewrites it when ``FLOWAGENTS_UPDATE_DOCS=1``.
"""

from __future__ import annotations

import os

import typer.main
from typer.testing import CliRunner

from flowagents.cli._app import app

BEGIN = "<!-- BEGIN GENERATED CLI REFERENCE -->"
END = "<!-- END GENERATED CLI REFERENCE -->"


def _help(args: list[str]) -> str:
    env = {"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1", "_TYPER_FORCE_DISABLE_TERMINAL": "1"}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        result = CliRunner().invoke(app, [*args, "--help"], prog_name="flowagents")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    lines = [line.rstrip() for line in result.output.splitlines()]
    return "\n".join(lines).strip("\n")


def render_cli_reference() -> str:
    """Every command's ``--help``, in the order ``flowagents --help`` lists them."""
    group = typer.main.get_command(app)
    names = list(getattr(group, "commands", {}))
    parts = ["## flowagents", "", "```text", _help([]), "```"]
    for name in names:
        parts += ["", f"## flowagents {name}", "", "```text", _help([name]), "```"]
    return "\n".join(parts)
