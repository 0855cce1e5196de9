"""Command-line interface: ``flowagents --help``.

Each ``_*_commands`` module registers its commands on the one typer app when imported.
"""

from flowagents.cli import _graph_commands, _run_command
from flowagents.cli._app import app

__all__ = ["app", "main"]

_COMMAND_MODULES = (_graph_commands, _run_command)


def main() -> None:
    """Entry point of the ``flowagents`` console script."""
    app()
from flowagents.cli import _store_commands  # noqa: E402, F401
