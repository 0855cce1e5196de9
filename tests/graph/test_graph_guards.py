"""Guards are data: each kind evaluates against a GuardContext; python refs are opt-in."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from flowagents.errors import SpecError
from flowagents.graph import (
    AllGuard,
    AnyGuard,
    CodeGuard,
    ContainsGuard,
    CounterGuard,
    EdgeSpec,
    Guard,
    MatchesGuard,
    NotGuard,
    PythonGuard,
    SimpleGuardContext,
    ToolCallGuard,
)
from flowagents.messages import Message, ToolCall

GUARD: TypeAdapter[Guard] = TypeAdapter(Guard)


def ctx(text: str | None = None, **kwargs: object) -> SimpleGuardContext:
    message = Message(content=text) if text is not None else None
    return SimpleGuardContext(last_message=message, **kwargs)  # type: ignore[arg-type]


def test_contains_and_matches() -> None:
    assert ContainsGuard(contains="APPROVED").evaluate(ctx("ok, APPROVED."))
    assert not ContainsGuard(contains="APPROVED").evaluate(ctx("approved"))
    assert ContainsGuard(contains="APPROVED", ignore_case=True).evaluate(ctx("approved"))
    assert not ContainsGuard(contains="x").evaluate(ctx())
    assert MatchesGuard(matches=r"score: [89]\d").evaluate(ctx("final score: 93/100"))
    assert not MatchesGuard(matches=r"^score").evaluate(ctx("final score: 93"))
    assert MatchesGuard(matches="^SCORE", ignore_case=True).evaluate(ctx("score"))


def test_tool_call_guard_reads_the_last_message_calls() -> None:
    guard = ToolCallGuard(tool_call="search")
    call = Message(tool_calls=[ToolCall(id="1", name="search", arguments="{}")])
    other = Message(tool_calls=[ToolCall(id="2", name="fetch")])
    assert guard.evaluate(SimpleGuardContext(last_message=call))
    assert not guard.evaluate(SimpleGuardContext(last_message=other))
    assert not guard.evaluate(ctx("search"))


def test_code_guard_needs_an_exit_code() -> None:
    failed, succeeded = CodeGuard(code="failed"), CodeGuard(code="succeeded")
    assert failed.evaluate(ctx(last_code_exit_code=1))
    assert not failed.evaluate(ctx(last_code_exit_code=0))
    assert succeeded.evaluate(ctx(last_code_exit_code=0))
    assert not failed.evaluate(ctx()) and not succeeded.evaluate(ctx())


def test_counter_guard_and_combinators() -> None:
    reached = CounterGuard(counter="a->b", reached=2)
    assert not reached.evaluate(ctx(counters={"a->b": 1}))
    assert reached.evaluate(ctx(counters={"a->b": 2}))
    assert not reached.evaluate(ctx())
    done = ContainsGuard(contains="DONE")
    assert (~done).evaluate(ctx("working"))
    assert (done & reached).evaluate(ctx("DONE", counters={"a->b": 3}))
    assert not (done & reached).evaluate(ctx("DONE"))
    assert (done | reached).evaluate(ctx("DONE"))
    assert not (done | reached).evaluate(ctx("no"))
    assert AllGuard(all=[]).evaluate(ctx()) and not AnyGuard(any=[]).evaluate(ctx())
    nested = NotGuard(not_=AnyGuard(any=[done, reached]))
    assert list(nested.counter_names()) == ["a->b"]


def test_guards_load_from_plain_data_by_their_key() -> None:
    data = {"any": [{"contains": "x"}, {"not": {"code": "failed"}}, {"counter": "w", "reached": 1}]}
    guard = GUARD.validate_python(data)
    assert isinstance(guard, AnyGuard)
    assert isinstance(guard.any[1], NotGuard) and isinstance(guard.any[1].not_, CodeGuard)
    assert GUARD.dump_python(guard, by_alias=True, exclude_defaults=True) == data
    edge = EdgeSpec.model_validate({"from": "a", "to": "b", "guard": {"tool_call": "search"}})
    assert edge.guard == ToolCallGuard(tool_call="search")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"contain": "x"}, "a guard needs one of the keys"),
        ({"contains": "x", "extra": 1}, "Extra inputs are not permitted"),
        ({"matches": "(oops"}, "invalid regular expression"),
        ({"code": "crashed"}, "'failed' or 'succeeded'"),
        ({"python": "not a reference"}, "should match pattern"),
        ({"counter": "a", "reached": -1}, "greater than or equal to 0"),
    ],
)
def test_bad_guards_are_rejected(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        GUARD.validate_python(data)


def test_python_guard_imports_only_when_evaluated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"guards_{uuid.uuid4().hex}"
    (tmp_path / f"{module}.py").write_text(
        "def long_enough(ctx):\n    return len(ctx.last_message.text) > 3\n"
    )
    guard = PythonGuard(python=f"{module}:long_enough")  # not imported yet: path not set
    monkeypatch.syspath_prepend(str(tmp_path))
    assert guard.evaluate(ctx("hello"))
    assert not guard.evaluate(ctx("hi"))
    with pytest.raises(SpecError, match="cannot be imported"):
        PythonGuard(python=f"{module}:missing").evaluate(ctx("x"))
    with pytest.raises(SpecError, match="cannot be imported"):
        PythonGuard(python="no_such_module_xyz:f").evaluate(ctx("x"))


def test_guards_are_immutable_values() -> None:
    guard = ContainsGuard(contains="x")
    with pytest.raises(ValidationError):
        guard.contains = "y"  # type: ignore[misc]
    assert guard == ContainsGuard(contains="x")
    assert hash(guard) == hash(ContainsGuard(contains="x"))
