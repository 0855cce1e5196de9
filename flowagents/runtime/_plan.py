"""What the turn loop needs of a graph, worked out once per graph instead of every turn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowagents.graph import CompiledEdge, CompiledGraph
    from flowagents.runtime._setup import Setup

_NO_NAMES: frozenset[str] = frozenset()  # shared: an empty frozenset is a new object each time


@dataclass(slots=True)
class Plan:
    """A graph's fast paths and termination rules, as the turn loop reads them."""

    simple: dict[str, tuple[str, str]]
    """Node -> (edge key, target) of its only out-edge, when that edge needs no evaluation."""
    choices: dict[str, tuple[list[str], dict[str, CompiledEdge]]]
    """Node -> its candidates and their edges, when a dynamic graph chooses among plain edges."""
    keyword: str | None
    terminal: frozenset[str]
    max_turns: int | None
    is_termination_msg: Callable[[dict[str, Any]], bool] | None
    joins_any: bool
    ends: frozenset[str]
    agents: tuple[str, ...]
    recipients: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, graph: CompiledGraph, root: Setup | None) -> Plan:
        """The plan of ``graph``; ``root`` when it is the runner's own graph (overrides apply)."""
        simple: dict[str, tuple[str, str]] = {}
        choices: dict[str, tuple[list[str], dict[str, CompiledEdge]]] = {}
        for name in graph.nodes:
            edges = graph.out_edges(name)
            if not edges or any(
                edge.guard
                or edge.max_traversals
                or edge.parallel
                or graph.nodes[edge.target].max_visits
                for edge in edges
            ):
                continue
            if len(edges) == 1 and not (root is not None and root.free_selection):
                simple[name] = (edges[0].key, edges[0].target)
            elif graph.mode == "dynamic":
                by_target = {edge.target: edge for edge in edges}
                choices[name] = (list(by_target), by_target)
        term = graph.termination
        max_turns = term.max_turns
        if root is not None and root.max_turns is not None:
            max_turns = root.max_turns
        return cls(
            simple=simple,
            choices=choices,
            keyword=term.keyword,
            terminal=frozenset(term.terminal) or _NO_NAMES,
            max_turns=max_turns,
            is_termination_msg=root.is_termination_msg if root is not None else None,
            joins_any=any(node.join == "any" for node in graph.nodes.values()),
            ends=frozenset(name for name in graph.nodes if not graph.out_edges(name)) or _NO_NAMES,
            agents=tuple(name for name, node in graph.nodes.items() if node.kind == "agent"),
        )

    def recipients_of(self, sender: str) -> tuple[str, ...]:
        """The agents a message from ``sender`` is delivered to: every other one."""
        recipients = self.recipients.get(sender)
        if recipients is None:
            names = self.agents  # sliced, not filtered: a fan-out has many senders
            index = names.index(sender) if sender in names else len(names)
            recipients = self.recipients[sender] = names[:index] + names[index + 1 :]
        return recipients
