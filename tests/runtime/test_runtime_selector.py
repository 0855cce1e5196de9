"""Reading the selector model's answers, and which model chooses in a subgroup."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowagents import Runner, ScriptedModel, compile_graph
from flowagents.events import Event, ModelCalled, SpeakerSelected
from flowagents.runtime._selector import parse_choice

CANDIDATES = ["Writer", "critic", "c"]


@pytest.mark.parametrize(
    ("raw", "choice"),
    [
        ('{"next_speaker": "writer"}', "Writer"),
        ('```json\n{"next_speaker": "writer"}\n```', "Writer"),
        ("```\ncritic\n```", "critic"),
        ('"c"', "c"),
        ("**Writer**", "Writer"),
        ("I pick critic.", "critic"),
        # A JSON answer must name a candidate in its field; other words in it do not count.
        ('{"next_speaker": "mallory", "reason": "c is busy"}', None),
        ('{"next_speaker": "c-2"}', None),
        ('{"speaker": "c"}', None),
        ("Writer or critic", None),
        ("nobody", None),
    ],
)
def test_parse_choice(raw: str, choice: str | None) -> None:
    assert parse_choice(raw, CANDIDATES) == choice


SUBGROUP_GRAPH = """
name: outer
mode: dynamic
start: boss
models:
  outer_picker: {provider: scripted, model: outer-picker, replies: ['{"next_speaker": "team"}']}
  talk: {provider: scripted, model: talk, replies: ["hello"]}
selector: {model: outer_picker}
agents:
  - {name: boss, model: talk}
  - {name: other, model: talk}
subgroups:
  - name: team
    graph:
      name: team
      mode: dynamic
      start: x
      models:
        inner_picker: {provider: scripted, model: inner-picker, replies: ['{"next_speaker": "z"}']}
        talk: {provider: scripted, model: talk, replies: ["x says", "z says"]}
      selector: {model: inner_picker}
      agents:
        - {name: x, model: talk}
        - {name: y, model: talk}
        - {name: z, model: talk}
      edges:
        - {from: x, to: y}
        - {from: x, to: z}
      termination: {max_turns: 3, keyword: null}
edges:
  - {from: boss, to: team}
  - {from: boss, to: other}
termination: {max_turns: 3, keyword: null}
"""


def test_runner_selector_client_chooses_for_the_top_graph_only(tmp_path: Path) -> None:
    source = tmp_path / "outer.yaml"
    source.write_text(SUBGROUP_GRAPH)
    graph = compile_graph(source)
    top = ScriptedModel(['{"next_speaker": "team"}'], model="top-picker")
    events: list[Event] = []
    Runner(graph, sinks=[events.append], selector_client=top).run("go")

    choices = [(e.step, e.choice) for e in events if isinstance(e, SpeakerSelected)]
    assert choices == [("2", "team"), ("3/team.2", "z")]
    pickers = [e.model for e in events if isinstance(e, ModelCalled) and e.purpose == "select"]
    assert pickers == ["top-picker", "inner-picker"]
