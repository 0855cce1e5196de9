"""One error tree: every error has a stable code and says where it happened."""

from __future__ import annotations

import inspect

import flowagents.errors as errors
from flowagents.errors import (
    FlowAgentsError,
    GraphLoadError,
    ModelAuthError,
    RunError,
    RunLocation,
    SourceLocation,
)


def test_every_error_class_is_in_the_tree_with_a_unique_code() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if inspect.isclass(value) and issubclass(value, FlowAgentsError)
    ]
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)), codes
    # The tree drawn in the module docstring names every class.
    for cls in classes:
        assert cls.__name__ in (errors.__doc__ or ""), cls.__name__


def test_errors_say_where() -> None:
    spec = GraphLoadError("unknown key 'edgez'", where=SourceLocation("graphs/x.yaml", 3, 5))
    assert str(spec) == "graphs/x.yaml:3:5: unknown key 'edgez'"
    assert str(SourceLocation("g.py", 7)) == "g.py:7"  # the column is not known
    assert str(SourceLocation("g.py")) == "g.py"
    run = RunError("boom", where=RunLocation("r1", "4/search.2", "search"))
    assert str(run) == "run=r1 step=4/search.2 node=search: boom"
    auth = ModelAuthError("401 Unauthorized", endpoint="http://127.0.0.1:9/v1", model="m")
    assert "http://127.0.0.1:9/v1" in str(auth) and "m" in str(auth)


def test_human_input_needed_is_control_flow_not_an_error() -> None:
    assert not issubclass(errors.HumanInputNeeded, FlowAgentsError)
