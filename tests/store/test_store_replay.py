"""Exact replay against a loopback OpenAI server, divergence reports, forks, the cache."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
import store_agents
from store_helpers import GRAPHS, canonical, cli, spawn, transcript, wait_for

from flowagents.agents import ScriptedInput
from flowagents.errors import ReplayDivergenceError, RunLocation
from flowagents.events import ModelCalled
from flowagents.graph import compile_graph
from flowagents.runtime import RunResult
from flowagents.store import (
    NonInteractiveInput,
    SQLiteRunStore,
    fork_run,
    record_run,
    replay_run,
)
from flowagents.testing import LoopbackServer


def answer(body: dict[str, Any]) -> Any:
    """Deterministic: the speaker's system prompt and what it heard; selection: first choice."""
    messages = body["messages"]
    response_format = body.get("response_format")
    if response_format is not None:
        schema = response_format["json_schema"]["schema"]
        choices = schema["properties"]["next_speaker"]["enum"]
        return json.dumps({"next_speaker": choices[0]})
    speaker = str(messages[0].get("content") or "?").removeprefix("You are ").rstrip(".")
    heard = str(messages[-1].get("content") or "")[:20]
    return f"{speaker} after {len(messages)} messages ({heard})"


@pytest.fixture
def server() -> Any:
    with LoopbackServer(answer) as running:
        yield running


def write_graph(tmp_path: Path, server: LoopbackServer, **swap: str) -> Path:
    text = (GRAPHS / "dynamic.yaml.in").read_text().replace("{base_url}", server.base_url)
    for old, new in swap.items():
        text = text.replace(old, new)
    path = tmp_path / "dynamic.yaml"
    path.write_text(text)
    return path


def recorded(tmp_path: Path, server: LoopbackServer) -> tuple[Path, Path, RunResult]:
    graph = write_graph(tmp_path, server)
    store = tmp_path / "runs.db"
    with SQLiteRunStore(store) as opened:
        result = record_run(opened, compile_graph(graph), "plan the launch", graph_file=graph,
                            run_id="orig")
    assert result.status == "completed"
    return graph, store, result


def test_replay_reproduces_the_transcript_with_zero_model_calls(
    tmp_path: Path, server: LoopbackServer
) -> None:
    _, store, original = recorded(tmp_path, server)
    calls_recorded = len(server.requests)
    with SQLiteRunStore(store) as opened:
        events = opened.events("orig")
        report = replay_run(opened, "orig")
    kinds = [e.kind for e in events]
    steps = {e.step for e in events}
    assert any("/scout_a." in s for s in steps) and any("/panel." in s for s in steps)
    assert any(isinstance(e, ModelCalled) and e.purpose == "select" for e in events)
    assert calls_recorded == kinds.count("model_called")
    assert report.complete
    assert report.answers_replayed == calls_recorded
    assert report.events_checked == len(events)
    assert report.result is not None
    assert report.result.messages == original.messages
    assert len(transcript(events)) > len(original.messages)  # branches and panel inside
    assert len(server.requests) == calls_recorded  # the server saw nothing during replay
    done = cli("replay", "orig", "--store", str(store), "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "replay of run orig matches the whole record" in done.stdout
    assert len(server.requests) == calls_recorded


def test_a_changed_prompt_fails_replay_at_its_step(tmp_path: Path, server: LoopbackServer) -> None:
    graph, store, _ = recorded(tmp_path, server)
    with SQLiteRunStore(store) as opened:
        first_writer = next(e for e in opened.events("orig")
                            if isinstance(e, ModelCalled) and e.node == "writer")
    graph.write_text(graph.read_text().replace("You are writer.", "You are a poet."))
    calls = len(server.requests)
    with SQLiteRunStore(store) as opened, pytest.raises(ReplayDivergenceError) as info:
        replay_run(opened, "orig")
    error = info.value
    assert isinstance(error.where, RunLocation)
    assert (error.where.step, error.where.node) == (first_writer.step, "writer")
    assert "differs from the record" in str(error)
    assert any("the graph changed since" in note for note in error.__notes__)
    done = cli("replay", "orig", "--store", str(store), cwd=tmp_path)
    assert done.returncode == 1
    assert "error[FA402]" in done.stderr
    assert f"step={first_writer.step} node=writer" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(server.requests) == calls


def test_a_changed_speaker_is_reported_as_expected_against_got(
    tmp_path: Path, server: LoopbackServer
) -> None:
    graph, store, _ = recorded(tmp_path, server)
    # The judge now hands to the panel first: the selector's answer (recorded) no longer
    # matches the candidates' order, so the replay's request differs at the judge's step.
    graph.write_text(graph.read_text().replace(
        "  - {from: judge, to: writer}\n  - {from: judge, to: panel}\n",
        "  - {from: judge, to: panel}\n  - {from: judge, to: writer}\n"))
    with SQLiteRunStore(store) as opened, pytest.raises(ReplayDivergenceError) as info:
        replay_run(opened, "orig")
    assert isinstance(info.value.where, RunLocation)
    assert info.value.where.node == "judge"


def test_fork_from_a_step_replays_the_prefix_and_goes_live(
    tmp_path: Path, server: LoopbackServer
) -> None:
    _, store, _ = recorded(tmp_path, server)
    with SQLiteRunStore(store) as opened:
        events = opened.events("orig")
        writer_step = next(
            e.step for e in events if e.kind == "node_entered" and e.node == "writer"
        )
        before = len(server.requests)
        fork = fork_run(opened, "orig", writer_step, new_run_id="whatif")
        forked = opened.events("whatif")
        run = opened.get_run("whatif")
    live = len(server.requests) - before
    after_cut = [e for e in events[next(i for i, e in enumerate(events) if e.step == writer_step):]
                 if e.kind == "model_called"]
    assert fork.status == "completed"
    assert run.manifest["forked_from"] == {"run_id": "orig", "step": writer_step}
    assert live == len(after_cut)  # only the steps from the fork point on were called
    assert canonical(forked) == canonical(events)  # same server answers: same conversation


def test_cache_answers_repeated_requests_without_calls(
    tmp_path: Path, server: LoopbackServer
) -> None:
    graph = compile_graph(write_graph(tmp_path, server))
    with SQLiteRunStore(tmp_path / "runs.db") as store:
        first = record_run(store, graph, "plan the launch", cache=True, run_id="one")
        calls = len(server.requests)
        second = record_run(store, graph, "plan the launch", cache=True, run_id="two")
        cached = [e for e in store.events("two") if isinstance(e, ModelCalled)]
        report = replay_run(store, "two", graph=graph)
    assert len(server.requests) == calls
    assert cached and all(e.cached for e in cached)
    assert [m.text for m in second.messages] == [m.text for m in first.messages]
    usage = second.cost["usage_excluding_cached_inference"]
    assert set(usage) == {"total_cost"}  # every token came from the cache
    assert report.complete


def test_export_then_import_replays_in_another_store(
    tmp_path: Path, server: LoopbackServer
) -> None:
    _, store, _ = recorded(tmp_path, server)
    other = tmp_path / "other.db"
    for fmt in ("jsonl", "json"):
        out = tmp_path / f"orig.{fmt}"
        exported = cli("export", "orig", "--store", str(store), "--format", fmt, "-o", str(out),
                       cwd=tmp_path)
        assert exported.returncode == 0, exported.stderr
    imported = cli("import", str(tmp_path / "orig.jsonl"), "--store", str(other), cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "imported run orig" in imported.stdout
    again = cli("import", str(tmp_path / "orig.json"), "--store", str(other), cwd=tmp_path)
    assert again.returncode == 1 and "already in the store" in again.stderr
    with SQLiteRunStore(store) as a, SQLiteRunStore(other) as b:
        assert b.events("orig") == a.events("orig")
        assert b.calls("orig") == a.calls("orig")
        assert b.get_run("orig") == a.get_run("orig")
        calls = len(server.requests)
        assert replay_run(b, "orig").complete
    assert len(server.requests) == calls


def test_replay_of_a_cancelled_run_matches_up_to_where_it_stops(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    marker = tmp_path / "hung"
    process = spawn(
        "run", str(GRAPHS / "loop.yaml"), "-t", "go", "-q", "--store", str(store),
        "--run-id", "victim", cwd=tmp_path, FLOWAGENTS_TEST_HANG_AT="8",
        FLOWAGENTS_TEST_MARKER=str(marker),
    )
    wait_for(marker.exists, process, "model call 8")  # inside the review board (a subgroup)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    with SQLiteRunStore(store) as opened:
        assert opened.get_run("victim").status == "cancelled"

        report = replay_run(opened, "victim")

    assert not report.complete
    assert report.events_checked > 0


def test_replay_of_a_run_that_consults_an_agent_as_a_tool(tmp_path: Path) -> None:
    # The tool's answer comes from the record and the tool does not run (replay has no side
    # effects), so the chat it ran, recorded under the tool call's step, is not expected.
    store = tmp_path / "runs.db"
    graph = GRAPHS / "tool_agent.yaml"
    with SQLiteRunStore(store) as opened:
        original = record_run(opened, compile_graph(graph), "go", graph_file=graph, run_id="t")
        events = opened.events("t")
        report = replay_run(opened, "t")
    nested = [e for e in events if e.step.startswith("3/student<->expert.")]
    assert any(e.kind == "message" for e in nested)
    assert report.complete
    assert report.events_checked == len(events) - len(nested)
    assert report.result is not None
    assert report.result.messages == original.messages
    done = cli("replay", "t", "--store", str(store), "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "matches the whole record" in done.stdout


def test_replay_of_a_run_paused_inside_a_tool_matches_up_to_the_pause(tmp_path: Path) -> None:
    graph = tmp_path / "tool_agent.yaml"
    text = (GRAPHS / "tool_agent.yaml").read_text()
    graph.write_text(text.replace("human: false", "human: true"))
    with SQLiteRunStore(tmp_path / "runs.db") as opened:
        paused = record_run(opened, compile_graph(graph), "go", graph_file=graph, run_id="t",
                            input_provider=NonInteractiveInput())
        assert paused.status == "waiting_for_human"
        report = replay_run(opened, "t")
    assert not report.complete
    assert report.events_checked > 0


def test_replay_of_a_run_that_failed_in_user_code_matches(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    graph = GRAPHS / "raise.yaml"
    with SQLiteRunStore(store) as opened:
        with pytest.raises(ValueError, match="boom in reply"):
            record_run(opened, compile_graph(graph), "go", graph_file=graph, run_id="f")
        assert opened.get_run("f").status == "failed"
        events = opened.events("f")

        report = replay_run(opened, "f")

    assert not report.complete
    assert report.events_checked == len(events)  # the error and the ending included
    done = cli("replay", "f", "--store", str(store), "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "matches the record up to where it stops" in done.stdout


def test_replay_that_fails_with_another_error_diverges(tmp_path: Path) -> None:
    graph = GRAPHS / "raise.yaml"
    with SQLiteRunStore(tmp_path / "runs.db") as opened:
        with pytest.raises(ValueError):
            record_run(opened, compile_graph(graph), "go", graph_file=graph, run_id="f")

        with pytest.raises(ReplayDivergenceError) as caught:
            replay_run(opened, "f", agents={"b": store_agents.raiser("b", "other trouble")})

    error = caught.value
    assert error.where == RunLocation("f", "3", "b")
    assert "expected error FA300: 'run=f step=3 node=b: ValueError: boom in reply'" in str(error)
    assert "got error FA300: 'run=f step=3 node=b: ValueError: other trouble'" in str(error)


def test_fork_with_the_cache_goes_on_from_the_next_script_line(tmp_path: Path) -> None:
    # The fork calls the scripted writer again for each answer it takes from the record, so
    # that its script moves on; the cache must not answer that call in its place.
    graph = GRAPHS / "scripted_ask.yaml"
    with SQLiteRunStore(tmp_path / "runs.db") as opened:
        record_run(opened, compile_graph(graph), "go", graph_file=graph, run_id="orig",
                   cache=True, input_provider=NonInteractiveInput())
        fork = fork_run(opened, "orig", "3", new_run_id="fork",
                        input_provider=ScriptedInput(["ok1", "ok2"]))
        got = transcript(opened.events("fork"))
    assert fork.status == "completed"
    assert [text for step, sender, text in got if sender == "writer"] == ["draft one", "draft two"]
