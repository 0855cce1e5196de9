"""An in-process model with scripted answers, for fast tests and offline runs."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeAlias

from flowagents.errors import ModelResponseError
from flowagents.messages import Message
from flowagents.models._protocol import ModelRequest, ModelResponse, Usage

ScriptedAnswer: TypeAlias = str | Message | ModelResponse | dict[str, Any] | BaseException
ScriptedFunction: TypeAlias = Callable[[ModelRequest], ScriptedAnswer | Awaitable[ScriptedAnswer]]


class ScriptedModel:
    """Answers from a list (in order) or from a function of the request.

    Answers may be text, a Message, a ModelResponse, an OpenAI message dict, or an exception
    to raise. Every request is kept in ``requests``. Usage is counted as whitespace-separated
    words so that budgets and cost reports have something deterministic to add up.
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
        self.requests: list[ModelRequest] = []

    @property
    def model(self) -> str:
        return self._model

    @property
    def endpoint(self) -> str:
        return "scripted://local"

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
        if isinstance(answer, str):
            message = Message(role="assistant", content=answer)
        elif isinstance(answer, Message):
            message = answer
        else:
            message = Message.from_openai(answer)
        prompt_words = sum(len(str(m.get("content") or "").split()) for m in request.messages)
        return ModelResponse(
            message=message,
            usage=Usage(
                model=self._model,
                prompt_tokens=prompt_words,
                completion_tokens=len(message.text.split()),
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
