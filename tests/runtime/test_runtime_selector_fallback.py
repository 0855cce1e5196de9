"""``selector.fallback`` when a dynamic graph has no selector model."""

from __future__ import annotations

import asyncio

import pytest
from runtime_helpers import agent, of_kind, speakers

from flowagents import GraphBuilder, Runner
from flowagents.errors import SelectorError
from flowagents.events import Event, SpeakerSelected
from flowagents.graph import CompiledGraph
from flowagents.runtime._scope import Scope
from flowagents.runtime._selector import SpeakerSelector


def _star(fallback: str) -> CompiledGraph:
    """Dynamic ``a -> c | b`` (in that order), ``b -> a``, ``c -> a``, no selector model."""
    return (
        GraphBuilder("star", mode="dynamic")
        .agent(agent("a", [f"a{i}" for i in range(5)]))
        .agent(agent("b", [f"b{i}" for i in range(5)]))
        .agent(agent("c", [f"c{i}" for i in range(5)]))
        .edge("a", "c")
        .edge("a", "b")
        .edge("b", "a")
        .edge("c", "a")
        .start("a")
        .selector(fallback=fallback)
        .terminate(keyword=None, max_turns=6)
        .compile()
    )


@pytest.mark.parametrize(
    ("fallback", "expected"),
    [
        ("first", ["user", "a", "c", "a", "c", "a"]),
        ("round_robin", ["user", "a", "b", "a", "b", "a"]),  # the node after a: b
    ],
)
def test_fallback_chooses_without_a_selector_model(fallback: str, expected: list[str]) -> None:
    events: list[Event] = []
    result = Runner(_star(fallback), sinks=[events.append]).run("go")
    assert result.status == "completed"
    assert speakers(events) == expected
    methods = {event.method for event in of_kind(events, SpeakerSelected)}
    assert methods == {f"fallback:{fallback}"}


def test_error_fallback_without_a_selector_model_raises() -> None:
    # The compiler refuses such a graph (FG012), so the selector is asked directly.
    graph = _star("first")
    selector = SpeakerSelector(client=None, fallback="error", node_order=list(graph.nodes))
    scope = Scope(graph, {}, {})
    with pytest.raises(SelectorError, match="the selector has no model"):
        asyncio.run(selector.select(scope, "a", ["c", "b"]))
