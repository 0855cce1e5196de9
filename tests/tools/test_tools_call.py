"""Tool.call: garbage in, a correctable error message out; never a crash."""

from __future__ import annotations

import asyncio
import enum
import functools
import json
import threading
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from flowagents.errors import HumanInputNeeded, ReplayDivergenceError
from flowagents.tools import Tool, ToolOutcome, serialize_result


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class City(BaseModel):
    name: str
    country: str = "FR"


class Report(BaseModel):
    city: str
    degrees: float


def get_weather(city: Annotated[City, "where"], days: int = 1, unit: Unit = Unit.CELSIUS) -> Report:
    """Weather for a city."""
    assert isinstance(city, City)  # nested models arrive as instances, not dicts
    assert isinstance(unit, Unit)
    return Report(city=f"{city.name},{city.country}", degrees=20.5 + days)


def call(tool: Tool, arguments: str, timeout: float | None = None) -> ToolOutcome:
    return asyncio.run(tool.call(arguments, timeout=timeout))


WEATHER = Tool.from_function(get_weather)


def test_valid_call_returns_serialised_result() -> None:
    outcome = call(WEATHER, '{"city": {"name": "Paris"}, "days": 2, "unit": "fahrenheit"}')
    assert not outcome.is_error
    assert outcome.error_kind is None
    assert json.loads(outcome.content) == {"city": "Paris,FR", "degrees": 22.5}
    assert outcome.duration_s >= 0


def test_lax_coercion_of_numeric_strings() -> None:
    outcome = call(WEATHER, '{"city": {"name": "Lyon"}, "days": "3"}')
    assert json.loads(outcome.content)["degrees"] == 23.5


def test_invalid_json_names_the_tool_and_shows_the_schema() -> None:
    outcome = call(WEATHER, '{"city": {"name": "Paris"')
    assert outcome.is_error
    assert outcome.error_kind == "invalid_arguments"
    assert outcome.content.startswith("Error: invalid arguments for tool 'get_weather': ")
    assert "not valid JSON" in outcome.content
    schema = outcome.content.split("Expected schema: ", 1)[1]
    assert json.loads(schema) == WEATHER.parameters


def test_arguments_that_are_not_an_object() -> None:
    assert "must be a JSON object, got an array" in call(WEATHER, "[1, 2]").content
    assert "must be a JSON object, got a string" in call(WEATHER, '"Paris"').content
    assert "must be a JSON object, got a number" in call(WEATHER, "3.5").content


def test_missing_field() -> None:
    outcome = call(WEATHER, "{}")
    assert outcome.is_error
    assert "field 'city': Field required" in outcome.content


def test_missing_nested_field_names_its_path() -> None:
    outcome = call(WEATHER, '{"city": {"country": "DE"}}')
    assert "field 'city.name': Field required" in outcome.content


def test_wrong_type_shows_what_was_sent() -> None:
    outcome = call(WEATHER, '{"city": {"name": "Paris"}, "days": "many"}')
    assert "field 'days': Input should be a valid integer" in outcome.content
    assert "(got 'many')" in outcome.content


def test_bad_enum_value_lists_the_allowed_ones() -> None:
    outcome = call(WEATHER, '{"city": {"name": "Paris"}, "unit": "kelvin"}')
    assert "field 'unit': Input should be 'celsius' or 'fahrenheit'" in outcome.content


def test_extra_argument_is_reported_as_unknown() -> None:
    outcome = call(WEATHER, '{"city": {"name": "Paris"}, "when": "today"}')
    assert "field 'when': Extra inputs are not permitted (unknown argument)" in outcome.content


def test_every_error_is_reported_at_once() -> None:
    outcome = call(WEATHER, '{"days": "x", "bogus": 1}')
    detail = outcome.content.split(". Expected schema:", 1)[0]
    assert detail.count("field ") == 3


def test_long_inputs_are_shortened() -> None:
    outcome = call(WEATHER, json.dumps({"city": {"name": "P"}, "days": "x" * 500}))
    assert "x" * 500 not in outcome.content
    assert "...')" in outcome.content or "...)" in outcome.content


def test_empty_or_null_arguments_mean_no_arguments() -> None:
    def ping() -> str:
        return "pong"

    tool = Tool.from_function(ping)
    assert call(tool, "").content == "pong"
    assert call(tool, "  ").content == "pong"
    assert call(tool, "null").content == "pong"
    assert call(tool, "{}").content == "pong"


def test_raising_tool_returns_type_and_message() -> None:
    def divide(a: int, b: int) -> float:
        return a / b

    outcome = call(Tool.from_function(divide), '{"a": 1, "b": 0}')
    assert outcome.is_error
    assert outcome.error_kind == "raised"
    assert outcome.content == "Error: tool 'divide' raised ZeroDivisionError: division by zero"


def test_raising_async_tool_and_exception_without_message() -> None:
    async def fail() -> str:
        raise KeyError

    outcome = call(Tool.from_function(fail), "{}")
    assert outcome.content == "Error: tool 'fail' raised KeyError"


def test_async_tool_timeout_cancels_it() -> None:
    cancelled: list[bool] = []

    async def wait_forever() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return "never"

    outcome = call(Tool.from_function(wait_forever), "{}", timeout=0.05)
    assert outcome.is_error
    assert outcome.error_kind == "timeout"
    assert "tool 'wait_forever' timed out after 0.05 s" in outcome.content
    assert cancelled == [True]


def test_sync_tool_timeout_abandons_the_thread() -> None:
    release = threading.Event()
    finished = threading.Event()

    def block() -> str:
        release.wait(30)
        finished.set()
        return "late"

    outcome = call(Tool.from_function(block), "{}", timeout=0.05)
    # asyncio.run returned although the tool is still blocked: it was abandoned.
    assert not finished.is_set()
    assert outcome.error_kind == "timeout"
    assert "abandoned" in outcome.content
    release.set()
    assert finished.wait(5)


def test_a_tools_own_timeout_error_is_reported_as_raised() -> None:
    def sync_timeout() -> str:
        raise TimeoutError("upstream took too long")

    async def async_timeout() -> str:
        raise TimeoutError("upstream took too long")

    for function in (sync_timeout, async_timeout):
        outcome = call(Tool.from_function(function), "{}", timeout=10)
        assert outcome.error_kind == "raised"
        assert outcome.content.endswith("raised TimeoutError: upstream took too long")


def test_sync_tool_runs_in_a_worker_thread() -> None:
    def where() -> str:
        return threading.current_thread().name

    assert call(Tool.from_function(where), "{}").content == "flowagents-tool"


def test_positional_only_and_var_keyword_parameters() -> None:
    def tag(text: str, /, upper: bool = False, **extra: Any) -> dict[str, Any]:
        return {"text": text.upper() if upper else text, "extra": extra}

    outcome = call(Tool.from_function(tag), '{"text": "hi", "upper": true, "color": "red"}')
    assert json.loads(outcome.content) == {"text": "HI", "extra": {"color": "red"}}


def test_sync_callable_returning_a_coroutine_is_awaited() -> None:
    async def add(x: int, y: int) -> int:
        return x + y

    tool = Tool.from_function(functools.partial(add, 1))
    assert tool.is_async
    assert call(tool, '{"y": 2}').content == "3"

    def lazy(x: int) -> Any:
        return add(x, 10)

    assert call(Tool.from_function(lazy), '{"x": 5}').content == "15"


def test_async_callable_object() -> None:
    class Echo:
        async def __call__(self, text: str) -> str:
            return text

    tool = Tool.from_function(Echo(), name="echo")
    assert tool.is_async
    assert call(tool, '{"text": "hey"}').content == "hey"


def test_serialize_result() -> None:
    assert serialize_result("plain") == "plain"
    assert serialize_result(City(name="Oslo")) == '{"name":"Oslo","country":"FR"}'
    assert serialize_result({"a": [1, City(name="x")]}) == '{"a":[1,{"name":"x","country":"FR"}]}'
    assert serialize_result([1, "two"]) == '[1,"two"]'
    assert serialize_result((1, 2)) == "[1,2]"
    assert serialize_result(42) == "42"
    assert serialize_result(None) == "None"
    assert serialize_result({"bad": object()}).startswith("{'bad': <object object")


def test_cancelling_the_caller_is_not_swallowed() -> None:
    started = asyncio.Event()

    async def slow() -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    tool = Tool.from_function(slow)

    async def main() -> bool:
        task = asyncio.create_task(tool.call("{}"))
        await started.wait()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return True
        return False

    assert asyncio.run(main())


@pytest.mark.parametrize(
    "signal",
    [HumanInputNeeded("your answer?", agent="expert"), ReplayDivergenceError("differs")],
    ids=["human_input_needed", "replay_divergence"],
)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_the_runs_control_flow_passes_through_a_tool(signal: Exception, kind: str) -> None:
    # A chat inside a tool asking a human parks the run; a replay divergence stops it: neither
    # is the tool's failure, so neither becomes an error message for the model.
    def sync_tool() -> str:
        raise signal

    async def async_tool() -> str:
        raise signal

    tool = Tool.from_function(sync_tool if kind == "sync" else async_tool)
    with pytest.raises(type(signal)) as raised:
        call(tool, "{}")
    assert raised.value is signal


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, database=None)
@given(st.text(max_size=60) | json_values.map(json.dumps))
def test_any_argument_text_gives_an_outcome_never_an_exception(arguments: str) -> None:
    outcome = call(WEATHER, arguments)
    assert isinstance(outcome, ToolOutcome)
    if outcome.is_error:
        assert outcome.content.startswith("Error: invalid arguments for tool 'get_weather': ")
