"""One suite every ModelClient passes: the scripted fake and the OpenAI client over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flowagents.errors import ModelError
from flowagents.models import ModelClient, ModelRequest, OpenAIChatModel, ScriptedModel
from flowagents.testing import LoopbackServer

Factory = Callable[[list[Any]], ModelClient]
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


@pytest.fixture(params=["scripted", "openai", "openai-stream"])
def make_client(request: pytest.FixtureRequest) -> Iterator[Factory]:
    servers: list[LoopbackServer] = []

    def make(replies: list[Any]) -> ModelClient:
        if request.param == "scripted":
            return ScriptedModel(replies, model="m")
        server = LoopbackServer(replies).start()
        servers.append(server)
        stream = request.param == "openai-stream"
        return OpenAIChatModel("m", base_url=server.base_url, api_key="k", stream=stream)

    yield make
    for server in servers:
        server.stop()


def ask(client: ModelClient, **fields: Any) -> Any:
    request = ModelRequest(messages=[{"role": "user", "content": "one two three"}], **fields)
    return asyncio.run(client.create(request))


def test_is_a_model_client(make_client: Factory) -> None:
    client = make_client(["x"])
    assert isinstance(client, ModelClient)
    assert client.model == "m"
    assert client.endpoint


def test_text_answer(make_client: Factory) -> None:
    response = ask(make_client(["four five"]))
    assert response.message.role == "assistant"
    assert response.message.text == "four five"
    assert response.finish_reason == "stop"
    assert response.usage.model == "m"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (3, 2)


def test_tool_call_answer(make_client: Factory) -> None:
    reply = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
        ],
    }
    response = ask(make_client([reply]), tools=TOOLS)
    assert response.finish_reason == "tool_calls"
    assert response.message.tool_calls is not None
    assert [(c.id, c.name, c.arguments) for c in response.message.tool_calls] == [
        ("c1", "lookup", "{}")
    ]


def test_a_used_up_script_is_a_model_error(make_client: Factory) -> None:
    client = make_client(["only"])
    ask(client)
    with pytest.raises(ModelError):
        ask(client)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ({"name": "lookup", "arguments": {"q": "x y"}}, ("call_1_0", "lookup", '{"q": "x y"}')),
        (
            {"id": "c9", "type": "function", "function": {"name": "lookup", "arguments": {"q": 1}}},
            ("c9", "lookup", '{"q": 1}'),
        ),
    ],
    ids=["short-form", "object-arguments"],
)
def test_tool_call_forms_and_their_usage(
    make_client: Factory, call: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    response = ask(make_client([{"tool_calls": [call]}]), tools=TOOLS)
    assert response.message.tool_calls is not None
    assert [(c.id, c.name, c.arguments) for c in response.message.tool_calls] == [expected]
    # Usage counts words, the arguments' included, the same in process and over the wire.
    arguments_words = len(expected[2].split())
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (
        3,
        arguments_words,
    )


def test_prompt_tokens_count_the_text_parts_of_list_content(make_client: Factory) -> None:
    client = make_client(["ok"])
    parts = [{"type": "text", "text": "one two"}, {"type": "image_url", "image_url": {"url": "u"}}]
    request = ModelRequest(messages=[{"role": "user", "content": parts}])
    response = asyncio.run(client.create(request))
    assert response.usage.prompt_tokens == 2


def test_a_refusal_is_the_answers_text(make_client: Factory) -> None:
    response = ask(make_client([{"content": None, "refusal": "No."}]))
    assert (response.message.text, response.message.metadata) == ("No.", {"refusal": True})


def test_every_scripted_model_is_an_endpoint_of_its_own() -> None:
    assert ScriptedModel(["x"]).endpoint != ScriptedModel(["x"]).endpoint
