"""Agents a graph file builds: ``factory:`` functions and the errors they raise."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowagents import Runner, compile_graph
from flowagents.errors import ConfigError
from flowagents.events import ErrorRaised, Event, RunFinished

GRAPH = """\
name: reviewed
start: writer
agents:
  - {{name: writer, default_auto_reply: draft, human_input_mode: NEVER}}
  - name: reviewer
    factory: {factory}
    kwargs: {{strict: true}}
edges:
  - {{from: writer, to: reviewer}}
"""


def _graph(tmp_path: Path, factory: str) -> Path:
    path = tmp_path / "reviewed.yaml"
    path.write_text(GRAPH.format(factory=factory))
    return path


def test_a_factory_is_called_with_the_agents_name_and_its_kwargs(tmp_path: Path) -> None:
    graph = compile_graph(_graph(tmp_path, "agents_helpers:make_reviewer"))

    result = Runner(graph).run("go")

    assert [(m.name, m.text) for m in result.messages][-1] == (
        "reviewer", "reviewer reviewed, strict=True"
    )


@pytest.mark.parametrize(
    ("factory", "raised"),
    [
        ("agents_helpers:make_without_name", "TypeError: make_without_name() got an unexpected"),
        ("agents_helpers:make_failing", "RuntimeError: no credentials for reviewer"),
    ],
)
def test_what_a_factory_raises_fails_the_run_with_a_config_error(
    tmp_path: Path, factory: str, raised: str
) -> None:
    graph = compile_graph(_graph(tmp_path, factory))
    events: list[Event] = []

    with pytest.raises(ConfigError) as info:
        Runner(graph, sinks=[events.append]).run("go")

    message = str(info.value)
    assert "cannot build agent 'reviewer' of graph 'reviewed'" in message
    assert f"factory {factory!r} for agent 'reviewer' raised {raised}" in message
    (error,) = [e for e in events if isinstance(e, ErrorRaised)]
    assert error.code == "FA200" and raised in error.message
    assert [e.status for e in events if isinstance(e, RunFinished)] == ["failed"]
