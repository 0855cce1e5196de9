"""Runs whose speaker selector met an endpoint that refuses a mechanism, recorded and replayed.

The selector remembers a refused mechanism per endpoint for later runs of the process; a
run's record must still replay on its own, in a process that knows nothing of that memory.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from store_helpers import cli

from flowagents.graph import compile_graph
from flowagents.runtime import RunResult, forget_rejections
from flowagents.store import SQLiteRunStore, record_run, replay_run
from flowagents.testing import LoopbackServer

GRAPH = """\
name: choose
mode: dynamic
start: host
selector: {{model: picker}}
models:
  chat: {{provider: openai, model: chat-model, base_url: "{base_url}"}}
  picker: {{provider: openai, model: picker-model, base_url: "{base_url}"}}
agents:
  - {{name: host, model: chat, system_message: You are host.}}
  - {{name: left, model: chat, system_message: You are left.}}
  - {{name: right, model: chat, system_message: You are right.}}
edges:
  - {{from: host, to: left}}
  - {{from: host, to: right}}
  - {{from: left, to: host}}
  - {{from: right, to: host}}
termination: {{keyword: null, max_turns: 5}}
"""

#: Set when the run on task "held" asks its first reply (it has started).
_ARRIVED = threading.Event()
#: Released when a test lets the run on task "held" go on past its first reply.
_HOLD = threading.Event()


def _answer(body: dict[str, Any]) -> Any:
    """Selection: the first candidate (by a tool call); a reply: who spoke, after how many."""
    tools = body.get("tools")
    if tools:
        enum = tools[0]["function"]["parameters"]["properties"]["next_speaker"]["enum"]
        return {"tool_calls": [{"name": "select_next_speaker", "arguments": {
            "next_speaker": enum[0]}}]}
    messages = body["messages"]
    if any(m.get("content") == "held" for m in messages):
        _ARRIVED.set()
        assert _HOLD.wait(30), "the held run was never released"
    speaker = str(messages[0]["content"]).removeprefix("You are ").rstrip(".")
    return f"{speaker} after {len(messages)} messages"


@pytest.fixture(autouse=True)
def _fresh_memory() -> Iterator[None]:
    forget_rejections()
    _ARRIVED.clear()
    _HOLD.clear()
    yield
    forget_rejections()
    _HOLD.set()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(_answer, profile="no_json_schema") as running:
        yield running


def _graph(tmp_path: Path, server: LoopbackServer) -> Path:
    path = tmp_path / "choose.yaml"
    path.write_text(GRAPH.format(base_url=server.base_url))
    return path


def _record(store: Path, graph: Path, task: str, run_id: str) -> RunResult:
    with SQLiteRunStore(store) as opened:
        result = record_run(opened, compile_graph(graph), task, graph_file=graph, run_id=run_id)
    assert result.status == "completed", result
    return result


def _mechanisms(server: LoopbackServer, task: str) -> list[str]:
    """The selector requests of the run on ``task``, by their mechanism."""
    out = []
    for request in server.requests:
        body = request.body
        if body["model"] != "picker-model" or body["messages"][1]["content"] != f"user: {task}":
            continue
        out.append("tool" if body.get("tools") else body.get("response_format", {}).get("type"))
    return out


def _replays_in_a_fresh_process(store: Path, run_id: str, cwd: Path) -> None:
    done = cli("replay", run_id, "--store", str(store), "-q", cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert f"replay of run {run_id} matches the whole record" in done.stdout


def test_a_run_whose_selector_met_a_refusal_replays(
    tmp_path: Path, server: LoopbackServer
) -> None:
    store = tmp_path / "runs.db"
    _record(store, _graph(tmp_path, server), "first", "first")
    assert _mechanisms(server, "first") == ["json_schema", "tool", "tool"]
    asked = len(server.requests)

    with SQLiteRunStore(store) as opened:  # this process remembers the refusal
        assert replay_run(opened, "first").complete
    forget_rejections()  # as a new process
    with SQLiteRunStore(store) as opened:
        assert replay_run(opened, "first").complete
    _replays_in_a_fresh_process(store, "first", tmp_path)
    assert len(server.requests) == asked


def test_a_run_after_another_learned_a_refusal_replays_on_its_own(
    tmp_path: Path, server: LoopbackServer
) -> None:
    store, graph = tmp_path / "runs.db", _graph(tmp_path, server)
    _record(store, graph, "first", "first")
    _record(store, graph, "second", "second")
    # The process remembered the refusal: the second run did not ask json_schema again.
    assert _mechanisms(server, "second") == ["tool", "tool"]

    forget_rejections()  # as a new process
    with SQLiteRunStore(store) as opened:
        assert replay_run(opened, "second").complete
        assert replay_run(opened, "first").complete
    _replays_in_a_fresh_process(store, "second", tmp_path)


def test_a_refusal_another_run_meets_meanwhile_does_not_change_a_run_in_flight(
    tmp_path: Path, server: LoopbackServer
) -> None:
    store, graph = tmp_path / "runs.db", _graph(tmp_path, server)
    held: list[RunResult] = []
    thread = threading.Thread(target=lambda: held.append(_record(store, graph, "held", "held")))
    thread.start()
    try:
        assert _ARRIVED.wait(30), "the held run did not start"
        # "held" has started and waits for its first answer while "first" learns the refusal.
        _record(store, graph, "first", "first")
    finally:
        _HOLD.set()
        thread.join(30)
    assert held and held[0].status == "completed"
    # What the held run knew when it started decides its requests, not what another run
    # learned while it was in flight.
    assert _mechanisms(server, "held") == ["json_schema", "tool", "tool"]

    forget_rejections()
    with SQLiteRunStore(store) as opened:
        assert replay_run(opened, "held").complete
