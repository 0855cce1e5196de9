"""The store commands in-process: run records by default, runs, show, --no-record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from store_helpers import GRAPHS
from typer.testing import CliRunner

from flowagents.cli import app
from flowagents.store import SQLiteRunStore

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_env_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FLOWAGENTS_STORE", raising=False)
    monkeypatch.chdir(tmp_path)


def test_run_records_by_default_and_prints_the_id(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(GRAPHS / "loop.yaml"), "-t", "go", "-q",
                                 "--run-id", "abc"])
    assert result.exit_code == 0, result.output
    assert "recording run abc in" in result.output
    with SQLiteRunStore(tmp_path / ".flowagents" / "runs.db") as store:
        run = store.get_run("abc")
        assert (run.graph, run.status, run.task) == ("loop", "completed", "go")
        manifest = run.manifest
    assert manifest["graph_file"] == str((GRAPHS / "loop.yaml").resolve())
    assert manifest["seed"] == 0 and manifest["graph_hash"]
    assert {"python", "flowagents", "pydantic"} <= set(manifest["versions"])
    assert manifest["run_spec"]["task"] == "go"


def test_no_record_leaves_no_store(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(GRAPHS / "loop.yaml"), "-t", "go", "-q",
                                 "--no-record"])
    assert result.exit_code == 0, result.output
    assert "completed" in result.output
    assert not (tmp_path / ".flowagents").exists()


def test_runs_lists_and_filters_and_show_prints_the_transcript(tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    for graph, run_id in (("loop.yaml", "l1"), ("ask.yaml", "a1")):
        done = runner.invoke(app, ["run", str(GRAPHS / graph), "-t", "go", "-q",
                                   "--store", store, "--run-id", run_id])
        assert done.exit_code == 0, done.output
    listed = runner.invoke(app, ["runs", "--store", store, "--json"])
    assert [r["run_id"] for r in json.loads(listed.output)] == ["a1", "l1"]
    waiting = runner.invoke(app, ["runs", "--store", store, "--status", "waiting_for_human",
                                  "--json"])
    assert [r["run_id"] for r in json.loads(waiting.output)] == ["a1"]
    by_graph = runner.invoke(app, ["runs", "--store", store, "--graph", "loop"])
    assert "l1" in by_graph.output and "a1" not in by_graph.output
    shown = runner.invoke(app, ["show", "l1", "--store", store])
    assert shown.exit_code == 0, shown.output
    assert "run l1 graph loop: completed (terminal_node)" in shown.output
    assert "critic turn 1: REVISE" in shown.output
    assert "editor turn 1" in shown.output
    missing = runner.invoke(app, ["show", "nope", "--store", store])
    assert missing.exit_code == 1


def test_runs_shows_a_whole_generated_id_in_80_columns(tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    done = runner.invoke(app, ["run", str(GRAPHS / "loop.yaml"), "-t", "go", "-q",
                               "--store", store])
    assert done.exit_code == 0, done.output
    with SQLiteRunStore(store) as opened:
        (run,) = opened.list_runs()
    assert len(run.run_id) == 24
    listed = runner.invoke(app, ["runs", "--store", store], env={"COLUMNS": "80"})
    assert run.run_id in listed.output
    assert max(len(line) for line in listed.output.splitlines()) <= 80


@pytest.mark.parametrize(
    ("factory", "problem"),
    [
        ("no_such_module_here:agent", "no_such_module_here"),
        ("store_agents:broken", "'store_agents:broken' for agent 'a' raised RuntimeError"),
    ],
)
def test_an_agent_that_cannot_be_built_is_a_recorded_failed_run(
    tmp_path: Path, factory: str, problem: str
) -> None:
    graph = tmp_path / "unbuildable.yaml"
    graph.write_text(
        "name: unbuildable\nstart: a\nagents:\n"
        f"  - {{name: a, factory: '{factory}'}}\n"
        f"  - {{name: b, factory: '{factory}'}}\n"
        "edges:\n  - {from: a, to: b}\n  - {from: b, to: a}\n"
        "termination: {max_turns: 4}\n"
    )
    store = str(tmp_path / "s.db")

    result = runner.invoke(app, ["run", str(graph), "-t", "go", "-q", "--store", store,
                                 "--run-id", "r1"])

    assert result.exit_code == 1
    with SQLiteRunStore(store) as opened:
        run = opened.get_run("r1")
        events = opened.events("r1")
    assert run.status == "failed"
    errors = [event for event in events if event.kind == "error"]
    assert len(errors) == 1 and errors[0].code == "FA200"
    assert "cannot build agent 'a' of graph 'unbuildable'" in errors[0].message
    assert "unbuildable.yaml" in errors[0].message
    assert problem in errors[0].message
