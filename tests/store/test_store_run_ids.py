"""A run id names one run: a taken id is refused before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_helpers import GRAPHS, canonical, cli

from flowagents.errors import StoreError
from flowagents.graph import compile_graph
from flowagents.store import RunRecord, SQLiteRunStore, fork_run, record_run, replay_run
from flowagents.store._recorder import _OPEN_SINKS


def record(store: Path, run_id: str, graph: str = "loop.yaml") -> None:
    with SQLiteRunStore(store) as opened:
        result = record_run(opened, compile_graph(GRAPHS / graph), "go",
                            graph_file=GRAPHS / graph, run_id=run_id)
    assert result.status in ("completed", "waiting_for_human")


def test_record_run_and_fork_run_refuse_a_taken_id(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    record(store, "taken")
    with SQLiteRunStore(store) as opened:
        before = (opened.get_run("taken"), opened.events("taken"), opened.calls("taken"))

        with pytest.raises(StoreError, match="run taken already exists") as recorded:
            record_run(opened, compile_graph(GRAPHS / "ask.yaml"), "other task",
                       graph_file=GRAPHS / "ask.yaml", run_id="taken")
        with pytest.raises(StoreError, match="run taken already exists") as forked:
            fork_run(opened, "taken", "2", new_run_id="taken")

        assert (opened.get_run("taken"), opened.events("taken"), opened.calls("taken")) == before
        assert [run.run_id for run in opened.list_runs()] == ["taken"]
        assert replay_run(opened, "taken").complete
    for error in (recorded.value, forked.value):
        assert str(store) in str(error)


def test_the_cli_refuses_a_taken_run_id_for_a_run_and_a_fork(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    first = cli("run", str(GRAPHS / "loop.yaml"), "-t", "go", "-q", "--store", str(store),
                "--run-id", "dup", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    with SQLiteRunStore(store) as opened:
        before = canonical(opened.events("dup"))

    again = cli("run", str(GRAPHS / "ask.yaml"), "-t", "other", "-q", "--store", str(store),
                "--run-id", "dup", cwd=tmp_path)
    fork = cli("replay", "dup", "--from", "2", "--run-id", "dup", "-q", "--store", str(store),
               cwd=tmp_path)

    for refused in (again, fork):
        assert refused.returncode == 1, refused.stdout
        assert f"error[FA400] {store}: run dup already exists in this store" in refused.stderr
        assert "Traceback" not in refused.stderr
    with SQLiteRunStore(store) as opened:
        run = opened.get_run("dup")
        assert (run.graph, run.task, run.status) == ("loop", "go", "completed")
        assert canonical(opened.events("dup")) == before
        assert [r.run_id for r in opened.list_runs()] == ["dup"]
    replayed = cli("replay", "dup", "-q", "--store", str(store), cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr


class TakenMeanwhile(SQLiteRunStore):
    """Another process takes the id between record_run's look-up and the run's start."""

    def get_run(self, run_id: str) -> RunRecord:
        if run_id == "taken":
            raise StoreError(f"no run {run_id!r} in this store", where=self.location)
        return super().get_run(run_id)


def test_a_run_id_taken_meanwhile_is_refused_by_the_store_and_nothing_is_kept(
    tmp_path: Path,
) -> None:
    store = tmp_path / "runs.db"
    record(store, "taken")
    with TakenMeanwhile(store) as opened:
        with pytest.raises(StoreError, match="run taken already exists"):
            record_run(opened, compile_graph(GRAPHS / "ask.yaml"), "other task",
                       graph_file=GRAPHS / "ask.yaml", run_id="taken")

        assert not [sink for sink in _OPEN_SINKS if sink.store is opened]  # nothing at exit
        assert [run.run_id for run in opened.list_runs()] == ["taken"]
        assert SQLiteRunStore.get_run(opened, "taken").graph == "loop"
