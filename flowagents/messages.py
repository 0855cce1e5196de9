"""Chat messages, lossless to and from the OpenAI Chat Completions format.

One ``Message`` is one turn of a conversation. Tool results follow the convention of the
AutoGen API: one message with ``role="tool"`` may carry several ``tool_responses``; in the
OpenAI format each becomes its own ``role: tool`` message. ``to_openai`` and
``messages_from_openai`` are inverse to each other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Message",
    "Role",
    "ToolCall",
    "ToolResponse",
    "messages_from_openai",
    "messages_to_openai",
]

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """A function call a model asked for; ``arguments`` is the raw JSON text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    arguments: str = "{}"

    def to_openai(self) -> dict[str, Any]:
        """The Chat Completions ``tool_calls`` entry."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }

    @classmethod
    def from_openai(cls, data: Mapping[str, Any]) -> ToolCall:
        """Read a Chat Completions ``tool_calls`` entry."""
        function = data.get("function") or {}
        return cls(
            id=str(data.get("id", "")),
            name=str(function.get("name", "")),
            arguments=arguments_text(function.get("arguments")) or "{}",
        )


def arguments_text(value: object) -> str:
    """Tool-call arguments as JSON text; some servers send an object instead ("" for none)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


class ToolResponse(BaseModel):
    """The result of one tool call, answered to the model as a ``role: tool`` message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool_call_id: str
    content: str
    name: str | None = None
    is_error: bool = False


class Message(BaseModel):
    """One message of a conversation.

    ``name`` is the speaking agent. ``metadata`` is ours (never sent to a model): step id,
    cost, flags such as ``cached``.
    """

    model_config = ConfigDict(extra="forbid")

    role: Role = "assistant"
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_responses: list[ToolResponse] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def text(self) -> str:
        """The content as plain text (text parts joined; empty when there is none)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(str(part.get("text", "")) for part in self.content if isinstance(part, dict))

    def to_openai(self) -> list[dict[str, Any]]:
        """The OpenAI wire form: one dict, or one per tool response."""
        if self.tool_responses:
            return [
                {"role": "tool", "tool_call_id": r.tool_call_id, "content": r.content}
                for r in self.tool_responses
            ]
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name is not None:
            out["name"] = self.name
        if self.tool_calls:
            out["tool_calls"] = [call.to_openai() for call in self.tool_calls]
        return [out]

    @classmethod
    def from_openai(cls, data: Mapping[str, Any]) -> Message:
        """Read one OpenAI message dict (a ``role: tool`` dict becomes one tool response)."""
        role = data.get("role", "assistant")
        if role == "tool":
            return cls(
                role="tool",
                tool_responses=[
                    ToolResponse(
                        tool_call_id=str(data.get("tool_call_id", "")),
                        content=str(data.get("content") or ""),
                    )
                ],
            )
        raw_calls = data.get("tool_calls")
        refusal = data.get("refusal")
        if isinstance(refusal, str) and refusal and not data.get("content"):
            # A refusal (Chat Completions ``message.refusal``) is the text of an empty answer.
            metadata = {"refusal": True}
            return cls(role=role, content=refusal, name=data.get("name"), metadata=metadata)
        return cls(
            role=role,
            content=data.get("content"),
            name=data.get("name"),
            tool_calls=[ToolCall.from_openai(c) for c in raw_calls] if raw_calls else None,
        )


def messages_to_openai(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """Flatten messages into the OpenAI ``messages`` array."""
    out: list[dict[str, Any]] = []
    for message in messages:
        out.extend(message.to_openai())
    return out


def messages_from_openai(data: Iterable[Mapping[str, Any]]) -> list[Message]:
    """Read an OpenAI ``messages`` array; consecutive tool messages merge into one Message."""
    out: list[Message] = []
    for item in data:
        message = Message.from_openai(item)
        previous = out[-1] if out else None
        if message.tool_responses and previous is not None and previous.tool_responses:
            previous.tool_responses.extend(message.tool_responses)
            continue
        out.append(message)
    return out
