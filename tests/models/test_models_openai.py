"""OpenAIChatModel driving the real openai SDK over HTTP against the loopback server."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from flowagents.errors import (
    ConfigError,
    ModelAuthError,
    ModelRequestError,
    ModelResponseError,
    ModelTimeoutError,
    ModelUnavailableError,
)
from flowagents.messages import ToolCall
from flowagents.models import ModelCapabilities, ModelRequest, ModelResponse, OpenAIChatModel
from flowagents.models._openai import shared_client
from flowagents.testing import Fault, LoopbackServer

TOOLS = [
    {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "fetch", "parameters": {"type": "object"}}},
]
SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "next_speaker",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"speaker": {"type": "string", "enum": ["alice", "bob"]}},
            "required": ["speaker"],
            "additionalProperties": False,
        },
    },
}


def ask(content: str = "hello there", **fields: Any) -> ModelRequest:
    return ModelRequest(messages=[{"role": "user", "content": content}], **fields)


def model_for(server: LoopbackServer, **options: Any) -> OpenAIChatModel:
    options.setdefault("api_key", "k")
    return OpenAIChatModel("gpt-x", base_url=server.base_url, **options)


def run(model: OpenAIChatModel, request: ModelRequest) -> ModelResponse:
    return asyncio.run(model.create(request))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_plain_reply_with_usage() -> None:
    with LoopbackServer(["hi you"]) as server:
        model = model_for(server)
        response = run(model, ask())
        (seen,) = server.requests
    assert model.endpoint == server.base_url
    assert response.message.role == "assistant"
    assert response.message.content == "hi you"
    assert response.message.tool_calls is None
    assert response.finish_reason == "stop"
    assert response.usage.model == "gpt-x"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (2, 2)
    assert seen.body is not None
    assert seen.body["model"] == "gpt-x"
    assert seen.body["messages"] == [{"role": "user", "content": "hello there"}]
    assert "stream" not in seen.body
    assert seen.headers["authorization"] == "Bearer k"


def test_tool_calls_are_parsed_into_the_message() -> None:
    reply = {
        "tool_calls": [
            {"name": "lookup", "arguments": {"q": "x"}},
            {"id": "own-id", "name": "fetch", "arguments": "{}"},
        ]
    }
    with LoopbackServer([reply]) as server:
        response = run(model_for(server), ask(tools=TOOLS, tool_choice="auto"))
        body = server.requests[0].body
    assert response.message.content is None
    assert response.message.tool_calls == [
        ToolCall(id="call_1_0", name="lookup", arguments='{"q": "x"}'),
        ToolCall(id="own-id", name="fetch", arguments="{}"),
    ]
    assert response.finish_reason == "tool_calls"
    assert body is not None
    assert body["tools"] == TOOLS
    assert body["tool_choice"] == "auto"


def test_tool_choice_is_not_sent_without_tools() -> None:
    with LoopbackServer(["ok"]) as server:
        run(model_for(server), ask(tool_choice="auto"))
        body = server.requests[0].body
    assert body is not None
    assert "tool_choice" not in body


@pytest.mark.parametrize("response_format", [SCHEMA, {"type": "json_object"}])
def test_response_format_reaches_the_server_intact(response_format: dict[str, Any]) -> None:
    with LoopbackServer(['{"speaker": "bob"}']) as server:
        response = run(model_for(server), ask(response_format=response_format))
        body = server.requests[0].body
    assert body is not None
    assert body["response_format"] == response_format
    assert response.message.content == '{"speaker": "bob"}'


def test_default_params_request_params_and_extra_params() -> None:
    with LoopbackServer(["a", "b"]) as server:
        model = model_for(server, temperature=0.5, seed=7, params={"top_k": 3}, top_p=0.9)
        run(model, ask())
        run(model, ask(params={"temperature": 0, "stop": ["END"], "min_p": 0.1}))
        first, second = (r.body for r in server.requests)
    assert first is not None
    assert second is not None
    assert (first["temperature"], first["seed"], first["top_k"], first["top_p"]) == (0.5, 7, 3, 0.9)
    assert (second["temperature"], second["seed"], second["top_k"]) == (0, 7, 3)
    assert (second["stop"], second["min_p"]) == (["END"], 0.1)


def test_streaming_assembles_text_and_usage() -> None:
    with LoopbackServer(["a longer streamed answer"]) as server:
        response = run(model_for(server, stream=True), ask())
        body = server.requests[0].body
    assert body is not None
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert response.message.content == "a longer streamed answer"
    assert response.finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (2, 4)


def test_streaming_assembles_tool_calls() -> None:
    reply = {
        "content": "let me look",
        "tool_calls": [
            {"name": "lookup", "arguments": {"query": "a fairly long query"}},
            {"name": "fetch", "arguments": {"url": "http://x"}},
        ],
    }
    with LoopbackServer([reply]) as server:
        response = run(model_for(server, stream=True), ask(tools=TOOLS))
    assert response.message.content == "let me look"
    assert response.message.tool_calls == [
        ToolCall(id="call_1_0", name="lookup", arguments='{"query": "a fairly long query"}'),
        ToolCall(id="call_1_1", name="fetch", arguments='{"url": "http://x"}'),
    ]
    assert response.finish_reason == "tool_calls"


def test_missing_usage_gives_zero_tokens() -> None:
    with LoopbackServer(["x", "y"], usage=False) as server:
        plain = run(model_for(server), ask())
        streamed = run(model_for(server, stream=True), ask())
    for response in (plain, streamed):
        assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (0, 0)
        assert response.usage.model == "gpt-x"


def test_lenient_bodies_from_local_servers() -> None:
    # No id, no usage, no finish_reason, content null with tool calls, arguments as an object.
    body = {
        "model": "served-name",
        "choices": [
            {
                "message": {
                    "content": None,
                    "tool_calls": [{"function": {"name": "lookup", "arguments": {"q": 1}}}],
                }
            }
        ],
    }
    with LoopbackServer([body]) as server:
        response = run(model_for(server), ask(tools=TOOLS))
    assert response.message.tool_calls == [
        ToolCall(id="call_0", name="lookup", arguments='{"q": 1}')
    ]
    assert response.message.content is None
    assert response.finish_reason is None
    assert response.usage.model == "served-name"
    assert response.usage.total_tokens == 0


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"id": "x", "choices": []}, "no choices"),
        ({"id": "x", "choices": None}, "no choices"),
        ({"choices": ["text"]}, "no choices"),
        ({"choices": [{"index": 0}]}, "no message"),
    ],
)
def test_unusable_completions_raise_model_response_error(body: dict[str, Any], why: str) -> None:
    with LoopbackServer([body]) as server, pytest.raises(ModelResponseError, match=why) as caught:
        run(model_for(server), ask())
    assert caught.value.endpoint == server.base_url
    assert caught.value.model == "gpt-x"


def _message(message: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}


def _chunks(*deltas: Any) -> dict[str, Any]:
    return {"chunks": [{"choices": [{"index": 0, "delta": d}]} for d in deltas]}


@pytest.mark.parametrize(
    ("stream", "reply", "why"),
    [
        (False, _message({"tool_calls": [{"id": "a", "function": "lookup"}]}), "tool call 0"),
        (False, _message({"tool_calls": "lookup"}), "tool_calls is str"),
        (False, _message({"tool_calls": [{"function": {"name": ["x"]}}]}), "name is list"),
        (False, _message({"content": None, "function_call": "lookup"}), "function_call"),
        (True, _chunks("text"), "delta is str"),
        (True, _chunks({"tool_calls": [{"index": 0, "function": "x"}]}), "tool call 0"),
        (True, _chunks({"tool_calls": "x"}), "tool_calls is str"),
        (True, {"chunks": [{"choices": "x"}]}, "choices is str"),
        (True, {"chunks": [{"choices": [{"index": 0, "delta": {}}]}, "text"]}, "str"),
    ],
)
def test_garbage_inside_an_answer_is_a_model_response_error(
    stream: bool, reply: dict[str, Any], why: str
) -> None:
    with (
        LoopbackServer([reply]) as server,
        pytest.raises(ModelResponseError, match=why) as caught,
    ):
        run(model_for(server, stream=stream), ask(tools=TOOLS))
    assert caught.value.endpoint == server.base_url
    assert caught.value.model == "gpt-x"


@pytest.mark.parametrize("stream", [False, True])
def test_token_counts_that_are_not_numbers_count_as_zero(stream: bool) -> None:
    usage = {"prompt_tokens": "many", "completion_tokens": "7", "total_tokens": [1]}
    if stream:
        delta = {"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}
        reply: dict[str, Any] = {"chunks": [delta, {"choices": [], "usage": usage}]}
    else:
        reply = {**_message({"content": "hi"}), "usage": usage}
    with LoopbackServer([reply]) as server:
        response = run(model_for(server, stream=stream), ask())
    assert response.message.content == "hi"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (0, 7)


@pytest.mark.parametrize("stream", [False, True])
def test_an_error_object_mid_stream_is_a_model_response_error(stream: bool) -> None:
    body = {"error": {"message": "the model crashed", "type": "server_error"}}
    with LoopbackServer([body]) as server, pytest.raises(ModelResponseError) as caught:
        run(model_for(server, stream=stream), ask())
    assert "the model crashed" in str(caught.value)
    assert server.base_url in str(caught.value)


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"timeout": "soon"}, "timeout must be a positive number of seconds, got 'soon'"),
        ({"timeout": 0}, "timeout must be a positive number of seconds, got 0"),
        ({"timeout": True}, "timeout must be a positive number of seconds, got True"),
        ({"max_retries": -1}, "max_retries must be a whole number >= 0, got -1"),
        ({"max_retries": "2"}, "max_retries must be a whole number >= 0, got '2'"),
    ],
)
def test_a_bad_timeout_or_max_retries_is_a_config_error_at_once(
    options: dict[str, Any], why: str
) -> None:
    # A graph file's params reach the constructor unchecked: fail there, not at the
    # first call with a TypeError from inside the SDK.
    with pytest.raises(ConfigError, match=why) as caught:
        OpenAIChatModel("gpt-x", base_url="http://127.0.0.1:9/v1", **options)
    assert "model gpt-x at http://127.0.0.1:9/v1" in str(caught.value)


def test_an_error_object_in_a_200_body_is_named_in_the_error() -> None:
    body = {"error": {"message": "model 'gpt-x' is loading", "type": "server_error"}}
    with LoopbackServer([body]) as server, pytest.raises(ModelResponseError) as caught:
        run(model_for(server), ask())
    assert "no choices; its error: model 'gpt-x' is loading" in str(caught.value)


@pytest.mark.parametrize("stream", [False, True])
def test_a_refusal_is_the_text_of_the_answer(stream: bool) -> None:
    refusal = {"content": None, "refusal": "I can't help with that."}
    with LoopbackServer([refusal]) as server:
        response = run(model_for(server, stream=stream), ask())
    assert response.message.text == "I can't help with that."
    assert response.message.metadata == {"refusal": True}


def test_each_model_keeps_its_own_capabilities() -> None:
    shared = ModelCapabilities()
    call = {"tool_calls": [{"name": "lookup", "arguments": {"q": 1}}]}
    with LoopbackServer([call], profile="no_stream_tools") as server:
        learner = model_for(server, stream=True, capabilities=shared)
        other = OpenAIChatModel("gpt-x", base_url="http://127.0.0.1:9/v1", capabilities=shared)
        run(learner, ask(tools=TOOLS))
    assert learner.capabilities.stream_tools is False
    assert other.capabilities.stream_tools is None
    assert shared.stream_tools is None


def test_malformed_json_body_raises_model_response_error() -> None:
    with LoopbackServer(["unused"]) as server:
        server.inject(Fault(malformed=True))
        with pytest.raises(ModelResponseError, match="not JSON") as caught:
            run(model_for(server), ask())
    assert server.base_url in str(caught.value)


@pytest.mark.parametrize("stream", [False, True])
def test_429_with_retry_after_then_success(stream: bool) -> None:
    with LoopbackServer(["after the wait"]) as server:
        server.inject(Fault(status=429, headers={"Retry-After": "0"}))
        response = run(model_for(server, max_retries=2, stream=stream), ask())
        assert len(server.requests) == 2
    assert response.message.content == "after the wait"


def test_500_then_success() -> None:
    with LoopbackServer(["recovered"]) as server:
        server.inject(Fault(status=500, headers={"retry-after-ms": "1"}))
        response = run(model_for(server, max_retries=1), ask())
        assert len(server.requests) == 2
    assert response.message.content == "recovered"


def test_5xx_after_all_retries_is_unavailable() -> None:
    with LoopbackServer(["never"]) as server:
        server.inject(*[Fault(status=503, headers={"retry-after-ms": "1"})] * 2)
        with pytest.raises(ModelUnavailableError, match="503 Service Unavailable") as caught:
            run(model_for(server, max_retries=1), ask())
        assert len(server.requests) == 2
    assert caught.value.status == 503


def test_hanging_server_hits_the_timeout() -> None:
    with LoopbackServer(["never"]) as server:
        server.inject(Fault(hang=True))
        model = model_for(server, timeout=0.5, max_retries=0)
        with pytest.raises(ModelTimeoutError, match=r"no answer within 0\.5 s") as caught:
            run(model, ask())
    assert caught.value.endpoint == server.base_url


def test_401_is_one_clear_auth_error_naming_endpoint_and_model() -> None:
    with LoopbackServer(["never"], api_key="right") as server:
        with pytest.raises(ModelAuthError) as caught:
            run(model_for(server, api_key="wrong"), ask())
        assert len(server.requests) == 1  # not retried
    text = str(caught.value)
    assert text == (
        f"model gpt-x at {server.base_url}: 401 Unauthorized: check api_key / OPENAI_API_KEY "
        "(server said: Incorrect API key provided)"
    )
    assert caught.value.status == 401


def test_403_is_an_auth_error() -> None:
    with LoopbackServer(["never"]) as server:
        server.inject(Fault(status=403))
        with pytest.raises(ModelAuthError, match="403 Forbidden"):
            run(model_for(server), ask())


@pytest.mark.parametrize("status", [400, 404, 422])
def test_rejected_requests_raise_model_request_error_with_status(status: int) -> None:
    with LoopbackServer(["never"]) as server:
        server.inject(Fault(status=status, message="nope"))
        with pytest.raises(ModelRequestError, match="server said: nope") as caught:
            run(model_for(server), ask())
    assert caught.value.status == status


def test_dropped_connection_after_retries_is_unavailable() -> None:
    with LoopbackServer(["never"]) as server:
        server.inject(Fault(disconnect=True))
        with pytest.raises(ModelUnavailableError, match="cannot connect"):
            run(model_for(server, max_retries=0), ask())


def test_refused_connection_is_unavailable() -> None:
    model = OpenAIChatModel(
        "gpt-x", base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="k", max_retries=0
    )
    with pytest.raises(ModelUnavailableError, match="cannot connect"):
        run(model, ask())


def test_one_sdk_client_per_endpoint_and_key_and_reuse_across_runs() -> None:
    async def clients(url: str) -> tuple[object, object, object]:
        return (
            await shared_client(url, "k"),
            await shared_client(url, "k"),
            await shared_client(url, "other"),
        )

    with LoopbackServer(["one", "two", "three"]) as server:
        first, same, other = asyncio.run(clients(server.base_url))
        model = model_for(server)
        answers = [run(model, ask()).message.content for _ in range(2)]

        async def both() -> list[ModelResponse]:
            return [await model.create(ask())]

        answers += [r.message.content for r in asyncio.run(both())]
    assert first is same
    assert first is not other
    assert answers == ["one", "two", "three"]


def test_env_vars_give_key_and_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    with LoopbackServer(["from env"], api_key="env-key") as server:
        monkeypatch.setenv("OPENAI_API_KEY", "env-key")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        model = OpenAIChatModel("gpt-x")
        assert run(model, ask()).message.content == "from env"
    assert model.endpoint == server.base_url


# -- capability profiles seen through the client ------------------------------------------


def test_no_json_schema_profile_gives_a_request_error_json_object_works() -> None:
    with LoopbackServer(['{"speaker": "bob"}'], profile="no_json_schema") as server:
        model = model_for(server)
        with pytest.raises(ModelRequestError, match="json_schema") as caught:
            run(model, ask(response_format=SCHEMA))
        fallback = run(model, ask(response_format={"type": "json_object"}))
    assert caught.value.status == 400
    assert fallback.message.content == '{"speaker": "bob"}'


def test_text_only_profile_rejects_tools_and_response_format() -> None:
    with LoopbackServer(["plain"], profile="text_only") as server:
        model = model_for(server)
        for request in (ask(tools=TOOLS), ask(response_format={"type": "json_object"})):
            with pytest.raises(ModelRequestError) as caught:
                run(model, request)
            assert caught.value.status == 400
        assert run(model, ask()).message.content == "plain"


@pytest.mark.parametrize(("profile", "forced"), [("openai", True), ("no_tool_choice", False)])
def test_tool_choice_honoured_or_ignored(profile: Any, forced: bool) -> None:
    choice = {"type": "function", "function": {"name": "lookup"}}
    with LoopbackServer(['{"q": "x"}'], profile=profile) as server:
        response = run(model_for(server), ask(tools=TOOLS, tool_choice=choice))
    if forced:
        assert response.message.tool_calls is not None
        assert response.message.tool_calls[0].arguments == '{"q": "x"}'
    else:
        assert response.message.tool_calls is None
        assert response.message.content == '{"q": "x"}'


def test_no_stream_tools_profile_falls_back_to_unstreamed_and_remembers() -> None:
    call = {"tool_calls": [{"name": "lookup", "arguments": {"q": 1}}]}
    with LoopbackServer([call, call, "streamed"], profile="no_stream_tools") as server:
        model = model_for(server, stream=True)
        first = run(model, ask(tools=TOOLS))
        second = run(model, ask(tools=TOOLS))
        third = run(model, ask())
        streamed = [bool(r.body and r.body.get("stream")) for r in server.requests]
    for response in (first, second):
        assert response.message.tool_calls is not None
        assert [(c.name, c.arguments) for c in response.message.tool_calls] == [
            ("lookup", '{"q": 1}')
        ]
    assert model.capabilities.stream_tools is False
    # 400 streamed, the same unstreamed, then unstreamed at once; no tools: streamed again.
    assert streamed == [True, False, False, True]
    assert third.message.content == "streamed"


def test_aclose_closes_now_and_the_next_call_opens_a_new_client() -> None:
    with LoopbackServer(["one", "two", "three"]) as server:
        first, second = model_for(server), model_for(server, temperature=0)

        async def calls() -> list[str]:
            answers = [(await first.create(ask())).message.text]
            before = await shared_client(server.base_url, "k")
            await first.aclose()
            answers.append((await second.create(ask())).message.text)
            answers.append((await first.create(ask())).message.text)
            assert await shared_client(server.base_url, "k") is not before
            return answers

        assert asyncio.run(calls()) == ["one", "two", "three"]
