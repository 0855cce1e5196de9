"""docs/cli.md is the commands' own --help, so it cannot drift."""

from __future__ import annotations

import os
from pathlib import Path

from flowagents.cli._reference import BEGIN, END, render_cli_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_is_current() -> None:
    rendered = f"{BEGIN}\n{render_cli_reference()}\n{END}"
    if os.environ.get("FLOWAGENTS_UPDATE_DOCS") == "1":
        text = DOC.read_text(encoding="utf-8")
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        DOC.write_text(head + rendered + tail, encoding="utf-8")
    assert rendered in DOC.read_text(encoding="utf-8")


def test_reference_covers_every_command() -> None:
    text = render_cli_reference()
    for command in ("run", "validate", "schema", "runs", "show", "export", "import", "resume",
                    "replay"):
        assert f"## flowagents {command}\n" in text
