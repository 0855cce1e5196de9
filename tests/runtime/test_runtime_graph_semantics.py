"""Graph semantics: declared order around a fan-out, join any without waiting, and what a
subgroup hands its parent."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from flowagents import Agent, ConversableAgent, Runner
from flowagents.graph import CompiledGraph, compile_graph


def _graph(tmp_path: Path, text: str) -> CompiledGraph:
    path = tmp_path / "graph.yaml"
    path.write_text(textwrap.dedent(text))
    return compile_graph(path)


_ORDERED = """
    name: order
    start: a
    models:
      ma: {{provider: scripted, model: a, replies: ["{said}"]}}
      mx: {{provider: scripted, model: x, replies: ["x says"]}}
      my: {{provider: scripted, model: y, replies: ["y says"]}}
      mj: {{provider: scripted, model: j, replies: ["joined"]}}
      me: {{provider: scripted, model: e, replies: ["the end"]}}
    agents:
      - {{name: a, model: ma}}
      - {{name: x, model: mx}}
      - {{name: y, model: my}}
      - {{name: j, model: mj, join: all}}
      - {{name: end, model: me}}
    edges:
      - {{from: a, to: end, guard: {{contains: DONE}}}}
      - {{from: a, to: x, parallel: true}}
      - {{from: a, to: y, parallel: true}}
      - {{from: x, to: j}}
      - {{from: y, to: j}}
      - {{from: j, to: end}}
    termination: {{terminal: [end]}}
"""


def test_an_open_plain_edge_declared_before_a_fan_out_is_taken(tmp_path: Path) -> None:
    graph = _graph(tmp_path, _ORDERED.format(said="DONE already"))

    result = Runner(graph).run("go")

    assert [m.name for m in result.messages] == ["user", "a", "end"]


def test_the_fan_out_runs_when_it_is_the_first_open_edge(tmp_path: Path) -> None:
    graph = _graph(tmp_path, _ORDERED.format(said="not yet"))

    result = Runner(graph).run("go")

    assert [m.name for m in result.messages] == ["user", "a", "x", "y", "j", "end"]


def test_join_any_takes_the_first_branch_even_when_no_branch_waits(tmp_path: Path) -> None:
    graph = _graph(
        tmp_path,
        """
        name: join_any
        start: a
        models:
          ma: {provider: scripted, model: a, replies: ["plan"]}
          mx: {provider: scripted, model: x, replies: ["x fast"]}
          my: {provider: scripted, model: y, replies: ["y step1"]}
          my2: {provider: scripted, model: y2, replies: ["y step2"]}
          mj: {provider: scripted, model: j, replies: ["joined"]}
        agents:
          - {name: a, model: ma}
          - {name: x, model: mx}
          - {name: y, model: my}
          - {name: y2, model: my2}
          - {name: j, model: mj, join: any}
        edges:
          - {from: a, to: x, parallel: true}
          - {from: a, to: y, parallel: true}
          - {from: x, to: j}
          - {from: y, to: y2}
          - {from: y2, to: j}
        termination: {terminal: [j]}
        """,
    )

    # Scripted replies never wait: both branches finish in the same loop tick. x finished
    # first (one turn against two), so y's messages stay out, on every run.
    for _ in range(3):
        result = Runner(graph).run("go")
        assert [m.name for m in result.messages] == ["user", "a", "x", "j"]


def test_a_subgroups_own_keyword_does_not_end_the_parent(tmp_path: Path) -> None:
    graph = _graph(
        tmp_path,
        """
        name: sub_keyword
        start: boss
        agents:
          - {name: boss, default_auto_reply: "please research"}
          - {name: reporter, default_auto_reply: "final report"}
        subgroups:
          - name: team
            graph:
              start: r1
              agents:
                - {name: r1, default_auto_reply: "found it"}
                - {name: r2, default_auto_reply: "all done TERMINATE"}
              edges:
                - {from: r1, to: r2}
        edges:
          - {from: boss, to: team}
          - {from: team, to: reporter}
        termination: {terminal: [reporter]}
        """,
    )

    result = Runner(graph).run("go")

    assert [(m.name, m.text) for m in result.messages] == [
        ("user", "go"),
        ("boss", "please research"),
        ("team", "all done"),
        ("reporter", "final report"),
    ]
    assert result.reason == "terminal_node"


def test_exposed_messages_are_heard_from_the_subgroup_not_from_a_namesake(
    tmp_path: Path,
) -> None:
    graph = _graph(
        tmp_path,
        """
        name: namesakes
        start: lead
        agents:
          - {name: lead, max_visits: 2}
        subgroups:
          - name: team
            expose: all
            max_visits: 1
            graph:
              start: lead
              agents:
                - {name: lead, default_auto_reply: "inner lead speaks"}
        edges:
          - {from: lead, to: team}
          - {from: team, to: lead}
        """,
    )
    heard: list[list[tuple[str, str]]] = []

    def parent_lead(agent: Any, messages: Any, sender: Any, config: Any) -> tuple[bool, str]:
        heard.append([(m["role"], m["content"]) for m in messages])
        return True, "parent lead speaks"

    lead = ConversableAgent("lead", human_input_mode="NEVER")
    lead.register_reply([Agent, None], parent_lead)

    result = Runner(graph, agents={"lead": lead}).run("go")

    assert [(m.name, m.text) for m in result.messages] == [
        ("user", "go"),
        ("lead", "parent lead speaks"),
        ("lead", "inner lead speaks"),  # the subgroup's own lead, not the live parent one
        ("team", "inner lead speaks"),
        ("lead", "parent lead speaks"),
    ]
    assert result.messages[2].metadata["subgroup"] == "team"
    # The parent's lead heard the inner lead as another speaker, not as its own words.
    assert heard[1] == [
        ("user", "go"),
        ("assistant", "parent lead speaks"),
        ("user", "inner lead speaks"),
        ("user", "inner lead speaks"),
    ]
