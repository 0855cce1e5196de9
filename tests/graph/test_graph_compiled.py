"""The compiled graph: the API the runtime reads, immutability, equality and YAML round trip."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowagents.graph import (
    AgentSpec,
    CompiledGraph,
    GraphBuilder,
    SimpleGuardContext,
    compile_graph,
    load_graph_spec,
)
from flowagents.graph._compiler import compile_with_findings
from flowagents.messages import Message

GRAPHS = Path(__file__).parents[2] / "graphs"


@pytest.fixture(scope="module")
def code_loop() -> CompiledGraph:
    return compile_graph(GRAPHS / "code_loop.yaml")


def test_nodes_edges_and_settings(code_loop: CompiledGraph) -> None:
    graph = code_loop
    assert (graph.name, graph.mode, graph.start) == ("code_loop", "static", "writer")
    assert list(graph.nodes) == ["writer", "executor", "reviewer", "summarizer"]
    executor = graph.nodes["executor"]
    assert (executor.kind, executor.subgraph) == ("agent", None)
    assert isinstance(executor.agent, AgentSpec) and executor.agent.code_execution
    assert [(e.target, e.label, e.index) for e in graph.out_edges("executor")] == [
        ("writer", "fix", 1),
        ("reviewer", "review", 2),
    ]
    assert [e.source for e in graph.in_edges("writer")] == ["executor", "reviewer"]
    assert graph.termination.terminal == ("summarizer",)
    assert graph.termination.keyword == "TERMINATE" and graph.termination.max_turns == 30
    assert graph.selector.max_retries == 2 and graph.selector.constraint == "auto"
    assert set(graph.models) == {"coder", "reviewer"}
    assert graph.models["coder"].provider == "scripted"
    assert graph.source is not None and graph.source.endswith("code_loop.yaml")
    assert graph.spec == load_graph_spec(GRAPHS / "code_loop.yaml")
    assert len(graph.content_hash) == 64 and int(graph.content_hash, 16) >= 0


def test_successors_apply_guards_and_bounds(code_loop: CompiledGraph) -> None:
    def targets(node: str, **kwargs: Any) -> list[str]:
        return [e.target for e in code_loop.successors(node, SimpleGuardContext(**kwargs))]

    assert targets("executor", last_code_exit_code=1) == ["writer", "reviewer"]
    assert targets("executor", last_code_exit_code=0) == ["reviewer"]
    assert targets("executor", last_code_exit_code=1, counters={"executor->writer": 5}) == [
        "reviewer"
    ]
    review = Message(content="CHANGES REQUESTED: rename x")
    assert targets("reviewer", last_message=review) == ["writer", "summarizer"]
    assert targets("reviewer", last_message=Message(content="APPROVED")) == ["summarizer"]
    assert targets("summarizer") == []


def test_to_networkx_is_a_copy_with_our_objects(code_loop: CompiledGraph) -> None:
    graph = code_loop.to_networkx()
    assert list(graph.nodes) == list(code_loop.nodes)
    assert graph.nodes["writer"]["node"] is code_loop.nodes["writer"]
    assert graph.edges["executor", "writer"]["max_traversals"] == 5
    assert graph.edges["executor", "writer"]["edge"] is code_loop.out_edges("executor")[0]
    assert graph.graph["start"] == "writer"
    graph.remove_node("writer")
    assert "writer" in code_loop.to_networkx()


def test_compiled_graph_is_immutable(code_loop: CompiledGraph) -> None:
    with pytest.raises(AttributeError, match="immutable"):
        code_loop.start = "reviewer"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del code_loop.name
    with pytest.raises(TypeError):
        code_loop.nodes["x"] = code_loop.nodes["writer"]  # type: ignore[index]
    with pytest.raises(TypeError):
        code_loop.models["x"] = code_loop.models["coder"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        code_loop.nodes["writer"].name = "w"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        code_loop.edges[0].target = "w"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        code_loop.out_edges("writer").append(code_loop.edges[0])  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="frozen"):
        code_loop.termination.max_turns = 1  # type: ignore[misc]


def test_equality_and_hash_follow_content(tmp_path: Path, code_loop: CompiledGraph) -> None:
    again = compile_graph(GRAPHS / "code_loop.yaml")
    assert again == code_loop and hash(again) == hash(code_loop)
    assert again.content_hash == code_loop.content_hash
    changed = tmp_path / "code_loop.yaml"
    text = (GRAPHS / "code_loop.yaml").read_text()
    changed.write_text(text.replace("max_turns: 30", "max_turns: 31"))
    assert compile_graph(changed) != code_loop
    assert code_loop != "code_loop"


def test_team_of_teams_nests_two_levels_and_round_trips(tmp_path: Path) -> None:
    graph = compile_graph(GRAPHS / "team_of_teams.yaml")
    engineering = graph.nodes["engineering"].subgraph
    assert engineering is not None and engineering.mode == "static"
    qa = engineering.nodes["qa"].subgraph
    assert qa is not None and qa.source is not None and qa.source.endswith("qa_team.yaml")
    research = graph.nodes["research"].subgraph
    assert research is not None and research.mode == "dynamic"
    assert graph.nodes["research"].summary == "reflection"
    assert graph.nodes["research"].description == research.spec.description
    paths = [p for p, _ in graph.walk()]
    assert paths == [(), ("research",), ("engineering",), ("engineering", "qa")]
    # written out self-contained (files inlined) it compiles to an equal graph anywhere
    copy = tmp_path / "elsewhere.yaml"
    copy.write_text(graph.to_yaml())
    assert compile_graph(copy) == graph
    assert "teams/qa_team.yaml" in graph.to_yaml(inline_subgroups=False)
    assert "teams/qa_team.yaml" not in graph.to_yaml()


# ---- round trip: builder -> to_yaml -> load -> compile is equal (hypothesis) ----

NAMES = ["alpha", "beta", "gamma", "delta", "eps", "zeta"]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
LEAF_GUARDS = st.one_of(
    st.builds(dict, contains=TEXT, ignore_case=st.booleans()),
    st.builds(dict, matches=st.sampled_from([r"\d+", "^ok", "(a|b)c?"])),
    st.builds(dict, tool_call=st.sampled_from(["search", "run"])),
    st.builds(dict, code=st.sampled_from(["failed", "succeeded"])),
    st.builds(dict, counter=st.sampled_from(NAMES), reached=st.integers(0, 5)),
    st.builds(dict, python=st.just("my_pkg.guards:done")),
)
GUARDS = st.recursive(
    LEAF_GUARDS,
    lambda inner: st.one_of(
        st.builds(lambda g: {"not": g}, inner),
        st.builds(lambda gs: {"all": gs}, st.lists(inner, max_size=3)),
        st.builds(lambda gs: {"any": gs}, st.lists(inner, max_size=3)),
    ),
    max_leaves=5,
)


@st.composite
def builders(draw: st.DrawFn, depth: int = 0) -> GraphBuilder:
    nodes = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    builder = GraphBuilder(
        draw(st.one_of(st.none(), st.sampled_from(["g", "team"]))),
        mode=draw(st.sampled_from(["static", "dynamic"])),
        description=draw(TEXT),
    )
    if draw(st.booleans()):
        builder.model(
            "m",
            draw(TEXT),
            provider=draw(st.sampled_from(["openai", "scripted"])),
            temperature=draw(st.one_of(st.none(), st.floats(0, 2))),
            replies=draw(st.lists(TEXT, max_size=3)),
            params=draw(st.dictionaries(st.sampled_from(["seed", "top_p"]), st.integers(0, 9))),
        )
    subgroup_count = draw(st.integers(0, 1 if depth == 0 else 0))
    for name in nodes[: len(nodes) - subgroup_count]:
        builder.agent(
            name,
            type=draw(st.sampled_from(["assistant", "user_proxy", "conversable"])),
            description=draw(TEXT),
            system_message=draw(st.one_of(st.none(), TEXT)),
            max_visits=draw(st.one_of(st.none(), st.integers(1, 4))),
            join=draw(st.sampled_from([None, "all", "any"])),
            allow_repeat=draw(st.booleans()),
            code_execution=draw(st.one_of(st.booleans(), st.just({"timeout": 5}))),
            factory=draw(st.sampled_from([None, "pkg.mod:make"])),
            kwargs=draw(st.dictionaries(st.sampled_from(["k", "v"]), TEXT, max_size=2)),
        )
    for name in nodes[len(nodes) - subgroup_count :]:
        builder.subgroup(
            name,
            draw(builders(depth=depth + 1)).build(),
            summary=draw(st.sampled_from(["last_msg", "reflection"])),
            expose=draw(st.sampled_from(["summary", "all"])),
        )
    pairs = draw(st.lists(st.tuples(st.sampled_from(nodes), st.sampled_from(nodes)), max_size=6))
    for source, target in pairs:
        builder.edge(
            source,
            target,
            guard=draw(st.one_of(st.none(), GUARDS)),
            label=draw(st.one_of(st.none(), TEXT)),
            parallel=draw(st.booleans()),
            max_traversals=draw(st.one_of(st.none(), st.integers(1, 4))),
        )
    builder.start(draw(st.sampled_from(nodes)))
    builder.terminate(
        keyword=draw(st.sampled_from([None, "TERMINATE", "DONE"])),
        max_turns=draw(st.one_of(st.none(), st.integers(1, 50))),
        terminal=draw(st.lists(st.sampled_from(nodes), max_size=2, unique=True)),
    )
    builder.selector(
        fallback=draw(st.sampled_from(["error", "first", "round_robin"])),
        constraint=draw(st.sampled_from(["auto", "tool", "text"])),
    )
    return builder


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(builders())
def test_builder_graph_round_trips_through_yaml(builder: GraphBuilder) -> None:
    built, _ = compile_with_findings(builder.build())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "graph.yaml"
        path.write_text(built.to_yaml(), encoding="utf-8")
        loaded, _ = compile_with_findings(path)
    assert loaded.canonical_spec.model_dump() == built.canonical_spec.model_dump()
    assert loaded == built
    assert list(loaded.nodes) == list(built.nodes)
    assert loaded.edges == built.edges


def _triangle(a: str, b: str, c: str, *, name: str) -> CompiledGraph:
    return (
        GraphBuilder(name, mode="dynamic")
        .selector(fallback="first")
        .agent(AgentSpec(name=a, system_message="I lead."))
        .agent(AgentSpec(name=b))
        .agent(AgentSpec(name=c))
        .edge(a, b)
        .edge(b, c)
        .edge(c, a)
        .edge(a, c)
        .start(a)
        .terminate(keyword=None, terminal=[c])
        .compile()
    )


def test_relabeled_equals_the_graph_compiled_with_the_new_names() -> None:
    template = _triangle("a", "b", "c", name="tri")
    renamed = template.relabeled({"a": "x", "b": "y"}, name="tri2")
    direct = _triangle("x", "y", "c", name="tri2")

    assert list(renamed.nodes) == list(direct.nodes) == ["x", "y", "c"]
    assert renamed.nodes["x"] == direct.nodes["x"]  # agent spec renamed, the rest kept
    assert renamed.start == "x"
    assert renamed.termination.terminal == ("c",)
    for node in direct.nodes:
        # in-edges of a relabeled graph are worked out on first use
        assert renamed.in_edges(node) == direct.in_edges(node)
        assert renamed.out_edges(node) == direct.out_edges(node)
    assert renamed.content_hash == direct.content_hash
    assert renamed.to_yaml() == direct.to_yaml()
    assert sorted(renamed.to_networkx().edges) == sorted(direct.to_networkx().edges)
    # the template is untouched
    assert list(template.nodes) == ["a", "b", "c"] and template.nodes["a"].agent is not None
    assert template.nodes["a"].agent.name == "a"


def test_relabeled_for_live_agents_keeps_no_agent_specs() -> None:
    renamed = _triangle("a", "b", "c", name="tri").relabeled(
        {"a": "x"}, name="tri", agent_specs=False
    )

    assert all(node.agent is None for node in renamed.nodes.values())
    # the spec (YAML, hash) still lists every agent, renamed
    assert [agent.name for agent in renamed.spec.agents] == ["x", "b", "c"]
    assert renamed.content_hash == _triangle("x", "b", "c", name="tri").content_hash


def test_a_node_without_spec_or_live_agent_is_a_run_error() -> None:
    from flowagents import Runner
    from flowagents.errors import RunError

    renamed = _triangle("a", "b", "c", name="tri").relabeled({"a": "x"}, agent_specs=False)

    with pytest.raises(RunError, match="node 'x' of graph 'tri' has no agent spec"):
        Runner(renamed).run("hello")


def test_relabeled_refuses_graphs_with_guards(code_loop: CompiledGraph) -> None:
    with pytest.raises(ValueError, match="without guards and subgroups"):
        code_loop.relabeled({"coder": "writer"})
