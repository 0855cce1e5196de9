"""Test-only reply-function agents: a ping-pong whose steps are all in-process.

No step calls the outside world, so the recording sink group-commits them; ``on_turn``
lets a test act at a given turn (flush the sink, or hang so that it can SIGKILL the run).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flowagents.agents import ConversableAgent
from flowagents.agents._chat import pair_graph
from flowagents.graph import CompiledGraph

TURNS = 40


def graph() -> CompiledGraph:
    """The two-node ``ping <-> pong`` graph."""
    return pair_graph("ping", "pong")


def agents(on_turn: Mapping[int, Callable[[], None]] | None = None) -> dict[str, ConversableAgent]:
    """``ping`` and ``pong``, answering with the length of the conversation so far."""
    hooks = dict(on_turn or {})
    made = {}
    for name in ("ping", "pong"):
        agent = ConversableAgent(name, llm_config=False, human_input_mode="NEVER")

        def reply(recipient: Any, messages: Any, sender: Any, config: Any) -> tuple[bool, str]:
            turn = len(messages or [])
            if turn in hooks:
                hooks[turn]()
            return True, f"{recipient.name} after {turn}"

        agent.register_reply([ConversableAgent, None], reply)
        made[name] = agent
    return made
