"""One conversation in flight: its transcript, what each agent has heard, its counters.

A run has a root scope; a parallel branch forks a copy, a subgroup opens a fresh one. The
scope is also the ``GuardContext`` the graph's guards read.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowagents.agents._conversable import ConversableAgent
from flowagents.agents._history import to_oai_dict
from flowagents.messages import Message
from flowagents.runtime._context import IDLE_CONTEXT, RunContext

if TYPE_CHECKING:
    from flowagents.graph import CompiledGraph
    from flowagents.models import ModelClient
    from flowagents.runtime._selector import SpeakerSelector


@dataclass(slots=True)
class RunState:
    """What one run keeps for itself, shared by all its conversations.

    Kept per run, not on the Runner: two runs of one Runner may be in flight at once, and a
    scripted client or a seeded selector must start afresh for each run.
    """

    ctx: RunContext
    clients: dict[tuple[int, str], ModelClient] = field(default_factory=dict)
    selectors: dict[int, SpeakerSelector] = field(default_factory=dict)


class Scope:
    """The state of one conversation on one compiled graph."""

    __slots__ = (
        "agents",
        "branch",
        "budgets",
        "counters",
        "fork_at",
        "fork_counts",
        "graph",
        "keys",
        "last_code_exit_code",
        "last_message",
        "last_speaker",
        "observers",
        "parent",
        "prefix",
        "run",
        "step_no",
        "transcript",
        "uncounted",
        "views",
    )

    def __init__(
        self,
        graph: CompiledGraph,
        agents: dict[str, ConversableAgent],
        keys: dict[str, Any],
        *,
        prefix: str = "",
        views: dict[str, list[dict[str, Any]]] | None = None,
        run: RunState | None = None,
    ) -> None:
        # ``agents`` and ``keys`` are kept, not copied: nothing changes them once a
        # conversation starts, so the branches of a fan-out all share their parent's.
        self.graph = graph
        self.agents = agents
        self.keys = keys
        self.prefix = prefix
        self.run = run or RunState(IDLE_CONTEXT)
        self.branch = False
        # (token budget, run's spending when its conversation began), outermost first: a
        # subgroup counts only its own spending against its budget, and its parents' too.
        self.budgets: tuple[tuple[int, int], ...] = ()
        self.parent: Scope | None = None
        self.fork_at = 0
        self.fork_counts: Sequence[int] = ()
        self.uncounted = 0
        self.observers: Sequence[list[dict[str, Any]]] = ()
        self.step_no = 0
        self.transcript: list[Message] = []
        self.counters: dict[str, int] = {}
        self.last_message: Message | None = None
        self.last_speaker: str | None = None
        self.last_code_exit_code: int | None = None
        if views is None:
            views = {
                name: agent._oai_messages[self.keys[name]] for name, agent in self.agents.items()
            }
        self.views = views

    def view(self, name: str) -> list[dict[str, Any]]:
        """What agent ``name`` has heard, as the message dicts its reply functions read.

        A branch copies an agent's view from the scope it forked from only when that agent
        first needs it: a fan-out to many branches copies one view per branch, not all.
        """
        view = self.views.get(name)
        if view is None:
            assert self.parent is not None, f"{name!r} has no view in this conversation"
            view = list(self.parent.view(name))
            for message in self.transcript[self.fork_at :]:
                view.append(to_oai_dict(message, "assistant" if message.name == name else "user"))
            self.views[name] = view
        return view

    def next_step(self) -> str:
        """The stable id of the next step of this conversation."""
        self.step_no += 1
        return f"{self.prefix}{self.step_no}"

    def deliver(self, message: Message, sender: str | None, *, observed: bool = True) -> None:
        """Append ``message`` to the transcript and to every agent's view of it.

        ``observed=False`` keeps it from the observers (a group's message list): introductions.
        """
        self.transcript.append(message)
        self.last_message = message
        self.last_speaker = sender
        exit_code = message.metadata.get("exit_code")
        if exit_code is not None:
            self.last_code_exit_code = int(exit_code)
        heard: dict[str, Any] | None = None
        for name, view in self.views.items():
            if name == sender:
                view.append(to_oai_dict(message, "assistant"))
            else:
                if heard is None:
                    heard = to_oai_dict(message, "user")
                view.append(heard)
        if self.observers and observed:
            seen = heard if heard is not None else to_oai_dict(message, "user")
            for observer in self.observers:
                observer.append(seen)

    def deliver_all(self, messages: Sequence[Message]) -> None:
        """``deliver`` each of ``messages`` (spoken by its ``name``) in order, all at once.

        Every view is extended in one go, then the few entries an agent spoke itself are put
        in its own words: merging a 50-branch fan-out into 50 views is 50 extends, not 2,500
        appends.
        """
        if not messages:
            return
        heard = [to_oai_dict(message, "user") for message in messages]
        spoken: dict[str, list[int]] = {}
        for index, message in enumerate(messages):
            if message.name is not None:
                spoken.setdefault(message.name, []).append(index)
            exit_code = message.metadata.get("exit_code")
            if exit_code is not None:
                self.last_code_exit_code = int(exit_code)
        for name, view in self.views.items():
            offset = len(view)
            view.extend(heard)
            for index in spoken.get(name, ()):
                view[offset + index] = to_oai_dict(messages[index], "assistant")
        for observer in self.observers:
            observer.extend(heard)
        self.transcript.extend(messages)
        self.last_message = messages[-1]
        self.last_speaker = messages[-1].name

    def count(self, key: str) -> int:
        """Increment and return a counter (node visits, edge traversals)."""
        value = self.counters.get(key, 0) + 1
        self.counters[key] = value
        return value

    def fork(self, prefix: str) -> Scope:
        """A copy for a parallel branch: same history so far, its own future."""
        branch = Scope(self.graph, self.agents, self.keys, prefix=prefix, views={}, run=self.run)
        branch.branch = True
        branch.budgets = self.budgets
        branch.parent = self
        branch.fork_at = len(self.transcript)
        branch.uncounted = self.uncounted
        branch.transcript = list(self.transcript)
        branch.counters = dict(self.counters)
        branch.fork_counts = list(self.counters.values())
        branch.last_message = self.last_message
        branch.last_speaker = self.last_speaker
        branch.last_code_exit_code = self.last_code_exit_code
        return branch

    def add_counts(self, branch: Scope) -> None:
        """Add to this scope's counters what ``branch`` (forked from it) counted."""
        counters = self.counters
        # A branch's counters began as a copy of its parent's (``fork_counts``, in the same
        # order) and only grow, new keys at the end: what it changed is found by comparing
        # the lists in C, not key by key in Python.
        own = branch.counters
        before = branch.fork_counts
        forked = len(before)
        values = list(own.values())
        if values[:forked] != before:
            keys = list(own)
            for index in itertools.compress(range(forked), map(operator.ne, values, before)):
                counters[keys[index]] += values[index] - before[index]
        added = itertools.islice(own, forked, None)
        for key, value in zip(added, values[forked:], strict=True):
            counters[key] = counters.get(key, 0) + value
