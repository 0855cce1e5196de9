"""Static graphs: determinism, guards, edge bounds, node visit limits, nested subgroups."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import agent, ending, of_kind, speakers

from flowagents import GraphBuilder, Runner, UserProxyAgent, compile_graph
from flowagents.events import Event, MessageSent, ModelCalled, NodeEntered, SpeakerSelected
from flowagents.graph import CodeGuard, ContainsGuard, CounterGuard, MatchesGuard

GRAPHS = Path(__file__).resolve().parents[2] / "graphs"


def _pipeline_events() -> tuple[list[Any], list[Event]]:
    writer = agent("writer", ["draft one", "draft two"])
    reviewer = agent("reviewer", ["CHANGES REQUESTED: shorter", "APPROVED"])
    publisher = agent("publisher", ["published TERMINATE"])
    graph = (
        GraphBuilder("review_loop")
        .agent(writer)
        .agent(reviewer)
        .agent(publisher)
        .edge(writer, reviewer)
        .edge(reviewer, writer, guard=ContainsGuard(contains="CHANGES REQUESTED"))
        .edge(reviewer, publisher)
        .start(writer)
        .terminate(max_turns=20)
        .compile()
    )
    events: list[Event] = []
    result = Runner(graph, sinks=[events.append]).run("Write a slogan.", run_id="fixed-run")
    return [(m.name, m.text) for m in result.messages], events


def test_static_runs_are_deterministic() -> None:
    first_transcript, first_events = _pipeline_events()
    second_transcript, second_events = _pipeline_events()

    assert first_transcript == [
        ("user", "Write a slogan."),
        ("writer", "draft one"),
        ("reviewer", "CHANGES REQUESTED: shorter"),
        ("writer", "draft two"),
        ("reviewer", "APPROVED"),
        ("publisher", "published TERMINATE"),
    ]
    assert first_transcript == second_transcript

    def stable(event: Event) -> Any:
        return dataclasses.replace(event, ts=0.0)

    assert [stable(e) for e in first_events] == [stable(e) for e in second_events]
    assert ending(first_events) == ("keyword", "completed")


def test_yaml_graph_runs_identically_twice() -> None:
    graph = compile_graph(GRAPHS / "debate.yaml")
    runs = [Runner(graph).run("Debate remote work.", run_id="same") for _ in range(2)]

    assert [m.text for m in runs[0].messages] == [m.text for m in runs[1].messages]
    assert [m.name for m in runs[0].messages] == [
        "user",
        "moderator",
        "proponent",
        "opponent",
        "proponent",
        "opponent",
        "proponent",
        "opponent",
        "judge",
    ]
    assert runs[0].reason == "keyword" or runs[0].reason == "terminal_node"


@pytest.mark.parametrize("name", ["linear_pipeline", "debate", "research_fanout", "group_chat"])
def test_a_reused_runner_gives_the_same_transcript(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    graph = compile_graph(GRAPHS / f"{name}.yaml")
    runner = Runner(graph)

    first, second = runner.run("q"), runner.run("q")

    fresh = Runner(graph).run("q")
    assert [(m.name, m.text) for m in second.messages] == [
        (m.name, m.text) for m in first.messages
    ]
    assert [(m.name, m.text) for m in first.messages] == [(m.name, m.text) for m in fresh.messages]


def test_regex_guard_routes_by_score() -> None:
    grader = agent("grader", ["score: 42", "score: 95"])
    tutor = agent("tutor", ["try again"])
    award = agent("award", ["well done"])
    graph = (
        GraphBuilder("grading")
        .agent(grader)
        .agent(tutor)
        .agent(award)
        .edge(grader, award, guard=MatchesGuard(matches=r"score: (9\d|100)"))
        .edge(grader, tutor)
        .edge(tutor, grader)
        .start(grader)
        .terminate(keyword=None, terminal=[award])
        .compile()
    )
    events: list[Event] = []

    result = Runner(graph, sinks=[events.append]).run("grade it")

    assert speakers(events) == ["user", "grader", "tutor", "grader", "award"]
    assert result.reason == "terminal_node"


def test_code_guard_routes_on_the_exit_code(tmp_path: Path) -> None:
    coder = agent(
        "coder",
        [
            "```python\nraise SystemExit(3)\n```",
            "```python\nprint('fixed')\n```",
        ],
    )
    runner_agent = UserProxyAgent(
        "executor",
        human_input_mode="NEVER",
        code_execution_config={"work_dir": str(tmp_path), "timeout": 20},
    )
    done = agent("done", ["all good"])
    graph = (
        GraphBuilder("code_loop")
        .agent(coder)
        .agent(runner_agent)
        .agent(done)
        .edge(coder, runner_agent)
        .edge(runner_agent, coder, guard=CodeGuard(code="failed"))
        .edge(runner_agent, done, guard=CodeGuard(code="succeeded"))
        .start(coder)
        .terminate(keyword=None, terminal=[done])
        .compile()
    )
    events: list[Event] = []

    Runner(graph, sinks=[events.append]).run("print something")

    assert speakers(events) == ["user", "coder", "executor", "coder", "executor", "done"]
    executor_messages = [e.message for e in of_kind(events, MessageSent) if e.sender == "executor"]
    assert executor_messages[0].metadata["exit_code"] == 3
    assert executor_messages[1].metadata["exit_code"] == 0
    assert "fixed" in executor_messages[1].text


def test_counter_guard_and_not_guard() -> None:
    asker = agent("asker", [f"question {i}" for i in range(5)])
    answerer = agent("answerer", [f"answer {i}" for i in range(5)])
    closer = agent("closer", ["closing"])
    graph = (
        GraphBuilder("three_rounds")
        .agent(asker)
        .agent(answerer)
        .agent(closer)
        .edge(asker, answerer)
        .edge(answerer, closer, guard=CounterGuard(counter="answerer", reached=3))
        .edge(answerer, asker, guard=~CounterGuard(counter="answerer", reached=3))
        .start(asker)
        .terminate(keyword=None, terminal=[closer])
        .compile()
    )
    events: list[Event] = []

    Runner(graph, sinks=[events.append]).run("begin")

    assert speakers(events) == ["user"] + ["asker", "answerer"] * 3 + ["closer"]


def test_edge_max_traversals_then_the_next_edge() -> None:
    pro = agent("pro", [f"pro {i}" for i in range(5)])
    con = agent("con", [f"con {i}" for i in range(5)])
    judge = agent("judge", ["verdict"])
    graph = (
        GraphBuilder("bounded")
        .agent(pro)
        .agent(con)
        .agent(judge)
        .edge(pro, con)
        .edge(con, pro, max_traversals=2)
        .edge(con, judge)
        .start(pro)
        .terminate(keyword=None, terminal=[judge])
        .compile()
    )
    events: list[Event] = []

    Runner(graph, sinks=[events.append]).run("motion")

    assert speakers(events) == ["user", "pro", "con", "pro", "con", "pro", "con", "judge"]
    entered = [(e.node, e.via) for e in of_kind(events, NodeEntered)]
    assert entered[-1] == ("judge", "con")


def test_node_max_visits_ends_the_run() -> None:
    ping = agent("ping", ["ping"] * 5)
    pong = agent("pong", ["pong"] * 5)
    graph = (
        GraphBuilder("bounded_cycle")
        .agent(ping, max_visits=2)
        .agent(pong)
        .edge(ping, pong)
        .edge(pong, ping)
        .start(ping)
        .terminate(keyword=None, max_turns=50)
        .compile()
    )
    events: list[Event] = []

    result = Runner(graph, sinks=[events.append]).run("serve")

    assert speakers(events) == ["user", "ping", "pong", "ping", "pong"]
    assert result.reason == "max_visits"
    assert ending(events) == ("max_visits", "completed")


def _level(name: str, inner: GraphBuilder | None, replies: list[str]) -> GraphBuilder:
    """A graph ``<name>_lead -> [inner subgroup ->] <name>_closer``."""
    lead = agent(f"{name}_lead", replies[:1])
    closer = agent(f"{name}_closer", replies[1:])
    builder = GraphBuilder(name).agent(lead).agent(closer).start(lead)
    if inner is None:
        builder.edge(lead, closer)
    else:
        builder.subgroup(f"{name}_team", inner)
        builder.edge(lead, f"{name}_team").edge(f"{name}_team", closer)
    return builder.terminate(keyword=None, terminal=[closer])


def test_nested_subgroups_depth_three() -> None:
    level3 = _level("l3", None, ["l3 lead works", "l3 result"])
    level2 = _level("l2", level3, ["l2 lead works", "l2 result"])
    level1 = _level("l1", level2, ["l1 lead works", "l1 result"])
    top = _level("top", level1, ["top lead works", "final answer"])
    graph = top.compile()
    assert [path for path, _ in graph.walk()] == [
        (),
        ("top_team",),
        ("top_team", "l1_team"),
        ("top_team", "l1_team", "l2_team"),
    ]
    events: list[Event] = []

    result = Runner(graph, sinks=[events.append]).run("Do the project.")

    # The top conversation sees each subgroup as one speaker answering with its summary.
    assert [(m.name, m.text) for m in result.messages] == [
        ("user", "Do the project."),
        ("top_lead", "top lead works"),
        ("top_team", "l1 result"),
        ("top_closer", "final answer"),
    ]
    messages = of_kind(events, MessageSent)
    by_sender = {e.sender: e for e in messages}
    # Each level's messages carry the step path of every enclosing subgroup.
    assert by_sender["l3_lead"].step.count("/") == 3
    assert by_sender["l2_lead"].step.count("/") == 2
    assert by_sender["l1_lead"].step.count("/") == 1
    assert by_sender["top_lead"].step.count("/") == 0
    assert by_sender["l3_lead"].step.startswith(by_sender["l2_team"].step + "/")
    # Each subgroup opens with the last message of its parent.
    l3_opening = next(e for e in messages if e.step.count("/") == 3)
    assert l3_opening.message.text == "l2 lead works"
    assert result.reason == "terminal_node"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    # Every model call is recorded under the step and node that made it, after a subgroup too.
    entered = {e.step: e.node for e in of_kind(events, NodeEntered)}
    calls = of_kind(events, ModelCalled)
    assert len(calls) == 8
    assert [(c.node, entered[c.step]) for c in calls] == [(c.node, c.node) for c in calls]
    assert calls[-1].node == "top_closer"


def test_nested_live_agents_speak_only_at_their_own_level() -> None:
    # A live agent in a nested builder, and one in a compiled graph, each named like an
    # agent of another level: each level runs with its own.
    nested = agent("writer", ["the team's writer"])
    expert = agent("expert", ["the expert's answer"])
    team = GraphBuilder("team").agent(nested).start(nested)
    experts = GraphBuilder("experts").agent(expert).start(expert).compile()
    graph = (
        GraphBuilder("outer")
        .agent("writer", default_auto_reply="the top writer")
        .subgroup("team", team)
        .subgroup("ask", experts)
        .agent(agent("expert", ["the top expert"]))
        .chain("writer", "team", "ask", "expert")
        .start("writer")
        .terminate(keyword=None)
        .compile()
    )

    said = {m.name: m.text for m in Runner(graph).run("go").messages}

    assert said == {
        "user": "go",
        "writer": "the top writer",
        "team": "the team's writer",
        "ask": "the expert's answer",
        "expert": "the top expert",
    }


def _reflecting(summary_model: str | None, selector: str | None = None) -> GraphBuilder:
    """``top: boss -> mid``, ``mid: lead -> team``; team's reflection by a model of any level."""

    def scripted(label: str) -> dict[str, Any]:
        return {"provider": "scripted", "replies": [f"summary by the {label} model"]}

    team = GraphBuilder("team").model("own_model", "own", **scripted("own"))
    team.agent(agent("r1", ["found it"])).start("r1")
    if selector is not None:
        team.selector(model=selector)
    mid = GraphBuilder("mid").model("mid_model", "mid", **scripted("mid"))
    mid.agent(agent("lead", ["team, go"])).start("lead").edge("lead", "team")
    mid.subgroup("team", team, summary="reflection", summary_model=summary_model)
    top = GraphBuilder("top").model("top_model", "top", **scripted("top")).start("boss")
    return top.agent(agent("boss", ["research this"])).subgroup("mid", mid).edge("boss", "mid")


def test_a_reflection_is_written_by_the_summary_model_else_the_selector_model() -> None:
    cases = [
        (_reflecting("own_model"), "own"),
        (_reflecting("mid_model"), "mid"),
        (_reflecting("top_model"), "top"),
        # without summary_model, the subgroup graph's selector model, as before
        (_reflecting(None, selector="own_model"), "own"),
    ]
    for builder, model in cases:
        events: list[Event] = []

        result = Runner(builder.compile(), sinks=[events.append]).run("go")

        assert result.messages[-1].text == f"summary by the {model} model"
        (call,) = [e for e in of_kind(events, ModelCalled) if e.purpose == "summary"]
        assert (call.step, call.node, call.model) == ("3/mid.3", "team", model)


def test_subgroup_expose_all_shows_every_nested_message() -> None:
    inner = (
        GraphBuilder("inner")
        .agent(agent("x", ["x says"]))
        .agent(agent("y", ["y says"]))
        .chain("x", "y")
        .start("x")
        .terminate(keyword=None, terminal=["y"])
    )
    lead = agent("lead", ["go team"])
    after = agent("after", ["thanks"])
    graph = (
        GraphBuilder("outer")
        .agent(lead)
        .agent(after)
        .subgroup("team", inner, expose="all")
        .chain(lead, "team", after)
        .start(lead)
        .terminate(keyword=None, terminal=[after])
        .compile()
    )

    result = Runner(graph).run("start")

    assert [(m.name, m.text) for m in result.messages] == [
        ("user", "start"),
        ("lead", "go team"),
        ("x", "x says"),
        ("y", "y says"),
        ("team", "y says"),
        ("after", "thanks"),
    ]
    # The agent after the subgroup heard the nested messages too.
    assert after.client is not None
    heard = [m["content"] for m in after.client.requests[0].messages[1:]]  # type: ignore[attr-defined]
    assert heard == ["start", "go team", "x says", "y says", "y says"]


@pytest.mark.parametrize("name", ["linear_pipeline", "debate", "research_fanout", "code_loop"])
def test_example_graphs_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    events: list[Event] = []

    result = Runner(compile_graph(GRAPHS / f"{name}.yaml"), sinks=[events.append]).run("go")

    assert result.status == "completed"
    assert result.reason in ("terminal_node", "keyword")
    assert ending(events)[1] == "completed"


def test_team_of_teams_hands_engineering_the_research_summary() -> None:
    events: list[Event] = []

    result = Runner(compile_graph(GRAPHS / "team_of_teams.yaml"), sinks=[events.append]).run("go")

    assert (result.status, result.reason) == ("completed", "keyword")
    said = {m.name: m.text for m in result.messages}
    assert said["research"] == (
        "Research summary: 7 of 10 users copy-paste their data out today and both main "
        "competitors ship CSV export; build it."
    )
    (summary,) = [e for e in of_kind(events, ModelCalled) if e.purpose == "summary"]
    assert (summary.node, summary.model) == ("research", "scripted-summaries")
    # engineering opens with that summary: its tech lead designs from it
    opening = next(e for e in of_kind(events, MessageSent) if e.step.endswith("/engineering.1"))
    assert opening.message.text == said["research"]
    # the research team's own conversation is a real one: each pick is a candidate
    picks = [e.choice for e in of_kind(events, SpeakerSelected) if "/research." in e.step]
    assert picks == ["user_researcher", "market_analyst", "summarizer"]


def test_counts_made_inside_branches_carry_over_to_the_next_fan_out() -> None:
    # Round 1 visits each worker once inside its branch; the merge must add those visits to
    # the run's counters, so that round 2's branches find the workers' one visit spent.
    source = agent("source", ["split one", "split two"])
    workers = [agent(f"w{i}", [f"w{i} done"] * 3) for i in (1, 2)]
    joiner = agent("joiner", ["joined"] * 3)
    builder = GraphBuilder("fan_loop").agent(source).agent(joiner, join="all")
    for worker in workers:
        builder.agent(worker, max_visits=1).edge(worker, joiner)
    graph = (
        builder.fan_out(source, workers)
        .edge(joiner, source, max_traversals=1)
        .start(source)
        .terminate(keyword=None, max_turns=50)
        .compile()
    )
    events: list[Event] = []

    result = Runner(graph, sinks=[events.append]).run("go")

    assert speakers(events) == ["user", "source", "w1", "w2", "joiner", "source"]
    assert result.reason == "max_visits"
