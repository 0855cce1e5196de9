"""Group commit: in-process steps wait in memory, everything else is committed at once.

What a crash can lose is only pure in-process steps, which resume regenerates identically;
the SIGKILL test here lands while such steps are pending.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_helpers import canonical, cli_env, wait_for
from store_inprocess import TURNS, agents, graph

from flowagents.events import (
    EVENT_ADAPTER,
    CodeExecuted,
    ErrorRaised,
    Event,
    HumanInputReceived,
    HumanInputRequested,
    MessageSent,
    ModelCalled,
    NodeEntered,
    NodeLeft,
    RunFinished,
    RunStarted,
    SpeakerSelected,
    Terminated,
    ToolCalled,
    ToolReturned,
)
from flowagents.messages import Message, ToolCall
from flowagents.store import (
    MemoryRunStore,
    RecordingSink,
    RunStore,
    SQLiteRunStore,
    record_run,
    resume_run,
)
from flowagents.store._verify import event_keys

MESSAGE = Message(
    role="assistant", name="a", content="hi \u00e9 \"quoted\"", metadata={"step": "3"},
    tool_calls=[ToolCall(id="c1", name="f", arguments='{"x": 1}')],
)


def every_kind() -> list[Event]:
    head = {"run_id": "r", "step": "3", "node": "a", "seq": 4, "ts": 1.25e9}
    return [
        RunStarted(**head, graph="g", task=None, manifest={"seed": 1, "nested": [1.5, None]}),
        NodeEntered(**head, via="b"),
        NodeLeft(**head),
        MessageSent(**head, message=MESSAGE, sender="a", recipients=("b", "c")),
        SpeakerSelected(**head, candidates=("a", "b"), choice="b", method="auto",
                        raw_answers=("b",), retries=1, prompt_tokens=3),
        ModelCalled(**head, model="m", request_hash="ab" * 32, response=MESSAGE, cached=True,
                    purpose="select"),
        ToolCalled(**head, call_id="c1", tool="f", arguments="{}"),
        ToolReturned(**head, call_id="c1", tool="f", content="1", is_error=True,
                     duration_s=0.5),
        CodeExecuted(**head, language="python", code="print(1)", executor="local",
                     exit_code=0, output="1\n", duration_s=0.01),
        HumanInputRequested(**head, prompt="?"),
        HumanInputReceived(**head, text="yes"),
        ErrorRaised(**head, code="FA000", error_type="RunError", message="boom"),
        Terminated(**head, reason="max_turns", detail="d"),
        RunFinished(**head, status="completed", reason="max_turns"),
    ]


def test_every_event_kind_is_stored_as_the_event_adapter_writes_it(tmp_path: Path) -> None:
    events = every_kind()
    assert len({event.kind for event in events}) == 14
    path = tmp_path / "runs.db"
    with SQLiteRunStore(path) as store:
        store.append_events(events)
        assert store.events("r") == events
    db = sqlite3.connect(path)
    (body,) = db.execute("SELECT body FROM event_batches WHERE run_id = 'r'").fetchone()
    db.close()
    assert json.loads(body) == [json.loads(EVENT_ADAPTER.dump_json(e)) for e in events]


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunStore]:
    backend: RunStore = (
        MemoryRunStore() if request.param == "memory" else SQLiteRunStore(tmp_path / "runs.db")
    )
    with backend:
        yield backend


def entered(step: str, run_id: str = "r") -> NodeEntered:
    return NodeEntered(run_id=run_id, step=step, node="a")


def test_a_resumed_sink_drops_exactly_the_events_on_record(store: RunStore) -> None:
    store.append_events([RunStarted(run_id="r", step="0", graph="g"), entered("1"), entered("2")])
    shown: list[Event] = []
    sink = RecordingSink(
        store, forward=[shown.append], commit_interval_s=0, run_id="r",
        recorded=event_keys(store.events("r")),
    )
    replayed = [
        RunStarted(run_id="r", step="0", graph="g"),  # on record
        entered("1"),  # on record
        entered("3"),
        entered("2"),  # on record, though it comes later this time
        entered("3"),  # the second of its step: new too
        entered("1", run_id="other"),  # another run's: never on this run's record
        entered("1"),  # the second of step 1: new
        RunFinished(run_id="r", step="3", status="completed"),
    ]
    for event in replayed:
        sink(event)
    sink.flush()
    assert [e.step for e in store.events("r")] == ["0", "1", "2", "3", "3", "1", "3"]
    assert [e.step for e in store.events("other")] == ["1"]
    assert [(e.run_id, e.step) for e in shown] == [
        ("r", "3"), ("r", "3"), ("other", "1"), ("r", "1"), ("r", "3")
    ]
    assert store.get_run("r").status == "completed"


def test_a_large_batch_is_stored_in_order(store: RunStore) -> None:
    store.append_events([entered(str(i)) for i in range(1000)])
    store.append_events([entered("x"), *(entered(str(i)) for i in range(3))])
    store.append_events([])
    steps = [e.step for e in store.events("r")]
    assert steps == [str(i) for i in range(1000)] + ["x", "0", "1", "2"]


def step(n: int) -> list[Event]:
    return [
        NodeEntered(run_id="r", step=str(n), node="a"),
        MessageSent(run_id="r", step=str(n), node="a", sender="a", message=MESSAGE),
        NodeLeft(run_id="r", step=str(n), node="a"),
    ]


def test_in_process_steps_wait_for_the_interval_and_flush_points_commit_them() -> None:
    store = MemoryRunStore()
    shown: list[Event] = []
    sink = RecordingSink(store, forward=[shown.append], commit_interval_s=3600)
    sink(RunStarted(run_id="r", step="0", graph="g"))
    assert [e.kind for e in store.events("r")] == ["run_started"]  # the run is on record
    for n in (1, 2, 3):
        for event in step(n):
            sink(event)
    assert len(store.events("r")) == 1  # three steps pending
    assert [e.kind for e in shown] == ["run_started"]  # nothing shown before it is stored
    sink(HumanInputRequested(run_id="r", step="4", node="a", prompt="?"))  # a pause
    assert len(store.events("r")) == 11
    assert shown == store.events("r")
    for event in step(5):
        sink(event)
    sink.flush()  # what the Recorder does before a live outside call
    assert len(store.events("r")) == 14
    for event in step(6):
        sink(event)
    sink(ErrorRaised(run_id="r", step="6", code="FA000", error_type="E", message="m"))
    assert store.events("r")[-1].kind == "error"
    sink(Terminated(run_id="r", step="6", reason="error"))
    sink(RunFinished(run_id="r", step="6", status="failed"))
    assert [e.kind for e in store.events("r")[-2:]] == ["terminated", "run_finished"]
    assert shown == store.events("r")


def test_an_interval_of_zero_commits_every_step() -> None:
    store = MemoryRunStore()
    sink = RecordingSink(store, commit_interval_s=0)
    for n in (1, 2):
        for event in step(n):
            sink(event)
        assert len(store.events("r")) == 3 * n
    sink(NodeEntered(run_id="r", step="3", node="a"))
    assert len(store.events("r")) == 6


CHILD = """
import sys
from store_inprocess import TURNS, agents, graph
from flowagents.store import RecordingSink, Recorder, SQLiteRunStore
from flowagents.store._runs import RunSpec, build_manifest
from flowagents.runtime import Runner

store = SQLiteRunStore(sys.argv[1])
g = graph()
sink = RecordingSink(store, commit_interval_s=3600)
spec = RunSpec(graph_hash=g.content_hash, task="start", max_turns=TURNS)
{hooks}
runner = Runner(g, agents=agents(hooks), sinks=[sink], interceptor=Recorder(store, sink=sink),
                max_turns=TURNS, manifest=build_manifest(g, spec))
runner.run("start", run_id="victim")
{after}
"""


def child(tmp_path: Path, hooks: str, after: str = "") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD.format(hooks=hooks, after=after), str(tmp_path / "runs.db")],
        cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, text=True,
    )


def baseline() -> list[Event]:
    store = MemoryRunStore()
    record_run(store, graph(), "start", agents=agents(), max_turns=TURNS, run_id="victim")
    return store.events("victim")


def test_kill_while_in_process_steps_are_pending_then_resume(tmp_path: Path) -> None:
    marker = tmp_path / "hung"
    hooks = (
        "import pathlib, time\n"
        "def hang():\n"
        f"    pathlib.Path({str(marker)!r}).write_text('x')\n"
        "    time.sleep(3600)\n"
        "hooks = {10: sink.flush, 30: hang}\n"  # a group commit at turn 10, then steps pend
    )
    process = child(tmp_path, hooks)
    wait_for(marker.exists, process, "turn 30")
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)

    expected = baseline()
    with SQLiteRunStore(tmp_path / "runs.db") as store:
        stored = store.events("victim")
        # Committed: the start and the steps before the flush at turn 10; the steps of
        # turns 10 to 30 were pending when the process died.
        assert 1 < len(stored) < 3 * 29
        assert canonical(stored) == {k: v for k, v in canonical(expected).items()
                                     if k in canonical(stored)}
        assert store.get_run("victim").status == "running"
        result = resume_run(store, "victim", graph=graph(), agents=agents())
        got = store.events("victim")
        assert store.get_run("victim").status == "completed"
    assert result.status == "completed"
    keys = event_keys(got)
    assert len(keys) == len(set(keys))  # no duplicates
    assert keys == event_keys(expected)  # no gaps, same order
    assert canonical(got) == canonical(expected)


def test_pending_steps_are_committed_when_the_process_exits_normally(tmp_path: Path) -> None:
    # The run stops with an exception no event reports (a sink raising is such a case);
    # the events still pending are committed at interpreter exit.
    hooks = (
        "def stop():\n"
        "    raise SystemExit(3)\n"
        "hooks = {12: stop}\n"
    )
    process = child(tmp_path, hooks)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 3, stderr
    expected = canonical(baseline())
    with SQLiteRunStore(tmp_path / "runs.db") as store:
        stored = store.events("victim")
    assert len(stored) > 30
    assert canonical(stored) == {k: v for k, v in expected.items() if k in canonical(stored)}
