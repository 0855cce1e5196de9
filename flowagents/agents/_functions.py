"""The functions an agent offers its model (tools) and runs (its ``function_map``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

from flowagents.messages import ToolCall
from flowagents.tools import Tool

F = TypeVar("F", bound=Callable[..., Any])
FunctionMap: TypeAlias = dict[str, Callable[..., Any] | Tool]

# A decorated function keeps its Tool here, so that register_for_llm and
# register_for_execution stacked on one function share one schema.
TOOL_ATTRIBUTE = "__flowagents_tool__"


def offer_to_model(
    tools: dict[str, Tool], name: str | None, description: str | None
) -> Callable[[F], F]:
    """A decorator adding the function's Tool to ``tools`` (see ``register_for_llm``)."""

    def decorator(function: F) -> F:
        tool = getattr(function, TOOL_ATTRIBUTE, None)
        if tool is None or (name and tool.name != name) or description:
            tool = Tool.from_function(function, name=name, description=description)
        tools[tool.name] = tool
        setattr(function, TOOL_ATTRIBUTE, tool)
        return function

    return decorator


def with_tool_schema(llm_config: Any, tool: Tool) -> Any:
    """``llm_config`` with ``tool``'s schema in its ``tools``, as AutoGen's agents show it.

    A dict comes back as a new dict (the one given is often shared by several agents), the
    schema replacing one of the same name and put last; anything else comes back as it is.
    """
    if not isinstance(llm_config, dict):
        return llm_config
    kept = [
        schema
        for schema in llm_config.get("tools") or ()
        if schema.get("function", {}).get("name") != tool.name
    ]
    return {**llm_config, "tools": [*kept, tool.to_openai()]}


def allow_execution(function_map: FunctionMap, name: str | None) -> Callable[[F], F]:
    """A decorator adding the function's Tool to ``function_map`` by its tool name."""

    def decorator(function: F) -> F:
        tool = getattr(function, TOOL_ATTRIBUTE, None)
        if tool is None or (name and tool.name != name):
            tool = Tool.from_function(function, name=name)
            setattr(function, TOOL_ATTRIBUTE, tool)
        function_map[tool.name] = tool
        return function

    return decorator


def update_function_map(
    function_map: FunctionMap, changes: dict[str, Callable[..., Any] | None]
) -> None:
    """Add each function of ``changes`` by its name; a None removes the name."""
    for name, function in changes.items():
        if function is None:
            function_map.pop(name, None)
        else:
            function_map[name] = function


def can_execute(function_map: FunctionMap, name: str | list[str]) -> bool:
    """Whether ``function_map`` holds ``name`` (every name of a list)."""
    names = [name] if isinstance(name, str) else name
    return all(one in function_map for one in names)


async def run_function_call(
    function_map: FunctionMap, func_call: dict[str, Any]
) -> tuple[bool, dict[str, Any]]:
    """Run ``{"name", "arguments"}`` in the current run (see ``a_execute_function``)."""
    # Imported late: the runtime builds on the agents.
    from flowagents.runtime._context import current_run

    name = str(func_call.get("name", ""))
    call = ToolCall(id="", name=name, arguments=func_call.get("arguments") or "{}")
    (response,) = await current_run().call_tools(function_map, [call])
    return not response.is_error, {
        "name": name,
        "role": "function",
        "content": response.content,
    }
