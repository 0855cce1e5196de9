"""Parallel branches: how a branch ends, fails and nests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from runtime_helpers import ending, of_kind

from flowagents import ConversableAgent, GraphBuilder, Runner, ScriptedModel
from flowagents.events import Event, Terminated
from flowagents.models import ModelRequest


def _slow(name: str, text: str, delay: float) -> ConversableAgent:
    """An agent whose one answer takes ``delay`` seconds."""

    async def answer(request: ModelRequest) -> str:
        await asyncio.sleep(delay)
        return text

    return ConversableAgent(
        name, llm_config=ScriptedModel(answer), human_input_mode="NEVER", description=name
    )


def _said(name: str, text: str) -> ConversableAgent:
    return _slow(name, text, 0.0)


@pytest.mark.parametrize("join", ["all", "any"])
def test_a_keyword_inside_a_branch_ends_the_run(join: Any) -> None:
    graph = (
        GraphBuilder("fan")
        .agent(_said("boss", "go"))
        .agent(_slow("a", "a done TERMINATE", 0.01))
        .agent(_slow("b", "b done", 0.05))
        .agent(_said("j", "joined"), join=join)
        .fan_out("boss", ["a", "b"])
        .edge("a", "j")
        .edge("b", "j")
        .start("boss")
        .terminate(terminal=["j"])
        .compile()
    )
    events: list[Event] = []

    result = Runner(graph, sinks=[events.append]).run("task")

    assert (result.status, result.reason, result.last_node) == ("completed", "keyword", "a")
    assert ending(events) == ("keyword", "completed")
    assert [m.text for m in result.messages] == ["task", "go", "a done TERMINATE", "b done"]


def test_max_turns_inside_every_branch_is_counted_on_the_merged_transcript() -> None:
    builder = GraphBuilder("fan").agent(_said("boss", "go"))
    for i in range(3):
        builder.agent(_said(f"x{i}", f"x{i}")).agent(_said(f"y{i}", f"y{i}"))
        builder.edge("boss", f"x{i}", parallel=True).edge(f"x{i}", f"y{i}").edge(f"y{i}", "j")
    graph = (
        builder.agent(_said("j", "j"), join="all")
        .start("boss")
        .terminate(keyword=None, max_turns=4, terminal=["j"])
        .compile()
    )
    events: list[Event] = []

    result = Runner(graph, sinks=[events.append]).run("task")

    assert (result.status, result.reason) == ("completed", "max_turns")
    assert len(result.messages) == 8  # task, boss, then two messages of each branch
    assert result.detail == "8 messages"
    assert of_kind(events, Terminated)[-1].detail == "8 messages"


def _failing_fan_out(name: str) -> GraphBuilder:
    """``lead =>(ok, bad) -> merge``: branch ``bad`` raises at its first turn."""
    return (
        GraphBuilder(name)
        .agent(_said("lead", "split"))
        .agent(_slow("ok", "ok done", 0.05))
        .agent(ConversableAgent("bad", llm_config=ScriptedModel([RuntimeError("boom in bad")])))
        .agent(_said("merge", "merged"), join="all")
        .fan_out("lead", ["ok", "bad"])
        .edge("ok", "merge")
        .edge("bad", "merge")
        .start("lead")
        .terminate(terminal=["merge"])
    )


def _error_places(events: list[Event]) -> list[tuple[str, str, str | None]]:
    return [(e.kind, e.step, e.node) for e in events if e.kind in ("error", "terminated")]


def test_an_error_in_a_branch_is_located_at_the_branchs_step() -> None:
    events: list[Event] = []

    with pytest.raises(Exception, match="boom in bad") as raised:
        Runner(_failing_fan_out("fan").compile(), sinks=[events.append]).run("task")

    assert raised.type is RuntimeError
    assert any(note.endswith("step=2/bad.1 node=bad") for note in raised.value.__notes__)
    assert _error_places(events) == [("error", "2/bad.1", "bad"), ("terminated", "2/bad.1", "bad")]


def test_an_error_in_a_subgroups_branch_is_located_at_the_branchs_step() -> None:
    graph = (
        GraphBuilder("outer")
        .agent(_said("boss", "go"))
        .subgroup("team", _failing_fan_out("team"))
        .agent(_said("closer", "closed"))
        .chain("boss", "team", "closer")
        .start("boss")
        .terminate(terminal=["closer"])
        .compile()
    )
    events: list[Event] = []

    with pytest.raises(Exception, match="boom in bad") as raised:
        Runner(graph, sinks=[events.append]).run("task")

    assert raised.type is RuntimeError
    assert any(note.endswith("step=3/team.2/bad.1 node=bad") for note in raised.value.__notes__)
    assert _error_places(events) == [
        ("error", "3/team.2/bad.1", "bad"),
        ("terminated", "3/team.2/bad.1", "bad"),
    ]


def test_a_fan_out_inside_a_branch_runs_its_own_join_then_goes_on() -> None:
    builder = GraphBuilder("nested")
    for name in ["s", "a", "b", "a1", "a2", "aj", "j", "end"]:
        builder.agent(_said(name, f"{name} r"), join="all" if name in ("aj", "j") else None)
    graph = (
        builder.fan_out("s", ["a", "b"])
        .fan_out("a", ["a1", "a2"])
        .edge("a1", "aj")
        .edge("a2", "aj")
        .edge("aj", "j")
        .edge("b", "j")
        .edge("j", "end")
        .start("s")
        .terminate(keyword=None, terminal=["end"])
        .compile()
    )
    events: list[Event] = []

    result = Runner(graph, sinks=[events.append]).run("go")

    assert (result.status, result.reason) == ("completed", "terminal_node")
    assert [m.name for m in result.messages] == [
        "user", "s", "a", "a1", "a2", "aj", "b", "j", "end"
    ]  # fmt: skip
    steps = {e.node: e.step for e in events if e.kind == "node_entered"}
    assert (steps["a1"], steps["aj"], steps["j"]) == ("2/a.1/a1.1", "2/a.2", "3")
