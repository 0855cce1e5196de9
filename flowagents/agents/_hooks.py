"""Hooks (AutoGen's ``register_hook``): capabilities that change what an agent reads and sends.

The message lists a hook gets are copies: a hook never changes what the agent has heard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowagents.errors import ConfigError

Hook = Callable[..., Any]
HOOKABLE_METHODS = (
    "process_last_received_message",
    "process_all_messages_before_reply",
    "process_message_before_send",
)


def new_hook_lists() -> dict[str, list[Hook]]:
    """One empty list per hookable method."""
    return {name: [] for name in HOOKABLE_METHODS}


def add_hook(hook_lists: dict[str, list[Hook]], method: str, hook: Hook, agent: str) -> None:
    """Append ``hook`` to ``method``'s hooks; an unknown method or a second time is an error."""
    hooks = hook_lists.get(method)
    if hooks is None:
        raise ConfigError(
            f"{method!r} is not a hookable method (hookable: {', '.join(HOOKABLE_METHODS)})",
            where=f"agent {agent}",
        )
    if hook in hooks:
        raise ConfigError(f"{hook!r} is already registered as a hook", where=f"agent {agent}")
    hooks.append(hook)


def process_last_received_message(
    hooks: list[Hook], messages: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The last message's content passed through each hook, as AutoGen.

    Left alone: no hooks, no messages, a function call, a ``context`` message, content that
    is neither text nor parts, and ``"exit"``.
    """
    if not hooks or not messages:
        return messages
    last = messages[-1]
    if "function_call" in last or "context" in last or "content" not in last:
        return messages
    content = last["content"]
    if not isinstance(content, str | list) or content == "exit":
        return messages
    processed = content
    for hook in hooks:
        processed = hook(processed)
    if processed == content:
        return messages
    return [*messages[:-1], {**last, "content": processed}]


def process_all_messages_before_reply(
    hooks: list[Hook], messages: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The messages passed through each hook in turn (each gets a copy of the list)."""
    for hook in hooks:
        messages = hook(list(messages))
    return messages


def process_message_before_send(
    hooks: list[Hook], sender: Any, message: Any, recipient: Any, silent: bool
) -> Any:
    """The message passed through each hook as ``hook(sender=, message=, recipient=, silent=)``."""
    for hook in hooks:
        message = hook(sender=sender, message=message, recipient=recipient, silent=silent)
    return message
