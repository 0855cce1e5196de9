"""The reply functions every ConversableAgent starts with.

Each has the signature of a registered reply function,
``(agent, messages, sender, config) -> (final, reply)``, and is a coroutine so that model
calls, human input, code and tools never block the event loop.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from flowagents.messages import Message, ToolCall, ToolResponse
from flowagents.models import ModelRequest

if TYPE_CHECKING:
    from flowagents.agents._conversable import ConversableAgent


def current_run() -> Any:
    """The active run context (imported late: the runtime builds on the agents)."""
    from flowagents.runtime._context import current_run as active

    return active()


_WIRE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
EXIT = "exit"
USER_INTERRUPTED = "USER INTERRUPTED"


def to_wire(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Agent-view message dicts to the OpenAI ``messages`` array (tool responses expanded)."""
    out: list[dict[str, Any]] = []
    for item in messages:
        responses = item.get("tool_responses")
        if responses:
            out.extend(
                {"role": "tool", "tool_call_id": r["tool_call_id"], "content": r["content"]}
                for r in responses
            )
            continue
        wire: dict[str, Any] = {"role": item.get("role", "user"), "content": item.get("content")}
        if item.get("name"):
            wire["name"] = wire_name(str(item["name"]))
        if item.get("tool_calls"):
            wire["role"] = "assistant"  # the only role that may carry tool calls
            wire["tool_calls"] = item["tool_calls"]
        out.append(wire)
    return out


def wire_name(name: str) -> str:
    """``name`` as the Chat Completions ``name`` field takes it: ``[A-Za-z0-9_-]``, 64 long.

    Agent names may hold spaces or dots ("Lead Writer"); OpenAI refuses those with a 400.
    """
    if _WIRE_NAME.fullmatch(name):
        return name
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "_"


async def generate_oai_reply(
    agent: ConversableAgent, messages: list[dict[str, Any]], sender: Any, config: Any
) -> tuple[bool, str | dict[str, Any] | None]:
    """Ask the agent's model; not final when the agent has no model."""
    client = agent.client
    if client is None:
        return False, None
    wire = to_wire(messages)
    if agent.system_message:
        wire.insert(0, {"role": "system", "content": agent.system_message})
    tools = [tool.to_openai() for tool in agent.tools] or None
    fields = agent._request_fields
    if fields:
        request = _with_config_fields(wire, tools, fields)
    else:
        request = ModelRequest(messages=wire, tools=tools)
    response = await current_run().call_model(
        client, request, purpose="reply", usage_of=agent.usage_totals()
    )
    message = response.message
    if message.tool_calls:
        return True, {
            "role": "assistant",
            "content": message.content,
            "tool_calls": [call.to_openai() for call in message.tool_calls],
        }
    return True, message.text


def _with_config_fields(
    wire: list[dict[str, Any]], tools: list[dict[str, Any]] | None, fields: dict[str, Any]
) -> ModelRequest:
    """A request with the llm_config's tools, ``tool_choice`` and ``response_format``.

    A tool registered with ``register_for_llm`` replaces a config tool of the same name.
    """
    registered = {tool["function"]["name"] for tool in tools or ()}
    merged = [
        schema
        for schema in fields.get("tools", ())
        if schema.get("function", {}).get("name") not in registered
    ]
    merged.extend(tools or ())
    return ModelRequest(
        messages=wire,
        tools=merged or None,
        tool_choice=fields.get("tool_choice"),
        response_format=fields.get("response_format"),
    )


async def generate_code_execution_reply(
    agent: ConversableAgent, messages: list[dict[str, Any]], sender: Any, config: Any
) -> tuple[bool, str | None]:
    """Run the code blocks of the latest messages from the sender, if there are any."""
    executor = agent.code_executor
    if executor is None:
        return False, None
    from flowagents.execution import extract_code_blocks

    settings = agent._code_execution_config
    last_n: Any = settings.get("last_n_messages", "auto") if isinstance(settings, dict) else "auto"
    if last_n == "auto":
        # Scan back to the last time this agent itself spoke.
        last_n = 0
        for item in reversed(messages):
            if item.get("role") != "user":
                break
            last_n += 1
    for item in reversed(messages[len(messages) - min(len(messages), int(last_n)) :]):
        content = item.get("content")
        if not content or not isinstance(content, str):
            continue
        blocks = extract_code_blocks(content)
        if not blocks:
            continue
        result = await current_run().execute_code(executor, blocks)
        return True, result.to_agent_message()
    return False, None


async def generate_tool_calls_reply(
    agent: ConversableAgent, messages: list[dict[str, Any]], sender: Any, config: Any
) -> tuple[bool, dict[str, Any] | None]:
    """Execute the tool calls of the last message with this agent's functions."""
    if not messages:
        return False, None
    raw_calls = messages[-1].get("tool_calls")
    if not raw_calls or not agent.function_map:
        return False, None
    calls = [ToolCall.from_openai(raw) for raw in raw_calls]
    responses = await current_run().call_tools(agent.function_map, calls)
    return True, {
        "role": "tool",
        "content": "\n\n".join(r.content for r in responses),
        "tool_responses": [
            {"tool_call_id": r.tool_call_id, "role": "tool", "content": r.content}
            for r in responses
        ],
    }


async def check_termination_and_human_reply(
    agent: ConversableAgent, messages: list[dict[str, Any]], sender: Any, config: Any
) -> tuple[bool, str | dict[str, Any] | None]:
    """Stop on a termination message or the auto-reply limit, or let a human answer.

    ALWAYS asks every time; TERMINATE asks only on a termination message or at the limit;
    NEVER never asks. Empty human input means "auto-reply", ``exit`` ends the chat.
    """
    agent.stop_reason = None
    if not messages:
        return False, None
    message = messages[-1]
    sender_name = "the sender" if sender is None else getattr(sender, "name", "the sender")
    mode = agent.human_input_mode
    reply = ""
    counter = agent._consecutive_auto_reply_counter
    limit = agent.max_consecutive_auto_reply(sender)
    if mode == "ALWAYS":
        reply = await agent.a_get_human_input(
            f"Replying as {agent.name}. Give feedback to {sender_name}; press enter to let the "
            "agent auto-reply, or type 'exit' to end the conversation: "
        )
        if not reply and agent._is_termination_msg(message):
            reply = EXIT
            agent.stop_reason = "is_termination_msg"
    elif counter.get(sender, 0) >= limit:
        if mode == "NEVER":
            reply = EXIT
            agent.stop_reason = "max_consecutive_auto_reply"
        else:
            terminate = agent._is_termination_msg(message)
            reply = await agent.a_get_human_input(
                f"Give feedback to {sender_name}; press enter or type 'exit' to stop the "
                "conversation: "
            )
            # Enter on a termination message stops; on any other message it auto-replies.
            if not reply and terminate:
                reply = EXIT
                agent.stop_reason = "is_termination_msg"
    elif agent._is_termination_msg(message):
        if mode == "NEVER":
            reply = EXIT
            agent.stop_reason = "is_termination_msg"
        else:
            reply = await agent.a_get_human_input(
                f"Give feedback to {sender_name}; press enter or type 'exit' to stop the "
                "conversation: "
            )
            if not reply:
                reply = EXIT
                agent.stop_reason = "is_termination_msg"

    if reply == EXIT:
        agent.stop_reason = agent.stop_reason or "human_exit"
        counter[sender] = 0
        return True, None
    if reply or limit == 0:
        counter[sender] = 0
        if message.get("tool_calls"):
            return True, {
                "role": "user",
                "content": reply,
                "tool_responses": [
                    {
                        "tool_call_id": call.get("id", ""),
                        "role": "tool",
                        "content": USER_INTERRUPTED,
                    }
                    for call in message["tool_calls"]
                ],
            }
        return True, reply
    counter[sender] = counter.get(sender, 0) + 1
    return False, None


def reply_to_message(reply: str | dict[str, Any], name: str) -> Message:
    """Turn what a reply function returned into a Message spoken by ``name``."""
    if isinstance(reply, str):
        return Message(role="assistant", content=reply, name=name)
    calls = reply.get("tool_calls")
    legacy = reply.get("function_call")
    if not calls and isinstance(legacy, dict):
        # AutoGen's legacy function call becomes a tool call, as a model client reads one,
        # so that the executor runs it through its function map.
        calls = [{"id": "call_0", "type": "function", "function": legacy}]
    responses = reply.get("tool_responses")
    role = reply.get("role", "assistant")
    if role not in ("system", "user", "assistant", "tool"):
        role = "assistant"
    return Message(
        role=role,
        content=reply.get("content"),
        name=name,
        tool_calls=[ToolCall.from_openai(c) for c in calls] if calls else None,
        tool_responses=(
            [
                ToolResponse(
                    tool_call_id=str(r.get("tool_call_id", "")), content=str(r.get("content", ""))
                )
                for r in responses
            ]
            if responses
            else None
        ),
    )
