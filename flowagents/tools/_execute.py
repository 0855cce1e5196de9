"""Run all tool calls of one assistant message and answer each with a ToolResponse.

Async tools run concurrently. Sync tools run one at a time, in call order, each in a worker
thread (concurrently with the async ones): nothing says two calls of a sync function are
thread-safe, and a model that asks for "write file, then read it" in one message means that
order. Responses and ``on_result`` hooks come in call order, whatever order calls finish in,
so the events a run records are the same on every run.
"""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeAlias

from flowagents.messages import ToolCall, ToolResponse
from flowagents.tools._tool import Tool, ToolOutcome

__all__ = ["OnToolCall", "OnToolResult", "as_tool", "execute_tool_calls"]

OnToolCall: TypeAlias = Callable[[ToolCall], Awaitable[None] | None]
"""Called once per call, in call order, before any call starts."""

OnToolResult: TypeAlias = Callable[[ToolCall, ToolResponse, float], Awaitable[None] | None]
"""Called once per call with its response and duration in seconds, in call order."""

# Plain callables from a function_map are wrapped once per (callable, name), not per call.
_wrapped: weakref.WeakKeyDictionary[Callable[..., Any], dict[str, Tool]] = (
    weakref.WeakKeyDictionary()
)


def as_tool(function: Tool | Callable[..., Any], name: str) -> Tool:
    """Return ``function`` as a Tool named ``name``, wrapping a plain callable (cached)."""
    if isinstance(function, Tool):
        return function
    try:
        by_name = _wrapped.setdefault(function, {})
    except TypeError:  # not weak-referenceable: wrap every time
        return Tool.from_function(function, name=name)
    tool = by_name.get(name)
    if tool is None:
        tool = by_name[name] = Tool.from_function(function, name=name)
    return tool


async def execute_tool_calls(
    calls: Sequence[ToolCall],
    tools: Mapping[str, Tool | Callable[..., Any]],
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - applies per call, see Tool.call
    on_call: OnToolCall | None = None,
    on_result: OnToolResult | None = None,
) -> list[ToolResponse]:
    """Run ``calls`` against ``tools`` and return one ToolResponse per call, in call order.

    A name not in ``tools`` answers with an error naming the available tools. ``timeout``
    applies to each call on its own. Hook errors and cancellation propagate (and cancel the
    calls still running); tool failures never do.
    """
    sync_turn = asyncio.Lock()  # FIFO: sync tools take turns in call order
    for call in calls:
        await _maybe_await(on_call(call) if on_call is not None else None)
    tasks = [asyncio.ensure_future(_run_one(call, tools, timeout, sync_turn)) for call in calls]
    responses: list[ToolResponse] = []
    try:
        for call, task in zip(calls, tasks, strict=True):
            outcome = await task
            response = ToolResponse(
                tool_call_id=call.id,
                content=outcome.content,
                name=call.name,
                is_error=outcome.is_error,
            )
            responses.append(response)
            if on_result is not None:
                await _maybe_await(on_result(call, response, outcome.duration_s))
    finally:
        for task in tasks:
            task.cancel()  # no-op for finished tasks
        await asyncio.gather(*tasks, return_exceptions=True)
    return responses


async def _run_one(
    call: ToolCall,
    tools: Mapping[str, Tool | Callable[..., Any]],
    limit: float | None,
    sync_turn: asyncio.Lock,
) -> ToolOutcome:
    function = tools.get(call.name)
    if function is None:
        available = ", ".join(sorted(tools)) or "(none)"
        return ToolOutcome(
            content=f"Error: unknown tool {call.name!r}; available tools: {available}",
            is_error=True,
            error_kind="unknown_tool",
        )
    tool = as_tool(function, call.name)
    if tool.is_async:
        return await tool.call(call.arguments, timeout=limit)
    async with sync_turn:
        return await tool.call(call.arguments, timeout=limit)


async def _maybe_await(value: object) -> None:
    if inspect.isawaitable(value):
        await value
