"""Tool schemas go through the real openai SDK to a loopback server, and its calls run."""

from __future__ import annotations

import asyncio
import enum
import json
from typing import Annotated, Any

import openai
from pydantic import BaseModel

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
