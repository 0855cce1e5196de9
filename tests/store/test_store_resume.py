"""Crash and resume: SIGKILL a real `flowagents run` mid-run, resume it, compare the record."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from store_helpers import GRAPHS, canonical, cli, spawn, transcript, wait_for

from flowagents.agents import ScriptedInput
from flowagents.events import Event
from flowagents.graph import compile_graph
from flowagents.store import (
    MemoryRunStore,
    NonInteractiveInput,
    SQLiteRunStore,
    record_run,
    resume_run,
)

MODEL_CALLS = {"loop.yaml": 11, "fanout.yaml": 9}


def baseline(graph: Path, **options: object) -> MemoryRunStore:
    store = MemoryRunStore()
    record_run(store, compile_graph(graph), "go", run_id="victim", **options)  # type: ignore[arg-type]
    return store


def kill_during_call(graph: Path, call: int, tmp_path: Path, store: Path) -> None:
    """Start the run, let the ``call``-th model call hang, then SIGKILL the process."""
    marker = tmp_path / f"hung-{call}"
    process = spawn(
        "run", str(graph), "-t", "go", "-q", "--store", str(store), "--run-id", "victim",
        cwd=tmp_path, FLOWAGENTS_TEST_HANG_AT=str(call), FLOWAGENTS_TEST_MARKER=str(marker),
        FLOWAGENTS_TEST_DELAY="0.002", FLOWAGENTS_TEST_CALL_LOG=str(tmp_path / "calls-1"),
    )
    wait_for(marker.exists, process, f"model call {call}")
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)


def assert_resumes_to_baseline(
    graph: Path, tmp_path: Path, store: Path, status: str = "running"
) -> None:
    with SQLiteRunStore(store) as opened:
        before = opened.get_run("victim")
        assert before.status == status
        assert before.events > 0
        recorded = sum(1 for call in opened.calls("victim") if call.kind == "model")
    done = cli("resume", "victim", "--store", str(store), "-q", cwd=tmp_path,
               FLOWAGENTS_TEST_CALL_LOG=str(tmp_path / "calls-2"))
    assert done.returncode == 0, done.stderr
    assert "run victim: completed" in done.stdout
    expected = baseline(graph).events("victim")
    if (tmp_path / "calls-1").exists():  # killed inside a call
        first = (tmp_path / "calls-1").read_text().splitlines()
        second = (tmp_path / "calls-2").read_text().splitlines()
        answered = [e for e in expected if e.kind == "model_called"]
        # Every answer the record held is fed back, never asked again; resume asks exactly the
        # others. With parallel branches, an answer can arrive (and be logged here) in the
        # instant before the kill, before it is committed: that one is asked again.
        assert len(second) == len(answered) - recorded
        assert len(set(first) | set(second)) == len(answered)  # every call answered once
        assert len(set(first) & set(second)) == len(first) - recorded
    with SQLiteRunStore(store) as opened:
        got = opened.events("victim")
        run = opened.get_run("victim")
    assert run.status == "completed"
    assert run.manifest["resumed"][0]["from_status"] == status
    assert len(got) == len(expected)  # nothing duplicated, nothing missing
    assert canonical(got) == canonical(expected)
    assert sorted(transcript(got)) == sorted(transcript(expected))
    assert_numbered_in_order(got)


def assert_numbered_in_order(events: list[Event]) -> None:
    """Each event has its own ``seq``, 1 to N in the order of the record, as in one run."""
    assert [event.seq for event in events] == list(range(1, len(events) + 1))


@pytest.mark.parametrize("graph", ["loop.yaml", "fanout.yaml"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_during_a_random_model_call_then_resume(graph: str, seed: int, tmp_path: Path) -> None:
    call = random.Random(f"{graph}{seed}").randint(2, MODEL_CALLS[graph])
    store = tmp_path / "runs.db"
    kill_during_call(GRAPHS / graph, call, tmp_path, store)
    assert_resumes_to_baseline(GRAPHS / graph, tmp_path, store)


def test_kill_after_some_events_are_committed_then_resume(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    process = spawn(
        "run", str(GRAPHS / "loop.yaml"), "-t", "go", "-q", "--store", str(store),
        "--run-id", "victim", cwd=tmp_path, FLOWAGENTS_TEST_DELAY="0.05",
    )

    def enough_events() -> bool:
        if not store.exists():
            return False
        db = sqlite3.connect(store, timeout=30)
        try:
            count = db.execute("SELECT COUNT(*) FROM event_rows").fetchone()[0]
        except sqlite3.OperationalError:
            count = 0  # the schema is not created yet
        db.close()
        return bool(count >= 23)

    wait_for(enough_events, process, "23 events")
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    assert_resumes_to_baseline(GRAPHS / "loop.yaml", tmp_path, store)


def test_ctrl_c_in_one_branch_of_a_fan_out_then_resume(tmp_path: Path) -> None:
    # Model call 2 is branch web's first: it hangs while branch papers goes on to the join.
    # Executed again, web's turns come first, yet the record must read as one run.
    store = tmp_path / "runs.db"
    marker = tmp_path / "hung"
    process = spawn(
        "run", str(GRAPHS / "fanout.yaml"), "-t", "go", "-q", "--store", str(store),
        "--run-id", "victim", cwd=tmp_path, FLOWAGENTS_TEST_HANG_AT="2",
        FLOWAGENTS_TEST_MARKER=str(marker), FLOWAGENTS_TEST_DELAY="0.002",
    )
    wait_for(marker.exists, process, "model call 2")
    time.sleep(0.2)  # branch papers takes its turns meanwhile
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)

    assert_resumes_to_baseline(GRAPHS / "fanout.yaml", tmp_path, store, status="cancelled")


def test_a_paused_run_resumes_with_the_reply(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    started = cli("run", str(GRAPHS / "ask.yaml"), "-t", "go", "-q", "--store", str(store),
                  "--run-id", "victim", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    assert "waiting_for_human" in started.stdout
    assert 'flowagents resume victim --reply "..."' in started.stdout
    with SQLiteRunStore(store) as opened:
        assert opened.get_run("victim").status == "waiting_for_human"
    done = cli("resume", "victim", "--store", str(store), "--reply", "shorter please", "-q",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "run victim: completed" in done.stdout
    expected = baseline(GRAPHS / "ask.yaml",
                        input_provider=ScriptedInput(["shorter please"])).events("victim")
    with SQLiteRunStore(store) as opened:
        got = opened.events("victim")
    assert canonical(got) == canonical(expected)
    assert transcript(got) == transcript(expected)
    assert ("3", "human", "shorter please") in transcript(got)


def test_a_reply_to_a_run_that_is_not_waiting_for_a_human_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    kill_during_call(GRAPHS / "ask.yaml", 1, tmp_path, store)  # crashed before any question
    with SQLiteRunStore(store) as opened:
        before = (opened.get_run("victim"), opened.events("victim"), opened.calls("victim"))

    refused = cli("resume", "victim", "--store", str(store), "--reply", "yes, delete it", "-q",
                  cwd=tmp_path)

    assert refused.returncode == 1, refused.stdout
    assert ("error[FA400] run victim is not waiting for human input (its status is running)"
            in refused.stderr)
    with SQLiteRunStore(store) as opened:
        after = (opened.get_run("victim"), opened.events("victim"), opened.calls("victim"))
    assert after == before


def test_resume_refuses_a_changed_graph_unless_forced(tmp_path: Path) -> None:
    graph = tmp_path / "loop.yaml"
    shutil.copy(GRAPHS / "loop.yaml", graph)
    store = tmp_path / "runs.db"
    kill_during_call(graph, 4, tmp_path, store)
    graph.write_text(graph.read_text().replace("max_turns: 30", "max_turns: 29"))
    refused = cli("resume", "victim", "--store", str(store), "-q", cwd=tmp_path)
    assert refused.returncode == 1
    assert f"the graph file {graph} changed since run victim was recorded" in refused.stderr
    assert "--force" in refused.stderr
    forced = cli("resume", "victim", "--store", str(store), "-q", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "run victim: completed" in forced.stdout


def test_resume_refuses_a_completed_run(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    assert cli("run", str(GRAPHS / "loop.yaml"), "-t", "go", "-q", "--store", str(store),
               "--run-id", "done", cwd=tmp_path).returncode == 0
    refused = cli("resume", "done", "--store", str(store), cwd=tmp_path)
    assert refused.returncode == 1
    assert "run done already completed" in refused.stderr


def tool_agent_graph(tmp_path: Path, *, human: bool) -> Path:
    path = tmp_path / "tool_agent.yaml"
    text = (GRAPHS / "tool_agent.yaml").read_text()
    path.write_text(text.replace("human: false", f"human: {str(human).lower()}"))
    return path


def test_a_human_asked_inside_a_tool_parks_the_run_and_resume_goes_on_inside_it(
    tmp_path: Path,
) -> None:
    # The tool consults an agent whose expert is a person: the chat inside the tool asks.
    graph = tool_agent_graph(tmp_path, human=True)
    with SQLiteRunStore(tmp_path / "runs.db") as store:
        paused = record_run(store, compile_graph(graph), "go", graph_file=graph,
                            run_id="victim", input_provider=NonInteractiveInput())
        assert paused.status == "waiting_for_human"
        assert paused.last_node == "expert"
        assert store.get_run("victim").status == "waiting_for_human"
        assert not any(e.kind == "tool_returned" for e in store.events("victim"))

        resumed = resume_run(store, "victim", reply="four", input_provider=NonInteractiveInput())

        assert resumed.status == "completed"
        assert resumed.summary == "the expert says: four TERMINATE"
        straight = baseline(graph, input_provider=ScriptedInput(["four"])).events("victim")
        got = store.events("victim")
    assert canonical(got) == canonical(straight)
    assert ("3/student<->expert.2", "expert", "four") in transcript(got)
    assert [e.seq for e in got] == list(range(1, len(got) + 1))


def test_a_paused_scripted_run_with_the_cache_resumes_on_the_next_script_line(
    tmp_path: Path,
) -> None:
    # Resume calls a scripted model again for each answer from the record, so that its script
    # moves on; the cache must not answer that call in its place.
    graph = GRAPHS / "scripted_ask.yaml"
    with SQLiteRunStore(tmp_path / "runs.db") as store:
        record_run(store, compile_graph(graph), "go", graph_file=graph, run_id="victim",
                   cache=True, input_provider=NonInteractiveInput())
        resume_run(store, "victim", reply="ok1", input_provider=NonInteractiveInput())
        done = resume_run(store, "victim", reply="ok2", input_provider=NonInteractiveInput())
        got = transcript(store.events("victim"))
    assert done.status == "completed"
    assert got == [
        ("1", "user", "go"),
        ("2", "writer", "draft one"),
        ("3", "human", "ok1"),
        ("4", "writer", "draft two"),
        ("5", "human", "ok2"),
    ]
