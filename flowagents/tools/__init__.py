"""Tools: Python functions a model may call through OpenAI function calling.

General layout: ``_schema`` turns a signature into a pydantic arguments model and its JSON
Schema; ``_tool`` holds ``Tool`` (schema, validation, a call that never crashes) and
``ToolOutcome``; ``_execute`` runs all tool calls of one message.
"""

from flowagents.tools._execute import OnToolCall, OnToolResult, as_tool, execute_tool_calls
from flowagents.tools._tool import Tool, ToolErrorKind, ToolOutcome, serialize_result

__all__ = [
    "OnToolCall",
    "OnToolResult",
    "Tool",
    "ToolErrorKind",
    "ToolOutcome",
    "as_tool",
    "execute_tool_calls",
    "serialize_result",
]
