"""An error from user code that ends a run is reported like any other, with its place."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowagents.cli import app

GRAPH = """\
name: guarded
mode: static
start: a
models:
  m: {provider: scripted, model: m, replies: ["hello"]}
agents:
  - {name: a, model: m}
  - {name: b, model: m}
edges:
  - {from: a, to: b, guard: {python: "cli_user_guards:broken"}}
termination: {terminal: [b]}
"""

GUARD = """\
def broken(ctx):
    raise KeyError("no such [field]")
"""


@pytest.fixture
def graph_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "cli_user_guards.py").write_text(GUARD, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOWAGENTS_STORE", raising=False)
    path = tmp_path / "guarded.yaml"
    path.write_text(GRAPH, encoding="utf-8")
    return path


def test_run_and_resume_report_a_guards_exception_with_its_type_and_place(
    graph_file: Path,
) -> None:
    expected = "error[FA300] run=r1 step=2 node=a: KeyError: 'no such [field]'"

    ran = CliRunner().invoke(app, ["run", str(graph_file), "-t", "go", "-q", "--run-id", "r1"])
    resumed = CliRunner().invoke(app, ["resume", "r1", "-q"])

    for result in (ran, resumed):
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit)  # not the KeyError's traceback
        assert expected in result.output
