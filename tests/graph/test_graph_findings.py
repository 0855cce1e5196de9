"""Every finding code has a broken fixture; each is reported with its code at file:line:col."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Literal

import pytest

from flowagents.errors import GraphCompileError, GraphLoadError
from flowagents.graph import (
    CODES,
    Finding,
    GraphBuilder,
    check_graph,
    compile_graph,
    load_graph_spec,
)

FIXTURES = Path(__file__).parent / "fixtures"
GRAPHS = Path(__file__).parents[2] / "graphs"

# (fixture, code, file the finding points into, line, column)
CASES = [
    ("fg001_unknown_node.yaml", "FG001", "fg001_unknown_node.yaml", 7, 19),
    ("fg002_duplicate_name.yaml", "FG002", "fg002_duplicate_name.yaml", 5, 11),
    ("fg003_missing_start.yaml", "FG003", "fg003_missing_start.yaml", 1, 1),
    ("fg004_unreachable.yaml", "FG004", "fg004_unreachable.yaml", 5, 11),
    ("fg005_trap.yaml", "FG005", "fg005_trap.yaml", 5, 11),
    ("fg006_unbounded_cycle.yaml", "FG006", "fg006_unbounded_cycle.yaml", 3, 11),
    ("fg007_ambiguous_static.yaml", "FG007", "fg007_ambiguous_static.yaml", 9, 5),
    ("fg008_orphan_join.yaml", "FG008", "fg008_orphan_join.yaml", 5, 11),
    ("fg009_cycle_a.yaml", "FG009", "fg009_cycle_b.yaml", 6, 12),
    ("fg010_self_loop.yaml", "FG010", "fg010_self_loop.yaml", 6, 5),
    ("fg011_isolated.yaml", "FG011", "fg011_isolated.yaml", 5, 11),
    ("fg012_dynamic_no_selector.yaml", "FG012", "fg012_dynamic_no_selector.yaml", 4, 11),
    ("fg013_unknown_model.yaml", "FG013", "fg013_unknown_model.yaml", 6, 12),
    ("fg014_duplicate_edge.yaml", "FG014", "fg014_duplicate_edge.yaml", 7, 5),
    ("fg015_unknown_counter.yaml", "FG015", "fg015_unknown_counter.yaml", 8, 12),
    ("fg016_missing_file.yaml", "FG016", "fg016_missing_file.yaml", 6, 12),
    ("fg017_no_end.yaml", "FG017", "fg017_no_end.yaml", 9, 3),
    ("fg018_unjoined_fan_out.yaml", "FG018", "fg018_unjoined_fan_out.yaml", 8, 5),
    ("fg019_reflection_without_model.yaml", "FG019", "fg019_reflection_without_model.yaml", 7, 14),
]


@pytest.mark.parametrize(("fixture", "code", "file", "line", "column"), CASES)
def test_fixture_reports_its_code_at_its_position(
    fixture: str, code: str, file: str, line: int, column: int
) -> None:
    findings = [f for f in check_graph(FIXTURES / fixture) if f.code == code]
    assert findings, f"{fixture} did not report {code}"
    location = findings[0].location
    assert location is not None
    assert (Path(location.file).name, location.line, location.column) == (file, line, column)
    # FG017 is an error here (nothing can stop the run); a warning otherwise, as CODES says
    severity = "error" if code == "FG017" else CODES[code][0]
    assert findings[0].severity == severity
    assert str(findings[0]).startswith(f"{location}: {severity} {code} ")


def test_every_finding_code_has_a_fixture() -> None:
    assert {case[1] for case in CASES} == set(CODES)


def test_findings_name_the_nodes_they_concern() -> None:
    findings = check_graph(FIXTURES / "fg005_trap.yaml")
    assert sorted(str(f.node) for f in findings if f.code == "FG005") == ["b", "b2"]
    unreachable = check_graph(FIXTURES / "fg004_unreachable.yaml")
    assert [f.node for f in unreachable] == ["c"]


P = {"parallel": True}
G = {"guard": {"contains": "x"}}


def _fan_checks(
    mode: Literal["static", "dynamic"], edges: list[tuple[str, dict[str, Any]]]
) -> list[Finding]:
    """FG007 findings for node ``a`` with ``edges`` (edges 0-3 lead b..e to ``bounded``)."""
    builder = GraphBuilder("g", mode=mode).agent("a").agent("bounded", max_visits=2)
    for name in "bcde":
        builder.agent(name).edge(name, "bounded")
    for target, options in edges:
        builder.edge("a", target, **options)
    builder.start("a").selector(fallback="first")
    return [f for f in builder.check() if f.code == "FG007"]


@pytest.mark.parametrize(
    ("mode", "edges", "dead", "blocker"),
    [
        # static: an unconditional edge before a plain edge always decides first
        ("static", [("b", {}), ("c", {})], 1, 0),
        ("static", [("b", P), ("c", {})], 1, 0),
        ("static", [("b", {}), ("c", P)], 1, 0),
        ("static", [("b", G), ("c", P), ("d", {}), ("e", P)], 2, 1),
        # dynamic: plain edges are a choice; only the other kind after an unconditional edge
        ("dynamic", [("b", P), ("c", {}), ("d", P)], 1, 0),
        ("dynamic", [("b", {}), ("c", P), ("d", {})], 1, 0),
    ],
)
def test_an_edge_the_first_open_edge_never_lets_through_is_reported(
    mode: Literal["static", "dynamic"],
    edges: list[tuple[str, dict[str, Any]]],
    dead: int,
    blocker: int,
) -> None:
    def words(index: int) -> str:
        target, options = edges[index]
        kind = "parallel edge" if options.get("parallel") else "edge"
        return f"{kind} to {target!r} (edge {index + 4})"

    (finding,) = _fan_checks(mode, edges)

    assert (finding.node, finding.severity) == ("a", "error")
    assert finding.message.startswith(
        f"{mode} node 'a': the {words(dead)} can never be taken; "
        f"the unconditional {words(blocker)} is tried before it and "
    )


def test_edges_that_can_be_taken_are_not_reported_dead() -> None:
    open_ones: list[tuple[Literal["static", "dynamic"], list[tuple[str, dict[str, Any]]]]] = [
        ("static", [("b", {**P, **G}), ("c", {}), ("d", P)]),
        ("static", [("b", {"max_traversals": 1}), ("c", {})]),
        ("static", [("bounded", {}), ("c", {})]),  # the first target has max_visits
        ("dynamic", [("b", {}), ("c", {})]),
        ("dynamic", [("b", G), ("c", P), ("d", {})]),
        ("dynamic", [("b", {**P, **G}), ("c", {}), ("d", P)]),
    ]
    for mode, edges in open_ones:
        assert _fan_checks(mode, edges) == [], (mode, edges)


def test_dead_edge_messages_say_what_decides_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(
        "mode: dynamic\nstart: a\nselector: {fallback: first}\n"
        "agents: [{name: a}, {name: b}, {name: c}]\n"
        "edges:\n  - {from: a, to: b}\n  - {from: a, to: c, parallel: true}\n"
    )
    (finding,) = [f for f in check_graph(path) if f.code == "FG007"]
    assert finding.message == (
        "dynamic node 'a': the parallel edge to 'c' (edge 1) can never be taken; the "
        "unconditional edge to 'b' (edge 0) is tried before it and always leads to a choice "
        "among the plain edges (add a guard or max_traversals to edge 0, or declare the edges "
        "in another order)"
    )
    assert (finding.location.line, finding.location.column) == (7, 5)  # type: ignore[union-attr]


def test_a_fan_out_branch_that_never_joins_is_reported() -> None:
    (finding,) = check_graph(FIXTURES / "fg018_unjoined_fan_out.yaml")
    assert finding.message == (
        "no branch of the fan-out from 'a' (to 'x', 'y') can reach a join node; each branch "
        "then runs on to its own end, and a node the branches share runs once per branch "
        "(mark the node where they should meet join: all | any)"
    )
    one_lost = (
        GraphBuilder("g")
        .agent("a").agent("x").agent("y").agent("z", join="all").agent("w")
        .fan_out("a", ["x", "y"]).edge("x", "z").edge("y", "w")
        .start("a")
    )
    (finding,) = [f for f in one_lost.check() if f.code == "FG018"]
    assert finding.message.startswith("a branch of the fan-out from 'a' (to 'y') can never")
    joined = one_lost.edge("w", "z")
    assert not [f for f in joined.check() if f.code == "FG018"]


SUMMARY_MODELS = """\
name: top
start: boss
edges: [{{from: boss, to: mid}}]
models: {{top_model: {{provider: scripted, model: t, replies: [t]}}}}
agents: [{{name: boss}}]
subgroups:
  - name: mid
    graph:
      start: lead
      models: {{mid_model: {{provider: scripted, model: m, replies: [m]}}}}
      agents: [{{name: lead}}]
      edges: [{{from: lead, to: team}}]
      subgroups:
        - name: team
          summary: reflection
          {summary_model}
          graph:
            start: r1
            agents: [{{name: r1}}]
            models: {{own_model: {{provider: scripted, model: o, replies: [o]}}}}
            {selector}
"""


def test_a_summary_model_is_looked_up_in_the_subgroup_then_the_parent_then_the_top(
    tmp_path: Path,
) -> None:
    path = tmp_path / "top.yaml"

    def check(summary_model: str = "", selector: str = "") -> list[Finding]:
        path.write_text(SUMMARY_MODELS.format(summary_model=summary_model, selector=selector))
        return check_graph(path)

    for name in ("own_model", "mid_model", "top_model"):
        assert check(f"summary_model: {name}") == [], name
    # no summary model: the subgroup graph's selector model writes the reflection
    assert check(selector="selector: {model: own_model}") == []
    (finding,) = check("summary_model: nope")
    assert (finding.code, finding.graph, finding.node) == ("FG013", "top/mid", "team")
    assert finding.message == (
        "subgroup 'team' uses unknown summary model 'nope' (not in its graph's models, this "
        "graph's or the top graph's)"
    )
    assert (finding.location.line, finding.location.column) == (16, 26)  # type: ignore[union-attr]


def test_include_cycle_names_the_chain() -> None:
    (finding,) = [f for f in check_graph(FIXTURES / "fg009_cycle_a.yaml") if f.code == "FG009"]
    assert "fg009_cycle_a.yaml -> " in finding.message
    assert finding.message.count("fg009_cycle_a.yaml") == 2
    assert finding.message.endswith("fg009_cycle_a.yaml")


def test_a_file_including_itself_is_reported(tmp_path: Path) -> None:
    (tmp_path / "self.yaml").write_text(
        "start: a\nagents: [{name: a}]\nsubgroups:\n  - name: again\n    graph: self.yaml\n"
        "edges: [{from: a, to: again}]\n"
    )
    (finding,) = [f for f in check_graph(tmp_path / "self.yaml") if f.code == "FG009"]
    assert (finding.location.line, finding.location.column) == (5, 12)  # type: ignore[union-attr]
    assert finding.message.count("self.yaml") == 2


def test_no_end_is_only_a_warning_when_something_can_stop_the_run(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    text = (FIXTURES / "fg017_no_end.yaml").read_text().replace("keyword: null", "max_turns: 4")
    path.write_text(text)
    codes = {(f.code, f.severity) for f in check_graph(path)}
    assert ("FG017", "warning") in codes


def test_compile_raises_with_every_finding() -> None:
    with pytest.raises(GraphCompileError) as info:
        compile_graph(FIXTURES / "fg005_trap.yaml")
    error = info.value
    codes = [f.code for f in error.findings]  # type: ignore[attr-defined]
    assert codes.count("FG005") == 2
    assert str(error.where).endswith("fg005_trap.yaml:5:11")
    assert "fg005_trap.yaml:6:11: error FG005" in str(error)


def test_warnings_do_not_stop_compilation_and_are_kept() -> None:
    compiled = compile_graph(FIXTURES / "fg004_unreachable.yaml")
    assert [f.code for f in compiled.findings] == ["FG004"]


@pytest.mark.parametrize(
    ("fixture", "line", "column", "text"),
    [
        ("load_malformed.yaml", 5, 1, "malformed YAML"),
        ("load_schema.yaml", 5, 38, "edges.0.max_traversals"),
        ("load_duplicate_key.yaml", 4, 1, "duplicate key 'start'"),
        ("load_bad_guard.yaml", 11, 21, "invalid regular expression"),
    ],
)
def test_unloadable_files_raise_with_position(
    fixture: str, line: int, column: int, text: str
) -> None:
    with pytest.raises(GraphLoadError) as info:
        check_graph(FIXTURES / fixture)
    where = info.value.where
    assert (Path(where.file).name, where.line, where.column) == (fixture, line, column)  # type: ignore[attr-defined]
    assert text in info.value.message
    with pytest.raises(GraphLoadError):
        load_graph_spec(FIXTURES / fixture)


def test_a_load_error_holds_a_finding_per_schema_violation() -> None:
    with pytest.raises(GraphLoadError) as info:
        check_graph(FIXTURES / "load_schema_several.yaml")
    findings = info.value.findings
    assert all(isinstance(f, Finding) and f.code == "FA101" for f in findings)
    located = [(f.location.line, f.location.column) for f in findings]  # type: ignore[attr-defined]
    assert located == [(4, 5), (6, 17), (8, 22), (9, 43)]
    assert info.value.where == findings[0].location  # type: ignore[attr-defined]
    # the message still names every violation, each after the first on a line of its own
    assert str(info.value).count("schema violation") == 4


def test_missing_file_and_non_mapping_raise_load_errors(tmp_path: Path) -> None:
    with pytest.raises(GraphLoadError, match="cannot read"):
        check_graph(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(GraphLoadError, match="must hold a mapping") as info:
        check_graph(tmp_path / "list.yaml")
    assert str(info.value.where).endswith("list.yaml:1:1")
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    with pytest.raises(GraphLoadError, match="empty"):
        check_graph(tmp_path / "empty.yaml")


def test_findings_in_nested_files_point_into_those_files(tmp_path: Path) -> None:
    shutil.copytree(GRAPHS, tmp_path / "graphs")
    qa = tmp_path / "graphs" / "teams" / "qa_team.yaml"
    text = qa.read_text()
    qa.write_text(text.replace("{from: tester, to: triager}", "{from: tester, to: fixer}"))
    findings = check_graph(tmp_path / "graphs" / "team_of_teams.yaml")
    (finding,) = [f for f in findings if f.code == "FG001"]
    assert finding.location is not None and finding.location.file.endswith("qa_team.yaml")
    assert finding.graph == "team_of_teams/engineering/qa_team"
    text_lines = qa.read_text().splitlines()
    assert "fixer" in text_lines[finding.location.line - 1][finding.location.column - 1 :]


def test_findings_in_inline_subgroups_point_into_the_including_file(tmp_path: Path) -> None:
    path = tmp_path / "outer.yaml"
    path.write_text(
        "start: a\nagents: [{name: a}]\nsubgroups:\n  - name: inner\n    graph:\n"
        "      start: x\n      agents: [{name: x}, {name: y}]\n"
        "      edges: [{from: x, to: y}, {from: x, to: zz}]\n"
        "edges: [{from: a, to: inner}]\n"
    )
    (finding,) = check_graph(path)
    assert (finding.code, finding.graph) == ("FG001", "outer/inner")
    assert (finding.location.line, finding.location.column) == (8, 47)  # type: ignore[union-attr]
