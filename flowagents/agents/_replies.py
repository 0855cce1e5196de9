"""The reply-function registry: which function answers which sender, in what order.

An agent keeps its ``RegisteredReply`` entries in a plain list, walked by ``a_generate_reply``
on every turn; the functions here register, replace and reset them.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeAlias

from flowagents.agents._agent import Agent
from flowagents.errors import ConfigError

ReplyValue: TypeAlias = str | dict[str, Any] | None
ReplyFunction: TypeAlias = Callable[..., Any]
Trigger: TypeAlias = Any


@dataclass(slots=True)
class RegisteredReply:
    matches: Callable[[Any], bool]  # the trigger, as a predicate
    function: ReplyFunction
    is_async: bool
    config: Any
    reset_config: Callable[[Any], None] | None
    init_config: Any = None  # what reset() restores when there is no reset_config


def insert_reply(
    entries: list[RegisteredReply],
    ignored_in_sync_chat: list[ReplyFunction],
    trigger: Trigger,
    reply_func: ReplyFunction,
    position: int,
    config: Any,
    reset_config: Callable[[Any], None] | None,
    *,
    ignore_async_in_sync_chat: bool,
    remove_other_reply_funcs: bool,
    owner: Agent,
) -> None:
    """Register ``reply_func`` at ``position``, as ``ConversableAgent.register_reply`` says.

    ``ignored_in_sync_chat`` collects the async functions a synchronous chat skips; ``owner``,
    the agent registering, is named in the error about a bad trigger.
    """
    if (
        not isinstance(trigger, type | str | Agent | list)
        and trigger is not None
        and not callable(trigger)
    ):
        raise ConfigError(
            f"trigger must be an agent class, an agent, a name, a callable, None or a "
            f"list of those; got {trigger!r}",
            where=f"agent {owner.name}",
        )
    if remove_other_reply_funcs:
        entries.clear()
        ignored_in_sync_chat.clear()
    entry = RegisteredReply(
        matches=_trigger_matcher(trigger),
        function=reply_func,
        is_async=inspect.iscoroutinefunction(reply_func),
        config=copy.copy(config),
        reset_config=reset_config,
        init_config=config,
    )
    entries.insert(position, entry)
    if ignore_async_in_sync_chat and entry.is_async:
        ignored_in_sync_chat.append(reply_func)


def replace_reply_function(
    entries: list[RegisteredReply],
    ignored_in_sync_chat: list[ReplyFunction],
    old_reply_func: ReplyFunction,
    new_reply_func: ReplyFunction,
) -> None:
    """Put ``new_reply_func`` wherever ``old_reply_func`` is registered (trigger kept)."""
    for entry in entries:
        if entry.function is old_reply_func:
            entry.function = new_reply_func
            entry.is_async = inspect.iscoroutinefunction(new_reply_func)
    if old_reply_func in ignored_in_sync_chat:
        ignored_in_sync_chat.remove(old_reply_func)
        if inspect.iscoroutinefunction(new_reply_func):
            ignored_in_sync_chat.append(new_reply_func)


def reset_reply_configs(entries: list[RegisteredReply]) -> None:
    """Run each entry's ``reset_config``; without one, restore a copy of its first config."""
    for entry in entries:
        if entry.reset_config is not None:
            entry.reset_config(entry.config)
        else:
            entry.config = copy.copy(entry.init_config)


def _trigger_matcher(trigger: Trigger) -> Callable[[Any], bool]:
    """A predicate for ``trigger``, built once at registration (it runs on every turn)."""
    if trigger is None:
        return _is_none
    if isinstance(trigger, str):
        return lambda sender: sender is not None and getattr(sender, "name", None) == trigger
    if isinstance(trigger, type):
        return _instance_of((trigger,), none_too=False)
    if isinstance(trigger, Agent):
        return lambda sender: sender is trigger
    if isinstance(trigger, list):
        classes = tuple(t for t in trigger if isinstance(t, type))
        if len(classes) == len(trigger) - (None in trigger):
            # Only classes and None, as in the common [Agent, None]: one shared predicate.
            return _instance_of(classes, none_too=None in trigger)
        matchers = [_trigger_matcher(t) for t in trigger]
        return lambda sender: any(match(sender) for match in matchers)
    return lambda sender: bool(trigger(sender))


def _is_none(sender: Any) -> bool:
    return sender is None


@lru_cache(maxsize=256)
def _instance_of(classes: tuple[type, ...], *, none_too: bool) -> Callable[[Any], bool]:
    # Shared by every agent registering the same classes: thousands of agents hold one
    # predicate instead of a closure each (fewer objects for the garbage collector to walk).
    if none_too:
        return lambda sender: sender is None or isinstance(sender, classes)
    return lambda sender: isinstance(sender, classes)
