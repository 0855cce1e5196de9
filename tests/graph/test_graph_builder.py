"""The Python front doors: GraphBuilder and AutoGen-style speaker transitions."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

import pytest

from flowagents.errors import GraphCompileError
from flowagents.graph import (
    AgentSpec,
    CodeGuard,
    ContainsGuard,
    Finding,
    GraphBuilder,
    SelectorSpec,
    SimpleGuardContext,
    TerminationSpec,
    compile_graph,
    graph_from_transitions,
)

GRAPHS = Path(__file__).parents[2] / "graphs"


@dataclass(eq=False)
class LiveAgent:
    name: str
    description: str = ""
    system_message: str = "You help."


class UserProxyAgent(LiveAgent):
    pass


def code_loop_builder() -> GraphBuilder:
    return (
        GraphBuilder("loop", description="write and run")
        .model("m", "scripted-model", provider="scripted", replies=["print(1)"])
        .agent("writer", model="m", description="writes code")
        .agent("executor", type="user_proxy", code_execution=True)
        .agent("reviewer", model="m")
        .edge("writer", "executor")
        .edge("executor", "writer", guard=CodeGuard(code="failed"), max_traversals=3)
        .edge("executor", "reviewer", label="review")
        .start("writer")
        .terminate(max_turns=10, terminal=["reviewer"])
    )


def test_builder_compiles_to_the_documented_api() -> None:
    graph = code_loop_builder().compile()
    assert (graph.name, graph.mode, graph.start) == ("loop", "static", "writer")
    assert list(graph.nodes) == ["writer", "executor", "reviewer"]
    assert graph.nodes["executor"].agent is not None
    assert graph.nodes["executor"].agent.type == "user_proxy"
    assert [e.target for e in graph.out_edges("executor")] == ["writer", "reviewer"]
    assert graph.termination.terminal == ("reviewer",)
    assert graph.models["m"].replies == ["print(1)"]
    failed = SimpleGuardContext(last_code_exit_code=2)
    assert [e.target for e in graph.successors("executor", failed)] == ["writer", "reviewer"]
    exhausted = SimpleGuardContext(last_code_exit_code=2, counters={"executor->writer": 3})
    assert [e.target for e in graph.successors("executor", exhausted)] == ["reviewer"]
    assert graph.source is None and graph.findings == ()


def test_builder_findings_point_at_the_builder_call() -> None:
    builder = code_loop_builder()
    line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
    builder.edge("reviewer", "ghost")
    with pytest.raises(GraphCompileError) as info:
        builder.compile()
    (finding,) = [f for f in info.value.findings if isinstance(f, Finding) and f.code == "FG001"]
    assert finding.location is not None
    assert (finding.location.file, finding.location.line) == (__file__, line)


def test_builder_findings_have_1_based_columns() -> None:
    line = inspect.currentframe().f_lineno + 4  # type: ignore[union-attr]
    chained = (
        GraphBuilder("g")
        .agent("a")
        .edge("a", "ghost")
        .start("a")
    )
    text = {"é": GraphBuilder("g").agent("a").edge("a", "ghost").start("a")}["é"]
    found = [
        (f.location.line, f.location.column)
        for builder in (chained, text)
        for f in builder.check()
        if f.code == "FG001" and f.location is not None
    ]
    # a call spread over lines starts at the method name; one on a single line at its start,
    # counted in characters (the "é" before it is two bytes)
    assert found == [(line, 10), (line + 3, 18)]


def test_a_column_that_cannot_be_known_is_left_out() -> None:
    namespace = {"GraphBuilder": GraphBuilder}
    exec(compile("b = GraphBuilder('g').agent('a').edge('a', 'ghost')", "<made>", "exec"),
         namespace)
    (finding,) = [f for f in namespace["b"].check() if f.code == "FG001"]  # type: ignore[attr-defined]
    assert finding.location is not None
    assert (finding.location.line, finding.location.column) == (1, 0)
    assert str(finding).startswith("<made>:1: error FG001 ")
    assert (finding.to_json()["line"], finding.to_json()["column"]) == (1, None)


def test_findings_in_a_nested_builder_point_at_its_calls() -> None:
    inner = GraphBuilder("inner").agent("x").start("x")
    line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
    inner.edge("x", "nope")
    outer = GraphBuilder("outer").agent("a").subgroup("s", inner).edge("a", "s").start("a")
    (finding,) = [f for f in outer.check() if f.code == "FG001"]
    assert finding.graph == "outer/inner"
    assert finding.location is not None
    assert (finding.location.file, finding.location.line, finding.location.column) == (
        __file__, line, 5
    )


def test_builder_and_file_front_doors_compile_to_equal_graphs(tmp_path: Path) -> None:
    graph = code_loop_builder().compile()
    path = tmp_path / "loop.yaml"
    path.write_text(graph.to_yaml())
    assert compile_graph(path) == graph
    assert compile_graph(code_loop_builder().build()) == graph


def test_live_agents_become_bindings_not_spec() -> None:
    writer = LiveAgent("writer", description="writes")
    runner = UserProxyAgent("runner")
    graph = (
        GraphBuilder("live")
        .agent(writer)
        .agent(runner, allow_repeat=True)
        .chain(writer, runner)
        .edge(runner, runner, max_traversals=2)
        .start(writer)
        .compile()
    )
    assert graph.bindings == {"writer": writer, "runner": runner}
    assert graph.nodes["writer"].description == "writes"
    assert graph.nodes["runner"].agent.type == "user_proxy"  # type: ignore[union-attr]
    assert graph.nodes["writer"].agent.system_message == "You help."  # type: ignore[union-attr]
    assert "LiveAgent" not in graph.to_yaml()
    plain = (
        GraphBuilder("live")
        .agent(AgentSpec(name="writer", type="conversable", description="writes",
                         system_message="You help."))
        .agent("runner", type="user_proxy", system_message="You help.", allow_repeat=True)
        .chain("writer", "runner")
        .edge("runner", "runner", max_traversals=2)
        .start("writer")
        .compile()
    )
    assert plain == graph and plain.bindings == {}


def test_fan_out_and_subgroups() -> None:
    team = GraphBuilder("team").agent("x").agent("y").chain("x", "y").start("x")
    graph = (
        GraphBuilder("top")
        .model("sums", "scripted-sums", provider="scripted", replies=["in short"])
        .agent("plan")
        .agent("merge", join="all")
        .subgroup("inner", team, summary="reflection", summary_model="sums")
        .subgroup("again", team.compile())
        .subgroup("from_file", GRAPHS / "teams" / "qa_team.yaml")
        .fan_out("plan", ["inner", "again", "from_file"])
        .edge("inner", "merge")
        .edge("again", "merge")
        .edge("from_file", "merge")
        .start("plan")
        .compile()
    )
    assert all(e.parallel for e in graph.out_edges("plan"))
    inner = graph.nodes["inner"]
    assert inner.kind == "subgroup" and inner.summary == "reflection"
    assert inner.summary_model == "sums"
    assert inner.subgraph == graph.nodes["again"].subgraph
    assert graph.nodes["from_file"].subgraph is not None
    assert graph.nodes["from_file"].subgraph.name == "qa_team"
    assert [path for path, _ in graph.walk()] == [(), ("inner",), ("again",), ("from_file",)]


def test_live_agents_are_bound_at_the_graph_level_they_were_declared_in() -> None:
    nested = LiveAgent("writer", description="nested writer")
    inner = GraphBuilder("inner").agent(nested).start(nested)
    graph = (
        GraphBuilder("outer")
        .agent("writer", description="top writer")  # the same name, one level up: no binding
        .subgroup("team", inner)
        .edge("writer", "team")
        .start("writer")
        .compile()
    )
    assert {path: dict(g.bindings) for path, g in graph.walk()} == {
        (): {},
        ("team",): {"writer": nested},
    }


def test_a_compiled_subgroup_keeps_its_live_agents_at_every_level() -> None:
    expert, checker = LiveAgent("expert"), LiveAgent("checker")
    deepest = GraphBuilder("deepest").agent(checker).start(checker)
    inner = GraphBuilder("inner").agent(expert).subgroup("check", deepest)
    compiled = inner.edge(expert, "check").start(expert).compile()
    outer = GraphBuilder("outer").agent("boss").subgroup("team", compiled).edge("boss", "team")

    graph = outer.start("boss").compile()

    assert {path: dict(g.bindings) for path, g in graph.walk()} == {
        (): {},
        ("team",): {"expert": expert},
        ("team", "check"): {"checker": checker},
    }


def test_the_builder_can_say_every_termination_field(tmp_path: Path) -> None:
    parameters = inspect.signature(GraphBuilder.terminate).parameters
    assert set(parameters) - {"self"} == set(TerminationSpec.model_fields)
    graph = (
        GraphBuilder("stop")
        .agent("a")
        .agent("b")
        .edge("a", "b")
        .edge("b", "a")
        .start("a")
        .terminate(keyword=None, agents_may_stop=True)
        .compile()
    )
    assert graph.termination == TerminationSpec(keyword=None, agents_may_stop=True)
    path = tmp_path / "stop.yaml"
    path.write_text(
        "name: stop\nstart: a\nagents: [{name: a}, {name: b}]\n"
        "edges: [{from: a, to: b}, {from: b, to: a}]\n"
        "termination: {keyword: null, agents_may_stop: true}\n"
    )
    assert compile_graph(path) == graph


def test_transitions_keep_every_termination_field() -> None:
    termination = TerminationSpec(
        keyword="DONE", max_turns=4, token_budget=100, terminal=("b",), agents_may_stop=True
    )
    graph = graph_from_transitions(["a", "b"], {"a": ["b"]}, termination=termination)
    assert graph.termination == termination


def test_transitions_allowed_with_agent_objects() -> None:
    a, b, c = LiveAgent("a"), LiveAgent("b"), LiveAgent("c")
    graph = graph_from_transitions([a, b, c], {a: [b, c], b: [a], c: [c, a]}, "allowed")
    edges = {(e.source, e.target) for e in graph.edges}
    assert edges == {("a", "b"), ("a", "c"), ("b", "a"), ("c", "c"), ("c", "a")}
    assert graph.mode == "dynamic" and graph.start == "a"
    assert graph.nodes["c"].allow_repeat and not graph.nodes["a"].allow_repeat
    assert graph.selector.fallback == "round_robin"
    assert graph.bindings["b"] is b


def test_transitions_disallowed_and_complete() -> None:
    names = ["a", "b", "c"]
    disallowed = graph_from_transitions(names, {"a": ["b"], "b": ["b"]}, "disallowed")
    edges = {(e.source, e.target) for e in disallowed.edges}
    everything = {(s, t) for s in names for t in names}
    assert edges == everything - {("a", "b"), ("b", "b")}
    complete = graph_from_transitions(names, None, allow_repeat_speaker=False)
    assert {(e.source, e.target) for e in complete.edges} == {
        (s, t) for s in names for t in names if s != t
    }
    chosen = graph_from_transitions(
        names,
        {"a": ["b"], "b": ["c"]},
        start="b",
        mode="static",
        selector=SelectorSpec(fallback="first"),
        termination=TerminationSpec(max_turns=3, terminal=("c",)),
    )
    assert chosen.start == "b" and chosen.termination.max_turns == 3
    assert [f.code for f in chosen.findings] == ["FG004"]  # a is not reachable from b


def test_transitions_report_unknown_agents_and_bad_types() -> None:
    with pytest.raises(GraphCompileError, match="FG001"):
        graph_from_transitions(["a", "b"], {"a": ["zed"]})
    with pytest.raises(ValueError, match="speaker_transitions_type"):
        graph_from_transitions(["a"], {"a": ["a"]}, "sometimes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"\.name"):
        graph_from_transitions([42], None)


def test_builder_accepts_guard_data() -> None:
    graph = (
        GraphBuilder("g")
        .agent("a")
        .agent("b")
        .agent("c")
        .edge("a", "b", guard={"contains": "B"})
        .edge("a", "c")
        .start("a")
        .compile()
    )
    assert graph.out_edges("a")[0].guard == ContainsGuard(contains="B")
