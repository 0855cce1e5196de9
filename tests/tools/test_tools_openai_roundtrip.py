"""Tool schemas go through the real openai SDK to a loopback server, and its calls run."""

from __future__ import annotations

import asyncio
import enum
import json
from typing import Annotated, Any

import openai
import pytest
from pydantic import BaseModel

from flowagents import AssistantAgent, UserProxyAgent, observe
from flowagents.errors import ConfigError
from flowagents.events import Event, ToolReturned
from flowagents.messages import Message, ToolResponse, messages_to_openai
from flowagents.testing import LoopbackServer
from flowagents.tools import Tool, execute_tool_calls


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class City(BaseModel):
    name: str
    country: str = "FR"


async def get_weather(
    city: Annotated[City, "the city"], unit: Unit = Unit.CELSIUS
) -> dict[str, Any]:
    """Current weather in a city."""
    return {"city": city.name, "unit": unit.value, "degrees": 21}


def add(x: Annotated[int, "first"], y: Annotated[int, "second"]) -> int:
    """Add two integers."""
    return x + y


TOOLS = [Tool.from_function(get_weather), Tool.from_function(add)]


def test_schemas_reach_the_server_and_scripted_calls_execute() -> None:
    scripted_calls = {
        "tool_calls": [
            {"name": "get_weather", "arguments": '{"city": {"name": "Paris"}, "unit": "celsius"}'},
            {"name": "add", "arguments": '{"x": 2, "y": "3"}'},
            {"name": "add", "arguments": '{"x": 2}'},
        ]
    }

    async def main(server: LoopbackServer) -> tuple[Message, list[ToolResponse], str]:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="x") as client:
            schemas: list[Any] = [t.to_openai() for t in TOOLS]
            history: list[Any] = [{"role": "user", "content": "weather? and 2+3"}]
            first = await client.chat.completions.create(
                model="m",
                messages=history,
                tools=schemas,
            )
            assistant = Message.from_openai(first.choices[0].message.model_dump(exclude_none=True))
            assert assistant.tool_calls is not None
            responses = await execute_tool_calls(
                assistant.tool_calls, {t.name: t for t in TOOLS}, timeout=5
            )
            tool_message = Message(role="tool", tool_responses=responses)
            history += messages_to_openai([assistant, tool_message])
            second = await client.chat.completions.create(model="m", messages=history)
            return assistant, responses, second.choices[0].message.content or ""

    with LoopbackServer(replies=[scripted_calls, "It is 21 degrees; 2+3=5."]) as server:
        assistant, responses, final = asyncio.run(main(server))
        sent = [request.body for request in server.requests]

    assert sent[0] is not None and sent[1] is not None
    # The server received exactly our schemas.
    assert sent[0]["tools"] == [tool.to_openai() for tool in TOOLS]
    assert sent[0]["tools"][0]["function"]["parameters"]["$defs"]["City"]["required"] == ["name"]

    assert [call.name for call in assistant.tool_calls or []] == ["get_weather", "add", "add"]
    assert json.loads(responses[0].content) == {"city": "Paris", "unit": "celsius", "degrees": 21}
    assert (responses[1].content, responses[1].is_error) == ("5", False)
    assert responses[2].is_error
    assert "field 'y': Field required" in responses[2].content

    # The results went back to the server as role: tool messages tied to the call ids.
    tool_messages = [m for m in sent[1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == [c.id for c in assistant.tool_calls or []]
    assert [m["content"] for m in tool_messages] == [r.content for r in responses]
    assert final == "It is 21 degrees; 2+3=5."


def test_a_tools_own_timeout_bounds_its_calls_in_a_run() -> None:
    # A run passes no timeout to its tool calls: a hanging tool is bounded by its own.
    async def fetch(url: str) -> str:
        """Fetch a page (this one never answers)."""
        await asyncio.Event().wait()
        return url

    tool = Tool.from_function(fetch, timeout=0.2)
    call = {"tool_calls": [{"name": "fetch", "arguments": {"url": "http://x"}}]}
    with LoopbackServer(replies=[call, "The page did not load. TERMINATE"]) as server:
        config = {
            "config_list": [{"model": "m", "base_url": server.base_url, "api_key": "k"}],
            "tools": [tool.to_openai()],
        }
        assistant = AssistantAgent("assistant", llm_config=config)
        user = UserProxyAgent(
            "user",
            human_input_mode="NEVER",
            code_execution_config=False,
            function_map={"fetch": tool},
        )
        events: list[Event] = []
        with observe(events.append):
            user.initiate_chat(assistant, message="fetch x", silent=True, max_turns=2)
        second = server.requests[1].body

    expected = "Error: tool 'fetch' timed out after 0.2 s; the call was cancelled"
    (returned,) = [event for event in events if isinstance(event, ToolReturned)]
    assert (returned.tool, returned.content, returned.is_error) == ("fetch", expected, True)
    assert second is not None
    assert second["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1_0",
        "content": expected,
    }


def test_the_shorter_of_a_tools_and_a_callers_timeout_applies() -> None:
    async def wait() -> str:
        """Wait forever."""
        await asyncio.Event().wait()
        return "never"

    def outcome(tool_limit: float | None, call_limit: float | None) -> str:
        tool = Tool.from_function(wait, timeout=tool_limit)
        return asyncio.run(tool.call("{}", timeout=call_limit)).content

    assert outcome(0.1, None).endswith("timed out after 0.1 s; the call was cancelled")
    assert outcome(None, 0.1).endswith("timed out after 0.1 s; the call was cancelled")
    assert outcome(0.1, 60).endswith("timed out after 0.1 s; the call was cancelled")
    assert outcome(60, 0.1).endswith("timed out after 0.1 s; the call was cancelled")
    with pytest.raises(ConfigError, match="timeout"):
        Tool.from_function(wait, timeout=0)
