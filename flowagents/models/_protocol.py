"""The one interface every model client implements, and its request/response records."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from flowagents.messages import Message


class Usage(BaseModel):
    """Tokens one call spent, attributed to the model that answered, and their cost in USD.

    ``cost`` is 0 when the client knows no price.
    """

    model_config = ConfigDict(frozen=True)

    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ModelRequest(BaseModel):
    """One chat completion request in OpenAI terms.

    ``messages`` are already in the wire form. ``response_format`` and ``tool_choice`` are
    passed through as the Chat Completions spec defines them. ``params`` holds the other
    sampling parameters (temperature, seed, max_tokens, ...).
    """

    model_config = ConfigDict(frozen=True)

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    params: dict[str, Any] = Field(default_factory=dict)


#: Finish reasons of an answer that did not end as the model meant it to.
CUT_SHORT = frozenset({"length", "content_filter"})


class ModelResponse(BaseModel):
    """What a model answered: one assistant message, its usage and finish reason."""

    model_config = ConfigDict(frozen=True)

    message: Message
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None
    cached: bool = False


@runtime_checkable
class ModelClient(Protocol):
    """Anything that turns a ModelRequest into a ModelResponse.

    ``model`` names the model (for cost and records); ``endpoint`` where it is served
    (for error messages and capability memory).
    """

    @property
    def model(self) -> str: ...

    @property
    def endpoint(self) -> str: ...

    async def create(self, request: ModelRequest) -> ModelResponse:
        """Answer one request, raising a ModelError subclass on failure."""
        ...
