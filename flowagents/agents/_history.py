"""An agent's history: per peer, the AutoGen-style message dicts it has exchanged.

``to_oai_dict`` makes those dicts from Messages; ``last_message`` and ``clear_history`` read
and forget them as AutoGen's agents do.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from flowagents.agents._agent import Agent
from flowagents.messages import Message


def to_oai_dict(message: Message, role: str) -> dict[str, Any]:
    """The AutoGen-style dict of ``message`` as seen by one agent (``role`` from its side).

    A message with tool calls is ``assistant`` to every agent: only an assistant message may
    carry them, and the tool results that follow must answer one.
    """
    out: dict[str, Any] = {"content": message.content, "role": role}
    if message.name is not None:
        out["name"] = message.name
    if message.tool_calls:
        out["role"] = "assistant"
        out["tool_calls"] = [call.to_openai() for call in message.tool_calls]
    if message.tool_responses:
        out["role"] = "tool"
        out["tool_responses"] = [
            {"tool_call_id": r.tool_call_id, "role": "tool", "content": r.content}
            for r in message.tool_responses
        ]
    return out


def last_message(
    histories: Mapping[Any, list[dict[str, Any]]], agent: Agent | None, owner: str
) -> dict[str, Any] | None:
    """The last message of ``owner``'s history with ``agent`` (see ``last_message``)."""
    if agent is None:
        if len(histories) == 0:
            return None
        if len(histories) > 1:
            raise ValueError(f"{owner} talks with several agents; name one in last_message(agent)")
        return next(iter(histories.values()))[-1]
    if agent not in histories:
        raise KeyError(f"{owner} has no conversation with {agent.name!r}")
    history = histories[agent]
    return history[-1] if history else None


def clear_history(
    histories: defaultdict[Any, list[dict[str, Any]]],
    recipient: Agent | None,
    nr_messages_to_preserve: int | None,
) -> None:
    """Forget the messages with ``recipient``, or with everyone (see ``clear_history``)."""
    if recipient is not None:
        histories[recipient].clear()
        return
    for history in histories.values():
        if not nr_messages_to_preserve:
            # In place: a running chat keeps appending to the same lists.
            history.clear()
            continue
        keep = nr_messages_to_preserve
        if len(history) > keep and "tool_responses" in history[-keep]:
            keep += 1
        del history[:-keep]
    if not nr_messages_to_preserve:
        histories.clear()
