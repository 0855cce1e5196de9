"""What the loopback server answers: scripted replies turned into Chat Completions bodies.

Pure functions of the parsed request, so the HTTP layer in ``_loopback.py`` only moves bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, TypeAlias

from flowagents.models._scripted import Reply, tool_call_dict, usage_numbers

ReplyFunction: TypeAlias = Callable[[dict[str, Any]], Reply]
Profile: TypeAlias = Literal[
    "openai", "no_json_schema", "no_tool_choice", "no_stream_tools", "text_only"
]
PROFILES: tuple[Profile, ...] = (
    "openai",
    "no_json_schema",
    "no_tool_choice",
    "no_stream_tools",
    "text_only",
)

# A fixed creation time keeps bodies identical across runs.
CREATED = 1_700_000_000


class ScriptError(Exception):
    """The scripted reply cannot answer this request (a mistake in the test's script)."""


def check_profile(profile: Profile, body: Mapping[str, Any]) -> str | None:
    """Return the 400 message ``profile`` answers to ``body``, or None to accept it."""
    response_format = body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if profile == "no_json_schema" and kind == "json_schema":
        return "response_format type 'json_schema' is not supported by this server"
    if profile == "text_only":
        if body.get("tools"):
            return "tools are not supported by this server"
        if response_format is not None:
            return "response_format is not supported by this server"
    if profile == "no_stream_tools" and body.get("stream") and body.get("tools"):
        return "streaming is not supported together with tools by this server"
    return None


def _forced_tool(body: Mapping[str, Any]) -> str | None:
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        function = choice.get("function")
        if isinstance(function, dict) and function.get("name"):
            return str(function["name"])
    if choice == "required":
        tools = body.get("tools") or [{}]
        return str(tools[0].get("function", {}).get("name", ""))
    return None


def apply_tool_choice(message: dict[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """Honour ``tool_choice`` as OpenAI does (``none`` drops calls, a forced call is made).

    A forced call turns a scripted text reply that is a JSON object into the call's arguments.
    """
    if body.get("tool_choice") == "none" and message.get("tool_calls"):
        return {"role": "assistant", "content": message.get("content") or ""}
    name = _forced_tool(body)
    if name is None or message.get("tool_calls"):
        return message
    text = message.get("content") or ""
    try:
        arguments = json.loads(text)
    except ValueError:
        arguments = None
    if not isinstance(arguments, dict):
        raise ScriptError(
            f"tool_choice forces a call to {name!r} but the scripted reply is text that is not "
            f"a JSON object: {text[:80]!r}"
        )
    call = tool_call_dict({"name": name, "arguments": arguments}, "call_forced")
    return {"role": "assistant", "content": None, "tool_calls": [call]}


def completion_body(
    body: Mapping[str, Any], message: dict[str, Any], number: int, *, usage: bool
) -> dict[str, Any]:
    """Return a complete ``chat.completion`` object answering ``body`` with ``message``."""
    out: dict[str, Any] = {
        "id": f"chatcmpl-loopback-{number}",
        "object": "chat.completion",
        "created": CREATED,
        "model": body.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                "logprobs": None,
            }
        ],
    }
    if usage:
        out["usage"] = usage_numbers(body, message)
    return out


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def stream_chunks(
    body: Mapping[str, Any], message: dict[str, Any], number: int, *, usage: bool
) -> Iterator[dict[str, Any]]:
    """Yield the ``chat.completion.chunk`` objects of a streamed answer, as OpenAI does.

    Content arrives in small pieces; each tool call first with its id and name, then its
    arguments in pieces; usage in a last chunk without choices when the request asked for it.
    """
    header = {
        "id": f"chatcmpl-loopback-{number}",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": body.get("model", ""),
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return {**header, "choices": [choice]}

    yield chunk({"role": "assistant", "content": ""})
    content = message.get("content")
    if isinstance(content, str) and content:
        for piece in _pieces(content, 4):
            yield chunk({"content": piece})
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        for piece in _pieces(refusal, 4):
            yield chunk({"refusal": piece})
    calls = message.get("tool_calls") or []
    for index, call in enumerate(calls):
        first = {"index": index, "id": call["id"], "type": "function"}
        first["function"] = {"name": call["function"]["name"], "arguments": ""}
        yield chunk({"tool_calls": [first]})
        for piece in _pieces(call["function"]["arguments"], 5):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, "tool_calls" if calls else "stop")
    options = body.get("stream_options")
    if usage and isinstance(options, dict) and options.get("include_usage"):
        yield {**header, "choices": [], "usage": usage_numbers(body, message)}


def error_body(message: str, status: int) -> dict[str, Any]:
    """Return an OpenAI-style error object."""
    kinds = {401: "invalid_request_error", 429: "rate_limit_error"}
    kind = kinds.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}
