"""An in-process model with scripted answers, for fast tests and offline runs."""

from __future__ import annotations

import inspect
import itertools
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeAlias

from flowagents.errors import ModelResponseError
from flowagents.messages import Message
from flowagents.models._protocol import ModelRequest, ModelResponse, Usage

Reply: TypeAlias = str | Mapping[str, Any]
"""A scripted reply: text, or an OpenAI assistant message dict (tool calls in either form)."""
ScriptedAnswer: TypeAlias = str | Message | ModelResponse | dict[str, Any] | BaseException
ScriptedFunction: TypeAlias = Callable[[ModelRequest], ScriptedAnswer | Awaitable[ScriptedAnswer]]

_INSTANCES = itertools.count(1)


class ScriptedModel:
    """Answers from a list (in order) or from a function of the request.

    Answers may be text, a Message, a ModelResponse, an OpenAI message dict (tool calls in the
    OpenAI or the short ``{name, arguments}`` form, as the loopback server takes them), or an
    exception to raise. Every request is kept in ``requests``. Usage is counted in words, as the
    loopback server counts it, so that budgets and cost reports have something deterministic
    to add up and a script gives the same figures in process and over the wire.
    """

    def __init__(
        self,
        replies: Iterable[ScriptedAnswer] | ScriptedFunction,
        *,
        model: str = "scripted",
        repeat_last: bool = False,
    ) -> None:
        self._function: ScriptedFunction | None = None
        self._replies: list[ScriptedAnswer] = []
        if callable(replies):
            self._function = replies
        else:
            self._replies = list(replies)
        self._model = model
        self._repeat_last = repeat_last
        self._position = 0
        self._endpoint = f"scripted://local/{next(_INSTANCES)}"
        self.requests: list[ModelRequest] = []

    @property
    def model(self) -> str:
        return self._model

    @property
    def endpoint(self) -> str:
        """``scripted://local/<n>``: each instance is an endpoint of its own."""
        return self._endpoint

    @property
    def remaining(self) -> int:
        """How many scripted replies are still unused (0 for a function)."""
        return max(0, len(self._replies) - self._position)

    async def create(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        answer = await self._next_answer(request)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, ModelResponse):
            return answer
        if isinstance(answer, Message):
            message = answer
            wire = answer.to_openai()[0]
        else:
            wire = reply_message(answer, len(self.requests))
            message = Message.from_openai(wire)
        counted = usage_numbers({"messages": request.messages}, wire)
        return ModelResponse(
            message=message,
            usage=Usage(
                model=self._model,
                prompt_tokens=counted["prompt_tokens"],
                completion_tokens=counted["completion_tokens"],
            ),
            finish_reason="tool_calls" if message.tool_calls else "stop",
        )

    async def _next_answer(self, request: ModelRequest) -> ScriptedAnswer:
        if self._function is not None:
            result = self._function(request)
            if inspect.isawaitable(result):
                return await result
            return result
        if self._position >= len(self._replies):
            if self._repeat_last and self._replies:
                return self._replies[-1]
            raise ModelResponseError(
                f"the script has no reply left (it had {len(self._replies)})",
                endpoint=self.endpoint,
                model=self._model,
            )
        answer = self._replies[self._position]
        self._position += 1
        return answer


# -- what a scripted reply means, in process and over the loopback server's wire -------------


def _words(value: object) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_words(part.get("text")) for part in value if isinstance(part, dict))
    return 0


def prompt_tokens(body: Mapping[str, Any]) -> int:
    """Whitespace-separated words of every message content: deterministic usage numbers."""
    messages = body.get("messages") or []
    return sum(_words(m.get("content")) for m in messages if isinstance(m, dict))


def completion_tokens(message: Mapping[str, Any]) -> int:
    """Words of the content and of every tool call's arguments."""
    calls = message.get("tool_calls") or []
    arguments = sum(_words(str(c.get("function", {}).get("arguments", ""))) for c in calls)
    return _words(message.get("content")) + arguments


def tool_call_dict(raw: Mapping[str, Any], call_id: str) -> dict[str, Any]:
    """A scripted tool call (OpenAI form, or the short ``{name, arguments}``) in OpenAI form."""
    if "function" in raw:
        function = dict(raw["function"])
        name = function.get("name", "")
        arguments = function.get("arguments", "{}")
    else:
        name = raw.get("name", "")
        arguments = raw.get("arguments", "{}")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {
        "id": raw.get("id") or call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def reply_message(reply: Reply, number: int) -> dict[str, Any]:
    """The assistant message (OpenAI form) of a scripted reply; call ids ``call_<number>_<i>``."""
    if isinstance(reply, str):
        return {"role": "assistant", "content": reply}
    raw_calls = reply.get("tool_calls") or []
    calls = [tool_call_dict(c, f"call_{number}_{i}") for i, c in enumerate(raw_calls)]
    message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
    if reply.get("refusal"):
        message["refusal"] = reply["refusal"]
    if calls:
        message["tool_calls"] = calls
    return message


def usage_numbers(body: Mapping[str, Any], message: Mapping[str, Any]) -> dict[str, int]:
    """The usage of answering ``message`` to ``body``, counted in words."""
    prompt = prompt_tokens(body)
    completion = completion_tokens(message)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
