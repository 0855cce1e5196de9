"""The loopback server, spoken to over real HTTP with urllib (no SDK in between)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest

import flowagents.testing as testing
from flowagents.testing import PROFILES, Fault, LoopbackServer

TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


def post(
    server: LoopbackServer,
    body: dict[str, Any],
    *,
    key: str = "k",
    timeout: float = 10,
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def chat(content: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": content}], **extra}


def test_exports_are_present() -> None:
    for name in testing.__all__:
        assert hasattr(testing, name)


def test_context_manager_serves_on_loopback_and_records_requests() -> None:
    with LoopbackServer(["hi you"]) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        status, headers, raw = post(server, chat())
        (seen,) = server.requests
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    body = json.loads(raw)
    assert body["object"] == "chat.completion"
    assert body["model"] == "m"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "hi you"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
    assert seen.method == "POST"
    assert seen.path == "/v1/chat/completions"
    assert seen.body == chat()
    assert seen.headers["authorization"] == "Bearer k"


def test_models_route_lists_the_model() -> None:
    with (
        LoopbackServer(model="tiny") as server,
        urllib.request.urlopen(f"{server.base_url}/models", timeout=10) as response,
    ):
        assert json.loads(response.read())["data"][0]["id"] == "tiny"


def test_without_a_script_it_echoes_and_a_used_up_script_is_an_error() -> None:
    with LoopbackServer() as server:
        _, _, raw = post(server, chat("say this"))
        assert json.loads(raw)["choices"][0]["message"]["content"] == "say this"
    with LoopbackServer(["only one"]) as server:
        post(server, chat())
        status, headers, raw = post(server, chat())
    assert status == 500
    assert headers["x-should-retry"] == "false"
    assert "no reply left" in json.loads(raw)["error"]["message"]


def test_reply_function_sees_the_parsed_body() -> None:
    def reply(body: dict[str, Any]) -> str:
        return f"you said {body['messages'][-1]['content']}"

    with LoopbackServer(reply) as server:
        _, _, raw = post(server, chat("ping"))
    assert json.loads(raw)["choices"][0]["message"]["content"] == "you said ping"


def test_tool_call_replies_get_ids_and_json_arguments() -> None:
    reply = {"tool_calls": [{"name": "lookup", "arguments": {"q": "x"}}]}
    with LoopbackServer([reply]) as server:
        _, _, raw = post(server, chat(tools=TOOLS))
    choice = json.loads(raw)["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_1_0",
            "type": "function",
            "function": {"name": "lookup", "arguments": '{"q": "x"}'},
        }
    ]


def test_full_body_replies_are_sent_as_they_are() -> None:
    body = {"choices": [{"message": {"role": "assistant", "content": "bare"}}]}
    with LoopbackServer([body]) as server:
        _, _, raw = post(server, chat())
    assert json.loads(raw) == body


def test_api_key_is_checked_when_given() -> None:
    with LoopbackServer(["ok"], api_key="right") as server:
        status, _, raw = post(server, chat(), key="wrong")
        assert status == 401
        assert json.loads(raw)["error"]["message"] == "Incorrect API key provided"
        assert post(server, chat(), key="right")[0] == 200


def test_status_faults_are_used_up_one_per_request() -> None:
    with LoopbackServer(["after"]) as server:
        server.inject(Fault(status=429, headers={"Retry-After": "3"}), Fault(status=503))
        first = post(server, chat())
        second = post(server, chat())
        third = post(server, chat())
    assert first[0] == 429
    assert first[1]["Retry-After"] == "3"
    assert json.loads(first[2])["error"]["type"] == "rate_limit_error"
    assert second[0] == 503
    assert third[0] == 200
    assert json.loads(third[2])["choices"][0]["message"]["content"] == "after"


def test_malformed_fault_answers_200_with_invalid_json() -> None:
    with LoopbackServer(["unused"]) as server:
        server.inject(Fault(malformed=True))
        status, _, raw = post(server, chat())
        assert server.remaining == 1
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(raw)


def test_delay_fault_answers_after_waiting() -> None:
    with LoopbackServer(["late"]) as server:
        server.inject(Fault(delay=0.05))
        status, _, raw = post(server, chat())
    assert status == 200
    assert json.loads(raw)["choices"][0]["message"]["content"] == "late"


def test_a_hanging_request_does_not_block_stop() -> None:
    outcome: list[object] = []
    server = LoopbackServer(["never"]).start()
    server.inject(Fault(hang=True))

    def call() -> None:
        try:
            outcome.append(post(server, chat(), timeout=30))
        except OSError as error:  # the connection closes without an answer
            outcome.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    while not server.requests:  # wait until the request is inside the server
        threading.Event().wait(0.01)
    server.stop()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert len(outcome) == 1
    assert not isinstance(outcome[0], tuple)


def test_streaming_sends_sse_chunks_with_tool_call_deltas_and_done() -> None:
    reply = {"content": "hello world", "tool_calls": [{"name": "lookup", "arguments": {"q": 1}}]}
    with LoopbackServer([reply]) as server:
        status, headers, raw = post(
            server, chat(stream=True, tools=TOOLS, stream_options={"include_usage": True})
        )
    assert status == 200
    assert headers["Content-Type"] == "text/event-stream"
    events = [line for line in raw.decode().split("\n\n") if line]
    assert all(event.startswith("data: ") for event in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(event[len("data: ") :]) for event in events[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("content") or "" for d in deltas) == "hello world"
    calls = [call for d in deltas for call in d.get("tool_calls", [])]
    assert calls[0]["id"] == "call_1_0"
    assert calls[0]["function"]["name"] == "lookup"
    assert "".join(c["function"]["arguments"] for c in calls) == '{"q": 1}'
    assert len(calls) > 2  # the arguments came in pieces
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 2


def _events(raw: bytes) -> list[Any]:
    """The ``data:`` payloads of an SSE body, JSON-decoded up to ``[DONE]``."""
    events = [line for line in raw.decode().split("\n\n") if line]
    assert all(event.startswith("data: ") for event in events)
    assert events[-1] == "data: [DONE]"
    return [json.loads(event[len("data: ") :]) for event in events[:-1]]


def test_chunks_replies_are_streamed_as_they_are() -> None:
    chunks: list[Any] = [{"choices": [{"delta": "not an object"}]}, ["odd"], {"usage": None}]
    with LoopbackServer([{"chunks": chunks}, {"chunks": chunks}]) as server:
        status, headers, raw = post(server, chat(stream=True))
        unstreamed, _, refusal = post(server, chat())
    assert (status, headers["Content-Type"]) == (200, "text/event-stream")
    assert _events(raw) == chunks
    assert unstreamed == 500
    assert "only a streamed request" in json.loads(refusal)["error"]["message"]


def test_an_error_body_to_a_streamed_request_is_an_error_event() -> None:
    error = {"error": {"message": "the model crashed", "type": "server_error"}}
    with LoopbackServer([error]) as server:
        status, _, raw = post(server, chat(stream=True))
    assert status == 200
    assert _events(raw) == [error]


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        LoopbackServer(profile="vllm")  # type: ignore[arg-type]


SCHEMA = {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}}
CASES: list[tuple[str, dict[str, Any]]] = [
    ("json_schema", {"response_format": SCHEMA}),
    ("json_object", {"response_format": {"type": "json_object"}}),
    ("tools", {"tools": TOOLS}),
    ("stream_tools", {"tools": TOOLS, "stream": True}),
    ("stream", {"stream": True}),
]
# Which of CASES each profile rejects with 400.
REJECTS = {
    "openai": set(),
    "no_json_schema": {"json_schema"},
    "no_tool_choice": set(),
    "no_stream_tools": {"stream_tools"},
    "text_only": {"json_schema", "json_object", "tools", "stream_tools"},
}


@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_accepts_and_rejects_as_documented(profile: Any) -> None:
    assert set(REJECTS) == set(PROFILES)
    with LoopbackServer(lambda body: "{}", profile=profile) as server:
        for case, extra in CASES:
            status, _, raw = post(server, chat(**extra))
            expected = 400 if case in REJECTS[profile] else 200
            assert status == expected, (profile, case, raw)
            if expected == 400:
                assert f"(profile {profile})" in json.loads(raw)["error"]["message"]


def test_rejected_requests_do_not_use_up_replies() -> None:
    with LoopbackServer(["kept"], profile="no_json_schema") as server:
        assert post(server, chat(response_format=SCHEMA))[0] == 400
        assert server.remaining == 1


FORCE = {"type": "function", "function": {"name": "lookup"}}


def test_openai_profile_honours_tool_choice() -> None:
    with LoopbackServer(['{"q": "x"}', {"tool_calls": [{"name": "lookup"}]}, "plain"]) as s:
        forced = json.loads(post(s, chat(tools=TOOLS, tool_choice=FORCE))[2])
        none = json.loads(post(s, chat(tools=TOOLS, tool_choice="none"))[2])
        status, _, raw = post(s, chat(tools=TOOLS, tool_choice="required"))
    call = forced["choices"][0]["message"]["tool_calls"][0]["function"]
    assert call == {"name": "lookup", "arguments": '{"q": "x"}'}
    assert "tool_calls" not in none["choices"][0]["message"]
    assert status == 500
    assert "not a JSON object" in json.loads(raw)["error"]["message"]


def test_no_tool_choice_profile_ignores_tool_choice() -> None:
    with LoopbackServer(['{"q": "x"}'], profile="no_tool_choice") as server:
        _, _, raw = post(server, chat(tools=TOOLS, tool_choice=FORCE))
    message = json.loads(raw)["choices"][0]["message"]
    assert message == {"role": "assistant", "content": '{"q": "x"}'}


def test_usage_can_be_left_out() -> None:
    with LoopbackServer(["x"], usage=False) as server:
        _, _, raw = post(server, chat())
    assert "usage" not in json.loads(raw)


@pytest.mark.loopback(replies=["from the marker"], api_key="m-key")
def test_fixture_takes_options_from_the_marker(loopback_server: LoopbackServer) -> None:
    status, _, raw = post(loopback_server, chat(), key="m-key")
    assert status == 200
    assert json.loads(raw)["choices"][0]["message"]["content"] == "from the marker"


def test_fixture_without_marker_echoes(loopback_server: LoopbackServer) -> None:
    loopback_server.add_replies("added")
    assert json.loads(post(loopback_server, chat())[2])["choices"][0]["message"]["content"] == (
        "added"
    )
