"""``flowagents validate`` / ``schema``, the shipped graphs, and the generated format doc."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowagents.cli import app
from flowagents.graph import CODES, check_graph, compile_graph, graph_json_schema
from flowagents.graph._schema import BEGIN, END, render_reference, update_doc
from flowagents.graph._source import display_path

ROOT = Path(__file__).parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
SHIPPED = sorted((ROOT / "graphs").rglob("*.yaml"))
runner = CliRunner()


def test_at_least_six_topologies_ship() -> None:
    names = {path.stem for path in SHIPPED}
    assert {"linear_pipeline", "group_chat", "debate", "code_loop", "team_of_teams",
            "research_fanout"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_graph_is_clean_and_offline(path: Path) -> None:
    assert check_graph(path) == []
    graph = compile_graph(path)
    for _, sub in graph.walk():
        assert sub.models and all(m.provider == "scripted" and m.replies
                                  for m in sub.models.values())
        for node in sub.nodes.values():
            assert node.description, f"{sub.name}.{node.name} has no description"
            if node.agent is not None and node.agent.model is not None:
                assert node.agent.system_message


def test_shipped_graphs_cover_the_features() -> None:
    graphs = {path.stem: compile_graph(path) for path in SHIPPED}
    assert graphs["group_chat"].mode == "dynamic"
    assert any(e.max_traversals for e in graphs["code_loop"].edges)
    assert any(n.join == "all" for n in graphs["research_fanout"].nodes.values())
    depth = max(len(p) for p, _ in graphs["team_of_teams"].walk())
    assert depth >= 2
    assert isinstance(graphs["team_of_teams"].spec.subgroups[0].graph, str)


def test_validate_clean_files_exits_zero() -> None:
    result = runner.invoke(app, ["validate", *map(str, SHIPPED)])
    assert result.exit_code == 0, result.output
    assert "0 error(s), 0 warning(s)" in result.output


def test_validate_prints_findings_like_a_compiler() -> None:
    result = runner.invoke(app, ["validate", str(FIXTURES / "fg001_unknown_node.yaml"),
                                 str(FIXTURES / "fg004_unreachable.yaml")])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if re.match(r"^\S+:\d+:\d+: ", line)]
    folder = display_path(FIXTURES)
    assert lines == [
        f"{folder}/fg001_unknown_node.yaml:7:19: error FG001 edge 1 names unknown node 'ghost'",
        f"{folder}/fg004_unreachable.yaml:5:11: warning FG004 node 'c' cannot be reached from 'a'",
    ]


def test_validate_warnings_only_exits_zero() -> None:
    result = runner.invoke(app, ["validate", str(FIXTURES / "fg004_unreachable.yaml")])
    assert result.exit_code == 0
    assert "warning FG004" in result.output


def test_validate_json_and_load_errors() -> None:
    result = runner.invoke(app, ["validate", "--format", "json",
                                 str(FIXTURES / "fg007_ambiguous_static.yaml"),
                                 str(FIXTURES / "load_malformed.yaml")])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    first, second = report["files"]
    assert [(f["code"], f["line"], f["column"]) for f in first["findings"]] == [("FG007", 9, 5)]
    (load,) = second["findings"]
    assert (load["code"], load["severity"]) == ("FA101", "error")
    assert (load["line"], load["column"]) == (5, 1)
    text = runner.invoke(app, ["validate", str(FIXTURES / "load_schema.yaml")])
    assert text.exit_code == 1
    assert "load_schema.yaml:5:38: error FA101 schema violation" in text.output


def test_validate_reports_each_schema_violation_at_its_own_position() -> None:
    path = FIXTURES / "load_schema_several.yaml"
    result = runner.invoke(app, ["validate", "--format", "json", str(path)])
    assert result.exit_code == 1
    (entry,) = json.loads(result.stdout)["files"]
    found = [(f["code"], f["line"], f["column"], f["message"]) for f in entry["findings"]]
    assert found == [
        # an unknown key is located at the key, a wrong value at the value
        ("FA101", 4, 5, "schema violation: agents.0.modle: Extra inputs are not permitted"),
        ("FA101", 6, 17, "schema violation: agents.1.max_visits: Input should be a valid "
                         "integer, unable to parse string as an integer"),
        ("FA101", 8, 22, "schema violation: edges.0.gaurd: Extra inputs are not permitted"),
        ("FA101", 9, 43, "schema violation: edges.1.guard.contains.matches: Extra inputs are "
                         "not permitted"),
    ]
    assert {f["file"] for f in entry["findings"]} == {display_path(path)}
    text = runner.invoke(app, ["validate", str(path)])
    assert "load_schema_several.yaml:8:22: error FA101 schema violation: edges.0.gaurd" in (
        text.output
    )
    assert "4 error(s)" in text.output


def test_a_violation_inside_an_inline_subgroup_is_one_finding(tmp_path: Path) -> None:
    path = tmp_path / "outer.yaml"
    path.write_text(
        "start: a\nagents: [{name: a}]\nsubgroups:\n  - name: s\n"
        "    graph: {start: x, agents: [{name: x, modle: m}]}\n"
    )
    result = runner.invoke(app, ["validate", "--format", "json", str(path)])
    (entry,) = json.loads(result.stdout)["files"]
    # not also "graph: Input should be a valid string", the other branch of graph's union
    assert [(f["line"], f["column"], f["message"]) for f in entry["findings"]] == [
        (5, 42, "schema violation: subgroups.0.graph.agents.0.modle: Extra inputs are not "
                "permitted"),
    ]


def test_schema_command_prints_the_json_schema() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema == json.loads(json.dumps(graph_json_schema()))
    assert {"GraphSpec", "AgentSpec", "EdgeSpec", "ContainsGuard"} <= set(schema["$defs"])
    assert set(schema["$defs"]["EdgeSpec"]["required"]) == {"from", "to"}
    markdown = runner.invoke(app, ["schema", "--markdown"])
    assert markdown.exit_code == 0 and "| `max_traversals` |" in markdown.stdout


def test_doc_reference_is_current() -> None:
    doc = ROOT / "docs" / "graph-format.md"
    if os.environ.get("FLOWAGENTS_UPDATE_DOCS") == "1":
        update_doc(doc)
    text = doc.read_text(encoding="utf-8")
    assert f"{BEGIN}\n{render_reference()}\n{END}" in text


def test_doc_lists_every_field_and_code() -> None:
    text = (ROOT / "docs" / "graph-format.md").read_text(encoding="utf-8")
    for name, definition in graph_json_schema()["$defs"].items():
        assert f"### {name}" in text
        for field in definition.get("properties", {}):
            assert f"| `{field}` |" in text, f"{name}.{field} is not documented"
    for code in CODES:
        assert f"| `{code}` |" in text
