"""Shared helpers for the runtime tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from flowagents import ConversableAgent, GraphBuilder, ScriptedModel
from flowagents.events import Event, MessageSent, RunFinished, Terminated
from flowagents.graph import CompiledGraph

E = TypeVar("E")


def agent(name: str, replies: Sequence[Any] | Any, **options: Any) -> ConversableAgent:
    """A ConversableAgent that never asks a human and answers from a scripted model."""
    options.setdefault("human_input_mode", "NEVER")
    options.setdefault("description", f"the {name}")
    model = replies if isinstance(replies, ScriptedModel) else ScriptedModel(list(replies))
    return ConversableAgent(name, llm_config=model, **options)


def of_kind(events: Sequence[Event], kind: type[E]) -> list[E]:
    """The events of one type, in order."""
    return [event for event in events if isinstance(event, kind)]


def speakers(events: Sequence[Event]) -> list[str]:
    """Who sent each message (the message's name: "user" for the task), in order."""
    return [event.message.name or "" for event in events if isinstance(event, MessageSent)]


def ending(events: Sequence[Event]) -> tuple[str, str]:
    """The termination reason and the run status."""
    terminated = of_kind(events, Terminated)
    finished = of_kind(events, RunFinished)
    assert len(finished) == 1, finished
    return terminated[-1].reason, finished[0].status


def pair(a: ConversableAgent, b: ConversableAgent, *, max_turns: int) -> CompiledGraph:
    """The static graph ``a <-> b``, starting at ``a``, ended by ``max_turns`` only."""
    return (
        GraphBuilder("pair")
        .agent(a)
        .agent(b)
        .edge(a, b)
        .edge(b, a)
        .start(a)
        .terminate(keyword=None, max_turns=max_turns)
        .compile()
    )
