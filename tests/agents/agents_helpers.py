"""Shared helpers for the agent tests: scripted agents and event collection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flowagents import ConversableAgent, ScriptedModel
from flowagents.events import Event
from flowagents.graph import CompiledGraph, GraphBuilder


def contains_terminate(message: dict[str, Any]) -> bool:
    """A termination test that looks for the keyword anywhere in the text."""
    return "TERMINATE" in str(message.get("content") or "")


def scripted_agent(
    name: str, replies: Sequence[str], *, model: str | None = None, **options: Any
) -> ConversableAgent:
    """A ConversableAgent answering from ``replies`` (model label ``model`` or ``m-<name>``)."""
    options.setdefault("human_input_mode", "NEVER")
    return ConversableAgent(
        name, llm_config=ScriptedModel(list(replies), model=model or f"m-{name}"), **options
    )


def contents(history: Sequence[dict[str, Any]]) -> list[Any]:
    """The ``content`` of every message in an agent-view history."""
    return [message.get("content") for message in history]


def pair_graph(first: ConversableAgent, second: ConversableAgent) -> CompiledGraph:
    """The two-node graph ``first <-> second`` with live agents bound; the agents stop it."""
    return (
        GraphBuilder(f"{first.name}-{second.name}", mode="dynamic")
        .agent(first)
        .agent(second)
        .edge(first, second)
        .edge(second, first)
        .start(second)
        .terminate(keyword=None, max_turns=100)
        .compile()
    )


def kinds(events: Sequence[Event]) -> list[str]:
    """The kind of every event, in order."""
    return [event.kind for event in events]


def make_reviewer(name: str, strict: bool = False) -> ConversableAgent:
    """An agent factory for graph files (``factory: agents_helpers:make_reviewer``)."""
    return ConversableAgent(
        name, llm_config=False, human_input_mode="NEVER",
        default_auto_reply=f"{name} reviewed, strict={strict}",
    )


def make_without_name(strict: bool = False) -> ConversableAgent:
    """A factory with the wrong signature: it takes no ``name``."""
    return ConversableAgent("reviewer", llm_config=False, default_auto_reply=str(strict))


def make_failing(name: str, **kwargs: Any) -> ConversableAgent:
    """A factory that fails, as one missing a credential would."""
    raise RuntimeError(f"no credentials for {name}")
