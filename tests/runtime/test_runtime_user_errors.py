"""An error raised by user code leaves a run as it is, with where it happened attached."""

from __future__ import annotations

from typing import Any

import pytest
from runtime_helpers import agent, of_kind

from flowagents import GraphBuilder, Runner
from flowagents.errors import RunLocation, ToolError
from flowagents.events import ErrorRaised, Event, RunFinished, Terminated


class Refused(Exception):
    """A user's own exception type."""


def _raising(error: Exception) -> Any:
    def reply(*args: Any, **kwargs: Any) -> tuple[bool, str]:
        raise error

    return reply


def _pair_where_b_raises(error: Exception) -> Runner:
    a, b = agent("a", ["a1", "a2"]), agent("b", ["b1"])
    b.register_reply([object, None], _raising(error))
    graph = GraphBuilder("duo").agent(a).agent(b).edge(a, b).edge(b, a).start(a).compile()
    return Runner(graph)


def test_a_user_exception_is_raised_as_it_is_with_its_location() -> None:
    error = Refused("no thanks")
    events: list[Event] = []
    runner = _pair_where_b_raises(error)
    runner.sinks.append(events.append)

    with pytest.raises(Refused) as raised:
        runner.run("go", run_id="r1")

    assert raised.value is error
    assert error.run_location == RunLocation("r1", "3", "b")  # type: ignore[attr-defined]
    assert "during run=r1 step=3 node=b" in error.__notes__
    # The record is what it was: the error, named with its place, then the failed ending.
    [recorded] = of_kind(events, ErrorRaised)
    assert (recorded.step, recorded.node, recorded.code) == ("3", "b", "FA300")
    assert recorded.message == "run=r1 step=3 node=b: Refused: no thanks"
    assert recorded.error_type == "Refused"
    [terminated] = of_kind(events, Terminated)
    assert (terminated.step, terminated.node, terminated.reason) == ("3", "b", "error")
    assert terminated.detail == recorded.message
    assert of_kind(events, RunFinished)[0].status == "failed"


def test_a_flowagents_error_without_a_place_gets_the_runs() -> None:
    error = ToolError("the tool is gone")

    with pytest.raises(ToolError) as raised:
        _pair_where_b_raises(error).run("go", run_id="r2")

    assert raised.value is error
    assert error.run_location == RunLocation("r2", "3", "b")  # type: ignore[attr-defined]
    assert str(error) == "run=r2 step=3 node=b: the tool is gone"


def test_a_flowagents_error_keeps_its_own_place() -> None:
    error = ToolError("the tool is gone", where="tool lookup")

    with pytest.raises(ToolError) as raised:
        _pair_where_b_raises(error).run("go", run_id="r3")

    assert raised.value.where == "tool lookup"
    assert raised.value.run_location == RunLocation("r3", "3", "b")  # type: ignore[attr-defined]


def test_an_exception_raised_again_in_a_later_run_is_located_there() -> None:
    error = Refused("again")
    runner = _pair_where_b_raises(error)
    for run_id in ("first", "second"):
        with pytest.raises(Refused):
            runner.run("go", run_id=run_id)

    assert error.run_location == RunLocation("second", "3", "b")  # type: ignore[attr-defined]
