"""Every way a run ends, each recorded in ``terminated`` and ``run_finished``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from runtime_helpers import agent, ending, of_kind, pair, speakers

from flowagents import ConversableAgent, GraphBuilder, Runner, ScriptedModel
from flowagents.errors import ConfigError
from flowagents.events import Event, MessageSent, Terminated
from flowagents.graph import CompiledGraph, graph_from_transitions
from flowagents.runtime import RunResult


def _run(graph: CompiledGraph, **options: Any) -> tuple[RunResult, list[Event]]:
    events: list[Event] = []
    result = Runner(graph, sinks=[events.append], **options).run("begin")
    return result, events


def _loop(**terminate: Any) -> CompiledGraph:
    """``a <-> b`` forever unless the termination settings stop it."""
    a = agent("a", [f"a{i}" for i in range(10)])
    b = agent("b", [f"b{i}" for i in range(10)])
    return (
        GraphBuilder("loop")
        .agent(a)
        .agent(b)
        .edge(a, b)
        .edge(b, a)
        .start(a)
        .terminate(**terminate)
        .compile()
    )


def test_keyword() -> None:
    a = agent("a", ["thinking", "all done TERMINATE"])
    b = agent("b", ["go on"])
    graph = GraphBuilder("kw").agent(a).agent(b).edge(a, b).edge(b, a).start(a).compile()

    result, events = _run(graph)

    assert speakers(events) == ["user", "a", "b", "a"]
    assert ending(events) == ("keyword", "completed")
    (terminated,) = of_kind(events, Terminated)
    assert terminated.node == "a"
    assert "TERMINATE" in terminated.detail
    assert result.reason == "keyword"
    assert result.last_node == "a"


def test_custom_keyword() -> None:
    result, events = _run(_loop(keyword="b1"))

    assert speakers(events) == ["user", "a", "b", "a", "b"]
    assert result.reason == "keyword"


def test_is_termination_msg() -> None:
    def stop(message: dict[str, Any]) -> bool:
        return message.get("content") == "a1"

    _, events = _run(_loop(keyword=None, max_turns=20), is_termination_msg=stop)

    assert speakers(events) == ["user", "a", "b", "a"]
    assert ending(events) == ("is_termination_msg", "completed")


def test_max_turns() -> None:
    result, events = _run(_loop(keyword=None, max_turns=4))

    assert len(result.messages) == 4
    assert ending(events) == ("max_turns", "completed")


def test_runner_max_turns_overrides_the_graph() -> None:
    result, _ = _run(_loop(keyword=None, max_turns=10), max_turns=3)

    assert [m.text for m in result.messages] == ["begin", "a0", "b0"]
    assert result.reason == "max_turns"


def test_token_budget() -> None:
    # ScriptedModel counts words; every reply is one word and the prompts grow.
    result, events = _run(_loop(keyword=None, token_budget=10, max_turns=50))

    assert ending(events) == ("token_budget", "completed")
    total = sum(
        usage["total_tokens"]
        for model, usage in result.cost["usage_including_cached_inference"].items()
        if model != "total_cost"
    )
    assert total >= 10
    assert len(result.messages) < 50


def test_terminal_node() -> None:
    a = agent("a", ["a0"])
    b = agent("b", ["b0"])
    c = agent("c", ["c0"])
    graph = (
        GraphBuilder("terminal")
        .agent(a)
        .agent(b)
        .agent(c)
        .chain(a, b, c)
        .start(a)
        .terminate(keyword=None, terminal=[b])
        .compile()
    )

    _, events = _run(graph)

    assert speakers(events) == ["user", "a", "b"]
    assert ending(events) == ("terminal_node", "completed")
    assert c.client is not None
    assert c.client.remaining == 1  # type: ignore[attr-defined]


def test_no_successor() -> None:
    a = agent("a", ["a0"])
    b = agent("b", ["b0"])
    c = agent("c", ["c0"])
    graph = (
        GraphBuilder("dead_end")
        .agent(a)
        .agent(b)
        .agent(c)
        .edge(a, b)
        .edge(b, c, guard={"contains": "never said"})
        .edge(c, a)
        .start(a)
        .terminate(keyword=None, max_turns=10)
        .compile()
    )

    result, events = _run(graph)

    assert speakers(events) == ["user", "a", "b"]
    assert ending(events) == ("no_successor", "completed")
    assert result.last_node == "b"


def test_max_visits() -> None:
    a = agent("a", [f"a{i}" for i in range(10)])
    b = agent("b", [f"b{i}" for i in range(10)])
    graph = (
        GraphBuilder("visits")
        .agent(a)
        .agent(b, max_visits=3)
        .edge(a, b)
        .edge(b, a)
        .start(a)
        .terminate(keyword=None, max_turns=50)
        .compile()
    )

    _, events = _run(graph)

    assert speakers(events).count("b") == 3
    assert ending(events) == ("max_visits", "completed")


def test_agent_stops() -> None:
    a = agent("a", ["a0", "a1"])
    quitter = ConversableAgent("quitter", llm_config=False, human_input_mode="NEVER")
    quitter.register_reply(object, lambda agent, messages, sender, config: (True, None))
    graph = (
        GraphBuilder("quit")
        .agent(a)
        .agent(quitter)
        .edge(a, quitter)
        .edge(quitter, a)
        .start(a)
        .terminate(keyword=None, max_turns=10)
        .compile()
    )

    result, events = _run(graph)

    assert speakers(events) == ["user", "a"]
    assert ending(events) == ("agent_stopped", "completed")
    assert result.last_node == "quitter"


def test_agent_stops_on_its_own_termination_test() -> None:
    a = agent("a", ["a0", "stop now"])
    b = agent("b", ["b0", "b1"], is_termination_msg=lambda m: m.get("content") == "stop now")

    _, events = _run(pair(a, b, max_turns=20))

    assert speakers(events) == ["user", "a", "b", "a"]
    assert ending(events) == ("is_termination_msg", "completed")


def test_selector_returns_none() -> None:
    members = [agent("a", ["a0", "a1"]), agent("b", ["b0"]), agent("c", ["c0"])]
    graph = graph_from_transitions(members, {"a": ["b", "c"], "b": ["a"], "c": ["a"]})
    calls: list[tuple[str, Sequence[str]]] = []

    def choose(current: str, candidates: Sequence[str], scope: Any) -> str | None:
        calls.append((current, tuple(candidates)))
        return "b" if len(calls) == 1 else None

    result, events = _run(graph, selection=choose)

    assert speakers(events) == ["user", "a", "b", "a"]
    assert calls == [("a", ("b", "c")), ("a", ("b", "c"))]
    assert ending(events) == ("selector_stopped", "completed")
    assert result.last_node == "a"


def test_every_run_emits_exactly_one_start_and_finish() -> None:
    _, events = _run(_loop(keyword=None, max_turns=3))

    kinds = [e.kind for e in events]
    assert kinds[0] == "run_started"
    assert kinds[-2:] == ["terminated", "run_finished"]
    assert kinds.count("run_started") == 1
    assert kinds.count("run_finished") == 1
    assert kinds.count("node_entered") == kinds.count("node_left")


def _team(**terminate: Any) -> GraphBuilder:
    """The subgroup ``x <-> y``, five words a turn, for eight turns unless stopped sooner."""
    x = agent("x", ScriptedModel(["x x x x x"], repeat_last=True))
    y = agent("y", ScriptedModel(["y y y y y"], repeat_last=True))
    return (
        GraphBuilder("team")
        .agent(x)
        .agent(y)
        .edge(x, y)
        .edge(y, x)
        .start(x)
        .terminate(keyword=None, max_turns=8, **terminate)
    )


def _with_team(team: GraphBuilder, **terminate: Any) -> CompiledGraph:
    lead = agent("lead", ScriptedModel(["go go"], repeat_last=True))
    after = agent("after", ScriptedModel(["done"], repeat_last=True))
    return (
        GraphBuilder("outer")
        .agent(lead)
        .agent(after)
        .subgroup("team", team)
        .chain("lead", "team", "after")
        .start("lead")
        .terminate(keyword=None, terminal=["after"], **terminate)
        .compile()
    )


def test_the_parents_token_budget_stops_the_run_inside_a_subgroup() -> None:
    result, events = _run(_with_team(_team(), token_budget=20))

    assert ending(events) == ("token_budget", "completed")
    team = [e for e in events if isinstance(e, MessageSent) and e.step.startswith("3/team.")]
    assert len(team) < 8  # the subgroup stopped before its own max_turns
    assert result.messages[-1].metadata == {"subgroup_reason": "token_budget"}
    spent = int(result.detail.removesuffix(" tokens"))
    assert 20 <= spent < 40


def test_a_subgroups_token_budget_counts_only_its_own_spending() -> None:
    events: list[Event] = []
    graph = _with_team(_team(token_budget=1000))

    result = Runner(graph, sinks=[events.append]).run(" ".join(["t"] * 1000))

    assert result.messages[2].metadata == {"subgroup_reason": "max_turns"}
    assert result.reason == "terminal_node"


@pytest.mark.parametrize("max_turns", [0, -3])
def test_runner_max_turns_below_one_is_refused(max_turns: int) -> None:
    with pytest.raises(ConfigError, match="max_turns must be at least 1"):
        Runner(_loop(keyword=None, max_turns=10), max_turns=max_turns)
