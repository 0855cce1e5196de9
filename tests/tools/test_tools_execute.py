"""execute_tool_calls: all calls of one message, async ones concurrently, answers in order."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from flowagents.messages import ToolCall, ToolResponse
from flowagents.tools import Tool, as_tool, execute_tool_calls


def run(
    calls: list[ToolCall],
    tools: Mapping[str, Tool | Callable[..., Any]],
    **options: Any,
) -> list[ToolResponse]:
    return asyncio.run(execute_tool_calls(calls, tools, **options))


class Clock:
    """A logical clock: every tick is a unique, increasing number (no wall time involved)."""

    def __init__(self) -> None:
        self._ticks = itertools.count()
        self._lock = threading.Lock()
        self.log: list[tuple[int, str]] = []

    def mark(self, label: str) -> int:
        with self._lock:
            tick = next(self._ticks)
            self.log.append((tick, label))
            return tick


def test_async_calls_overlap() -> None:
    clock = Clock()
    spans: dict[str, tuple[int, int]] = {}
    both_started = asyncio.Event()
    running = 0

    async def fetch(key: str) -> str:
        nonlocal running
        start = clock.mark(f"{key} start")
        running += 1
        if running == 2:
            both_started.set()
        # Returns only once both calls are inside: impossible if they ran one after another
        # (the first call would hit the timeout instead).
        await both_started.wait()
        spans[key] = (start, clock.mark(f"{key} end"))
        return key

    calls = [
        ToolCall(id="1", name="fetch", arguments='{"key": "a"}'),
        ToolCall(id="2", name="fetch", arguments='{"key": "b"}'),
    ]
    responses = run(calls, {"fetch": fetch}, timeout=5)
    assert [r.content for r in responses] == ["a", "b"]
    assert not any(r.is_error for r in responses)
    assert max(start for start, _ in spans.values()) < min(end for _, end in spans.values())


def test_results_come_in_call_order_not_finish_order() -> None:
    first_may_finish = asyncio.Event()
    finished: list[str] = []

    async def slow() -> str:
        await first_may_finish.wait()
        finished.append("slow")
        return "slow"

    async def fast() -> str:
        finished.append("fast")
        first_may_finish.set()
        return "fast"

    calls = [ToolCall(id="s", name="slow"), ToolCall(id="f", name="fast")]
    responses = run(calls, {"slow": slow, "fast": fast}, timeout=5)
    assert finished == ["fast", "slow"]
    assert [(r.tool_call_id, r.name, r.content) for r in responses] == [
        ("s", "slow", "slow"),
        ("f", "fast", "fast"),
    ]


def test_sync_calls_take_turns_in_call_order_beside_async_ones() -> None:
    clock = Clock()
    async_may_finish = asyncio.Event()

    two_started = threading.Event()

    def write(step: str) -> str:
        clock.mark(f"{step} start")
        if step == "two":
            two_started.set()
        else:
            two_started.wait(0.1)  # set at once if "two" ran concurrently with "one"
        clock.mark(f"{step} end")
        return step

    async def wait_for_writes() -> str:
        await async_may_finish.wait()
        return "waited"

    def last(loop: asyncio.AbstractEventLoop) -> str:
        loop.call_soon_threadsafe(async_may_finish.set)
        return "last"

    async def main() -> list[ToolResponse]:
        loop = asyncio.get_running_loop()
        tools: dict[str, Any] = {
            "write": write,
            "wait": wait_for_writes,
            "last": Tool.from_function(lambda: last(loop), name="last"),
        }
        calls = [
            ToolCall(id="1", name="wait"),
            ToolCall(id="2", name="write", arguments='{"step": "one"}'),
            ToolCall(id="3", name="write", arguments='{"step": "two"}'),
            ToolCall(id="4", name="last"),
        ]
        return await execute_tool_calls(calls, tools, timeout=5)

    responses = asyncio.run(main())
    # The async call was still waiting while the sync calls ran: it ran beside them.
    assert [r.content for r in responses] == ["waited", "one", "two", "last"]
    assert [label for _, label in clock.log] == ["one start", "one end", "two start", "two end"]


def test_unknown_tool_names_it_and_the_available_ones() -> None:
    def add(x: int, y: int) -> int:
        return x + y

    calls = [
        ToolCall(id="1", name="subtract", arguments='{"x": 1}'),
        ToolCall(id="2", name="add", arguments='{"x": 1, "y": 2}'),
    ]
    responses = run(calls, {"add": add, "mul": Tool.from_function(add, name="mul")})
    assert responses[0].is_error
    assert responses[0].content == "Error: unknown tool 'subtract'; available tools: add, mul"
    assert responses[0].name == "subtract"
    assert (responses[1].content, responses[1].is_error) == ("3", False)


def test_unknown_tool_with_no_tools_at_all() -> None:
    (response,) = run([ToolCall(id="1", name="x")], {})
    assert response.content == "Error: unknown tool 'x'; available tools: (none)"


def test_errors_of_every_kind_become_error_responses() -> None:
    def boom() -> str:
        raise RuntimeError("kaput")

    async def hang() -> str:
        await asyncio.Event().wait()
        return "never"

    def typed(n: int) -> int:
        return n

    calls = [
        ToolCall(id="1", name="boom"),
        ToolCall(id="2", name="hang"),
        ToolCall(id="3", name="typed", arguments="{not json"),
        ToolCall(id="4", name="typed", arguments='{"n": 7}'),
    ]
    responses = run(calls, {"boom": boom, "hang": hang, "typed": typed}, timeout=0.05)
    assert [r.is_error for r in responses] == [True, True, True, False]
    assert responses[0].content == "Error: tool 'boom' raised RuntimeError: kaput"
    assert "timed out" in responses[1].content
    assert "invalid arguments for tool 'typed'" in responses[2].content
    assert responses[3].content == "7"


def test_hooks_see_every_call_in_order() -> None:
    seen: list[tuple[str, str]] = []
    durations: list[float] = []

    def on_call(call: ToolCall) -> None:
        seen.append(("call", call.id))

    async def on_result(call: ToolCall, response: ToolResponse, duration_s: float) -> None:
        seen.append(("result", response.tool_call_id))
        durations.append(duration_s)

    async def echo(text: str) -> str:
        return text

    calls = [
        ToolCall(id="a", name="echo", arguments='{"text": "1"}'),
        ToolCall(id="b", name="nope"),
    ]
    run(calls, {"echo": echo}, on_call=on_call, on_result=on_result)
    assert seen == [("call", "a"), ("call", "b"), ("result", "a"), ("result", "b")]
    assert all(d >= 0 for d in durations)


def test_a_failing_hook_propagates_and_cancels_running_calls() -> None:
    cancelled = threading.Event()

    async def quick() -> str:
        return "done"

    async def slow() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    def on_result(call: ToolCall, response: ToolResponse, duration_s: float) -> None:
        raise ValueError("hook broke")

    calls = [ToolCall(id="1", name="quick"), ToolCall(id="2", name="slow")]
    with pytest.raises(ValueError, match="hook broke"):
        run(calls, {"quick": quick, "slow": slow}, on_result=on_result)
    assert cancelled.is_set()


def test_plain_callables_are_wrapped_once() -> None:
    def ping() -> str:
        return "pong"

    first = as_tool(ping, "ping")
    assert as_tool(ping, "ping") is first
    assert as_tool(ping, "other") is not first
    assert as_tool(ping, "other").name == "other"
    assert as_tool(first, "ignored") is first


def test_callable_registered_under_another_name() -> None:
    def implementation(x: int) -> int:
        return x * 2

    (response,) = run(
        [ToolCall(id="1", name="double", arguments='{"x": 4}')], {"double": implementation}
    )
    assert (response.content, response.name) == ("8", "double")


def test_no_calls_gives_no_responses() -> None:
    assert run([], {}) == []
