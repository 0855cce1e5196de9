"""Tool schemas come from type hints through pydantic."""

from __future__ import annotations

import enum
import functools
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from flowagents.errors import ConfigError
from flowagents.tools import Tool


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Point(BaseModel):
    lat: float
    lon: float


class Place(BaseModel):
    """A named place."""

    name: str
    where: Point
    aliases: list[str] = []


def get_weather(
    place: Annotated[Place, "the place to look up"],
    unit: Unit = Unit.CELSIUS,
    days: Annotated[int, Field(ge=1, le=7, description="how many days")] = 1,
    detail: Literal["brief", "full"] = "brief",
    note: str | None = None,
    tags: list[str] | None = None,
    weights: dict[str, float] | None = None,
) -> str:
    """Get the weather forecast.

    The second paragraph is not part of the description.
    """
    return "sunny"


def properties(tool: Tool) -> dict[str, Any]:
    result: dict[str, Any] = tool.parameters["properties"]
    return result


def test_openai_shape_name_and_description_from_the_function() -> None:
    spec = Tool.from_function(get_weather).to_openai()
    assert spec["type"] == "function"
    function = spec["function"]
    assert set(function) == {"name", "description", "parameters"}
    assert function["name"] == "get_weather"
    assert function["description"] == "Get the weather forecast."
    assert function["parameters"]["type"] == "object"
    assert function["parameters"]["additionalProperties"] is False
    assert "title" not in function["parameters"]


def test_name_and_description_can_be_given() -> None:
    tool = Tool.from_function(get_weather, name="weather-v2", description="Forecast.")
    assert tool.to_openai()["function"]["name"] == "weather-v2"
    assert tool.to_openai()["function"]["description"] == "Forecast."


def test_required_only_lists_parameters_without_default() -> None:
    assert Tool.from_function(get_weather).parameters["required"] == ["place"]


def test_nested_models_are_referenced_through_defs() -> None:
    tool = Tool.from_function(get_weather)
    defs = tool.parameters["$defs"]
    assert properties(tool)["place"]["$ref"] == "#/$defs/Place"
    assert defs["Place"]["properties"]["where"] == {"$ref": "#/$defs/Point"}
    assert defs["Point"]["properties"]["lat"]["type"] == "number"
    assert defs["Place"]["required"] == ["name", "where"]


def test_annotated_string_and_field_descriptions() -> None:
    props = properties(Tool.from_function(get_weather))
    assert props["place"]["description"] == "the place to look up"
    assert props["days"]["description"] == "how many days"
    assert (props["days"]["minimum"], props["days"]["maximum"]) == (1, 7)
    assert "title" not in props["days"]


def test_enums_literals_and_defaults() -> None:
    tool = Tool.from_function(get_weather)
    props = properties(tool)
    assert tool.parameters["$defs"]["Unit"]["enum"] == ["celsius", "fahrenheit"]
    assert props["unit"]["default"] == "celsius"
    assert props["detail"]["enum"] == ["brief", "full"]
    assert props["detail"]["default"] == "brief"
    assert props["days"]["default"] == 1


def test_optionals_lists_and_dicts() -> None:
    props = properties(Tool.from_function(get_weather))
    assert props["note"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    assert {"type": "array", "items": {"type": "string"}} in props["tags"]["anyOf"]
    assert {"type": "object", "additionalProperties": {"type": "number"}} in props["weights"][
        "anyOf"
    ]


def test_parameter_default_given_as_pydantic_field() -> None:
    def search(query: str = Field(description="what to look for"), limit: int = Field(5)) -> str:
        return query

    tool = Tool.from_function(search)
    assert properties(tool)["query"] == {"type": "string", "description": "what to look for"}
    assert properties(tool)["limit"] == {"type": "integer", "default": 5}
    assert tool.parameters["required"] == ["query"]


def test_no_parameters_gives_an_empty_object_schema() -> None:
    def now() -> str:
        return "noon"

    assert Tool.from_function(now).parameters == {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }


def test_parameter_names_that_clash_with_basemodel_attributes() -> None:
    # pytest turns pydantic's shadowing / protected-namespace warnings into errors.
    def run(schema: str, json: int, model_name: str, copy: bool = False) -> str:
        return schema

    tool = Tool.from_function(run)
    assert list(properties(tool)) == ["schema", "json", "model_name", "copy"]
    assert tool.parameters["required"] == ["schema", "json", "model_name"]


def test_unannotated_parameters_accept_anything_and_var_args_are_left_out() -> None:
    def legacy(a, b=2, *rest, **options):  # type: ignore[no-untyped-def]
        return a

    tool = Tool.from_function(legacy)
    assert properties(tool) == {"a": {}, "b": {"default": 2}}
    assert tool.parameters["additionalProperties"] is True  # **options takes the rest


def test_methods_partials_and_callable_objects() -> None:
    class Calculator:
        """Adds numbers."""

        def add(self, x: int, y: int) -> int:
            """Add two integers."""
            return x + y

        def __call__(self, x: int) -> int:
            return x

    def scale(factor: float, value: float) -> float:
        """Scale a value."""
        return factor * value

    method = Tool.from_function(Calculator().add)
    assert (method.name, method.description) == ("add", "Add two integers.")
    assert properties(method) == {"x": {"type": "integer"}, "y": {"type": "integer"}}

    partial = Tool.from_function(functools.partial(scale, 2.0))
    assert (partial.name, partial.description) == ("scale", "Scale a value.")
    assert list(properties(partial)) == ["value"]

    assert properties(partial)["value"]["type"] == "number"

    obj = Tool.from_function(Calculator(), name="calc")
    assert obj.description == "Adds numbers."
    assert properties(obj) == {"x": {"type": "integer"}}


def test_invalid_tool_name_is_a_config_error_naming_the_function() -> None:
    with pytest.raises(ConfigError) as info:
        Tool.from_function(get_weather, name="get weather!")
    assert "get weather!" in str(info.value)
    assert "test_tools_schema.py" in str(info.value)


def test_unresolvable_hint_is_a_config_error() -> None:
    def broken(x: NoSuchType) -> str:  # type: ignore[name-defined]  # noqa: F821
        return ""

    with pytest.raises(ConfigError, match="NoSuchType") as info:
        Tool.from_function(broken)
    assert "tool 'broken'" in str(info.value)


class Opaque:
    pass


def test_type_without_json_schema_is_a_config_error() -> None:
    def takes(thing: Opaque) -> str:
        return ""

    with pytest.raises(ConfigError, match="cannot build a JSON schema"):
        Tool.from_function(takes)


def test_not_callable_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="must be callable"):
        Tool.from_function("nope")  # type: ignore[arg-type]


def test_parameters_is_a_copy() -> None:
    tool = Tool.from_function(get_weather)
    tool.parameters["properties"].clear()
    assert "place" in properties(tool)
