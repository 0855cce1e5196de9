"""register_for_llm / register_for_execution over the wire: schemas out, parallel calls back."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel

from flowagents import AssistantAgent, ConversableAgent, ScriptedModel, UserProxyAgent
from flowagents.events import Event, ToolCalled, ToolReturned
from flowagents.runtime import observe
from flowagents.testing import LoopbackServer


class Unit(StrEnum):
    celsius = "celsius"
    fahrenheit = "fahrenheit"


class Place(BaseModel):
    city: str
    country: str | None = None


def test_decorated_tools_are_offered_called_in_parallel_and_answered() -> None:
    replies = [
        {
            "content": None,
            "tool_calls": [
                {"name": "weather", "arguments": {"place": {"city": "Oslo"}, "unit": "celsius"}},
                {"name": "weather", "arguments": {"place": {"city": "Rome"}, "unit": "kelvin"}},
                {"name": "slow_echo", "arguments": {"text": "hi"}},
            ],
        },
        "Oslo is 3 degrees. TERMINATE",
    ]
    with LoopbackServer(replies=replies) as server:
        assistant = AssistantAgent(
            "assistant",
            llm_config={
                "config_list": [{"model": "m", "api_key": "k", "base_url": server.base_url}]
            },
        )
        user = UserProxyAgent(
            "user",
            human_input_mode="NEVER",
            code_execution_config=False,
            is_termination_msg=lambda m: "TERMINATE" in (m.get("content") or ""),
        )

        @user.register_for_execution()
        @assistant.register_for_llm(description="Current temperature in a place.")
        def weather(
            place: Annotated[Place, "where"], unit: Annotated[Unit, "temperature unit"]
        ) -> dict[str, object]:
            return {"city": place.city, "temperature": 3, "unit": unit.value}

        @user.register_for_execution()
        @assistant.register_for_llm(description="Echo after a pause.")
        async def slow_echo(text: str) -> str:
            await asyncio.sleep(0.01)
            return text.upper()

        events: list[Event] = []
        with observe(events.append):
            result = user.initiate_chat(assistant, message="Weather in Oslo?", silent=True)
        requests = [r.body for r in server.requests]

    first, second = requests
    assert first is not None and second is not None
    offered = {tool["function"]["name"]: tool["function"] for tool in first["tools"]}
    assert offered["weather"]["description"] == "Current temperature in a place."
    unit_schema = offered["weather"]["parameters"]
    assert "unit" in unit_schema["required"] and "place" in unit_schema["required"]
    # The three results went back as role=tool messages, in call order.
    tool_messages = [m for m in second["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["call_1_0", "call_1_1", "call_1_2"]
    assert '"temperature":3' in tool_messages[0]["content"].replace(" ", "")
    assert "kelvin" in tool_messages[1]["content"]  # invalid enum: an error the model can fix
    assert tool_messages[2]["content"] == "HI"
    returned = [e for e in events if isinstance(e, ToolReturned)]
    assert [(e.tool, e.is_error) for e in returned] == [
        ("weather", False),
        ("weather", True),
        ("slow_echo", False),
    ]
    assert len([e for e in events if isinstance(e, ToolCalled)]) == 3
    assert result.summary == "Oslo is 3 degrees. "


def test_tools_in_llm_config_are_sent_and_registered_tools_replace_them() -> None:
    def schema(name: str, description: str) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": name,
                "description": description,
                "parameters": {"type": "object", "properties": {}},
            },
        }

    model = ScriptedModel(["done"])
    assistant = ConversableAgent(
        "assistant",
        llm_config={
            "model_client": model,
            "tools": [schema("get_time", "by hand"), schema("get_date", "by hand")],
            "tool_choice": "auto",
        },
        human_input_mode="NEVER",
    )

    @assistant.register_for_llm(name="get_date", description="registered")
    def get_date() -> str:
        return "today"

    assistant.generate_reply([{"role": "user", "content": "what time is it?"}])

    request = model.requests[0]
    assert request.tools is not None
    assert [(t["function"]["name"], t["function"]["description"]) for t in request.tools] == [
        ("get_time", "by hand"),
        ("get_date", "registered"),
    ]
    assert request.tool_choice == "auto"


def test_registered_tools_show_in_the_agents_llm_config_as_in_autogen() -> None:
    by_hand = {
        "type": "function",
        "function": {"name": "add", "description": "by hand", "parameters": {"type": "object"}},
    }
    keep = {**by_hand, "function": {**by_hand["function"], "name": "keep"}}
    shared: dict[str, Any] = {"model_client": ScriptedModel(["done"]), "tools": [by_hand, keep]}
    assistant = ConversableAgent("assistant", llm_config=shared, human_input_mode="NEVER")
    other = ConversableAgent("other", llm_config=shared, human_input_mode="NEVER")

    @assistant.register_for_llm(description="Add two numbers.")
    def add(a: int, b: int) -> int:
        return a + b

    # As AutoGen's update_tool_signature: a tool of the same name is replaced, the new one last.
    assert assistant.llm_config["tools"] == [keep, assistant.tools[0].to_openai()]
    assert assistant.llm_config["tools"][1]["function"]["description"] == "Add two numbers."
    # The dict the agents were given (and so every other agent) is left alone.
    assert shared["tools"] == [by_hand, keep]
    assert other.llm_config["tools"] == [by_hand, keep]


def test_a_registered_tool_without_config_tools_starts_the_list() -> None:
    assistant = AssistantAgent("assistant", llm_config={"model_client": ScriptedModel([])})

    @assistant.register_for_llm(name="lookup", description="Look a word up.")
    def find(word: str) -> str:
        return word

    assert [t["function"]["name"] for t in assistant.llm_config["tools"]] == ["lookup"]
