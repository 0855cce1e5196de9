"""Command-line interface: ``flowagents --help``."""

from flowagents.cli._app import app


def main() -> None:
    """Entry point of the ``flowagents`` console script."""
    app()


__all__ = ["app", "main"]
from flowagents.cli import _graph_commands  # noqa: E402, F401
from flowagents.cli import _run_command  # noqa: E402, F401
