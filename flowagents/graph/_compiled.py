"""The compiled graph: immutable, checked, and the only thing the runtime executes."""

from __future__ import annotations

import copy
import hashlib
import json
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, NoReturn, TypeVar

import networkx as nx
import yaml

from flowagents.graph._findings import Finding
from flowagents.graph._guards import Guard, GuardContext
from flowagents.graph._spec import AgentSpec, GraphSpec, ModelSpec, SelectorSpec, TerminationSpec

_Slotted = TypeVar("_Slotted", "CompiledNode", "CompiledEdge")
_NO_BINDINGS: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class CompiledEdge:
    """A permitted transition; ``index`` is its position among the graph's edges."""

    source: str
    target: str
    guard: Guard | None = None
    label: str | None = None
    parallel: bool = False
    max_traversals: int | None = None
    index: int = 0

    @property
    def key(self) -> str:
        """The counter key of this edge, ``"src->dst"``."""
        return f"{self.source}->{self.target}"


@dataclass(frozen=True, slots=True)
class CompiledNode:
    """A node: an agent or a nested subgroup (``subgraph`` set).

    ``agent`` is the spec an agent node was declared with; only a graph relabeled for live
    agents (``relabeled(..., agent_specs=False)``, a two-agent chat's) has none.
    """

    name: str
    kind: Literal["agent", "subgroup"]
    agent: AgentSpec | None = None
    subgraph: CompiledGraph | None = None
    description: str = ""
    max_visits: int | None = None
    join: Literal["all", "any"] | None = None
    allow_repeat: bool = False
    summary: Literal["last_msg", "reflection"] = "last_msg"
    summary_model: str | None = None
    expose: Literal["summary", "all"] = "summary"


class CompiledGraph:
    """A checked conversation graph. Immutable; equal when their content hashes are equal.

    ``bindings`` maps node names to live agent objects given to the builder; they are not part
    of equality, the hash or the YAML form.
    """

    __slots__ = (
        "_bindings",
        "_canonical",
        "_edges",
        "_findings",
        "_hash",
        "_in",
        "_lazy",
        "_models",
        "_name",
        "_nodes",
        "_nx",
        "_out",
        "_source",
        "_spec",
        "_start",
        "_termination",
    )
    _bindings: Mapping[str, object]
    _canonical: GraphSpec
    _edges: tuple[CompiledEdge, ...]
    _findings: tuple[Finding, ...]
    _hash: str | None
    _in: dict[str, tuple[CompiledEdge, ...]] | None  # None: not worked out yet
    _lazy: tuple[Mapping[str, str], str | None] | None
    _models: Mapping[str, ModelSpec]
    _name: str
    _nodes: Mapping[str, CompiledNode]
    _nx: nx.DiGraph
    _out: dict[str, tuple[CompiledEdge, ...]]
    _source: str | None
    _spec: GraphSpec
    _start: str
    _termination: TerminationSpec

    def __init__(
        self,
        *,
        name: str,
        spec: GraphSpec,
        canonical: GraphSpec,
        nodes: Mapping[str, CompiledNode],
        edges: Sequence[CompiledEdge],
        graph: nx.DiGraph,
        source: str | None = None,
        bindings: Mapping[str, object] | None = None,
        findings: Sequence[Finding] = (),
    ) -> None:
        init = object.__setattr__
        init(self, "_name", name)
        init(self, "_spec", spec)
        init(self, "_canonical", canonical)
        init(self, "_hash", None)
        init(self, "_nodes", MappingProxyType(dict(nodes)))
        init(self, "_edges", tuple(edges))
        init(self, "_out", _edges_by(nodes, edges, _SOURCE))
        init(self, "_in", None)
        init(self, "_nx", graph)
        init(self, "_models", MappingProxyType(dict(spec.models)))
        init(self, "_source", source)
        init(self, "_bindings", MappingProxyType(dict(bindings or {})))
        init(self, "_findings", tuple(findings))
        init(self, "_start", spec.start or "")
        init(self, "_termination", spec.termination)
        init(self, "_lazy", None)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"CompiledGraph is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"CompiledGraph is immutable (cannot delete {name!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompiledGraph):
            return NotImplemented
        return self.content_hash == other.content_hash

    def __hash__(self) -> int:
        return hash(self.content_hash)

    def __repr__(self) -> str:
        return (
            f"<CompiledGraph {self._name!r} mode={self.mode} nodes={len(self._nodes)} "
            f"edges={len(self._edges)}>"
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def mode(self) -> Literal["static", "dynamic"]:
        return self._spec.mode

    @property
    def start(self) -> str:
        """The first speaker ("" only in graphs that failed FG003)."""
        return self._start

    @property
    def nodes(self) -> Mapping[str, CompiledNode]:
        """Nodes in declaration order (agents, then subgroups)."""
        return self._nodes

    @property
    def edges(self) -> tuple[CompiledEdge, ...]:
        """Every edge in declaration order."""
        return self._edges

    @property
    def termination(self) -> TerminationSpec:
        return self._termination

    @property
    def selector(self) -> SelectorSpec:
        return self._spec.selector

    @property
    def models(self) -> Mapping[str, ModelSpec]:
        return self._models

    @property
    def spec(self) -> GraphSpec:
        """The spec as written (subgroup file references kept)."""
        self._materialize()
        return self._spec

    @property
    def canonical_spec(self) -> GraphSpec:
        """The spec with its name filled in and subgroup files inlined (what is hashed)."""
        self._materialize()
        return self._canonical

    @property
    def source(self) -> str | None:
        """The file this graph was loaded from, if any."""
        return self._source

    @property
    def bindings(self) -> Mapping[str, object]:
        return self._bindings

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The warnings (never errors: those stop compilation) the compiler reported."""
        return self._findings

    @property
    def content_hash(self) -> str:
        """sha256 of the canonical spec (subgroup files inlined, keys sorted), hex."""
        if self._hash is None:  # computed on first use: a pure function of the spec
            data = self.canonical_spec.model_dump(mode="json", by_alias=True)
            text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            object.__setattr__(self, "_hash", hashlib.sha256(text.encode()).hexdigest())
        assert self._hash is not None
        return self._hash

    def out_edges(self, node: str) -> tuple[CompiledEdge, ...]:
        """Edges leaving ``node``, in declared order."""
        return self._out[node]

    def in_edges(self, node: str) -> tuple[CompiledEdge, ...]:
        """Edges entering ``node``, in declared order."""
        if self._in is None:  # only the checks and the pictures ask: worked out on first use
            object.__setattr__(self, "_in", _edges_by(self._nodes, self._edges, _TARGET))
        assert self._in is not None
        return self._in[node]

    def successors(self, node: str, ctx: GuardContext) -> tuple[CompiledEdge, ...]:
        """Out-edges that may be taken now: guard passes (or none) and bound not exhausted."""
        counters = ctx.counters
        return tuple(
            edge
            for edge in self._out[node]
            if (edge.max_traversals is None or counters.get(edge.key, 0) < edge.max_traversals)
            and (edge.guard is None or edge.guard.evaluate(ctx))
        )

    def relabeled(
        self, names: Mapping[str, str], *, name: str | None = None, agent_specs: bool = True
    ) -> CompiledGraph:
        """The same checked graph with its agent nodes renamed (nothing is checked again).

        Renaming is a graph isomorphism, so every finding still holds. Only for graphs
        without guards or subgroups, whose node names could also hide in guard counters or
        nested files. What the runtime reads is renamed at once; the spec, the networkx graph,
        the in-edges and the hash on first use. The familiar API gives every two-agent chat
        its agents' names this way, without compiling the same two-node graph once per pair.

        With ``agent_specs=False`` the nodes carry no ``agent`` spec (``spec`` still lists
        them): for a graph that is only ever run with live agents bound to every node, as a
        two-agent chat is.
        """
        if any(edge.guard is not None for edge in self._edges) or any(
            node.kind != "agent" for node in self._nodes.values()
        ):
            raise ValueError("relabeled() needs a graph without guards and subgroups")

        def rename(node: str) -> str:
            return names.get(node, node)

        nodes: dict[str, CompiledNode] = {}
        for node in self._nodes.values():
            renamed = rename(node.name)
            agent = node.agent if agent_specs else None
            if agent is not None:
                agent = copy.copy(agent)  # model_copy(update=...) without its bookkeeping
                agent.__dict__["name"] = renamed
            nodes[renamed] = _copy_slots(node, name=renamed, agent=agent)
        edges = tuple(
            _copy_slots(edge, source=rename(edge.source), target=rename(edge.target))
            for edge in self._edges
        )
        graph = object.__new__(CompiledGraph)
        init = object.__setattr__
        for slot in CompiledGraph.__slots__:
            init(graph, slot, getattr(self, slot))
        init(graph, "_name", name if name is not None else self._name)
        init(graph, "_hash", None)
        init(graph, "_nodes", MappingProxyType(nodes))
        init(graph, "_edges", edges)
        init(graph, "_out", _edges_by(nodes, edges, _SOURCE))
        init(graph, "_in", None)
        init(graph, "_bindings", _NO_BINDINGS)
        init(graph, "_start", rename(self._start) if self._start else "")
        terminal = self._termination.terminal
        if terminal:
            init(
                graph,
                "_termination",
                self._termination.model_copy(update={"terminal": tuple(map(rename, terminal))}),
            )
        init(graph, "_lazy", (dict(names), name))
        return graph

    def _materialize(self) -> None:
        """Build the renamed spec and networkx graph of a relabeled() graph, once."""
        if self._lazy is None:
            return
        names, name = self._lazy

        def rename(node: str) -> str:
            return names.get(node, node)

        spec = self._spec
        renamed = spec.model_copy(
            update={
                "name": name if name is not None else spec.name,
                "start": self._start or spec.start,
                "agents": [
                    agent.model_copy(update={"name": rename(agent.name)}) for agent in spec.agents
                ],
                "edges": [
                    edge.model_copy(
                        update={"source": rename(edge.source), "target": rename(edge.target)}
                    )
                    for edge in spec.edges
                ],
                "termination": self._termination,
            }
        )
        init = object.__setattr__
        init(self, "_spec", renamed)
        init(self, "_canonical", renamed)
        init(self, "_nx", _renamed_networkx(self._nx, rename))
        init(self, "_lazy", None)

    def walk(self) -> Iterator[tuple[tuple[str, ...], CompiledGraph]]:
        """Yield this graph and every nested subgroup graph, with its node path."""
        yield (), self
        for node in self._nodes.values():
            if node.subgraph is not None:
                for path, graph in node.subgraph.walk():
                    yield (node.name, *path), graph

    def to_networkx(self) -> nx.DiGraph:
        """Return a new networkx graph; attributes ``node`` / ``edge`` hold our objects.

        Nodes also carry ``kind`` and ``description``; edges carry ``index``, ``guard``,
        ``label``, ``parallel`` and ``max_traversals``. The graph attributes are ``name``,
        ``mode`` and ``start``.
        """
        graph = nx.DiGraph(name=self._name, mode=self.mode, start=self.start)
        graph.add_nodes_from(
            (n.name, {"node": n, "kind": n.kind, "description": n.description})
            for n in self._nodes.values()
        )
        graph.add_edges_from(
            (
                e.source,
                e.target,
                {
                    "edge": e,
                    "index": e.index,
                    "guard": e.guard,
                    "label": e.label,
                    "parallel": e.parallel,
                    "max_traversals": e.max_traversals,
                },
            )
            for e in self._edges
        )
        return graph

    def to_yaml(self, *, inline_subgroups: bool = True) -> str:
        """Write the graph as YAML; loading it compiles to an equal graph.

        With ``inline_subgroups=False`` subgroup file references are written as they were.
        """
        spec = self.canonical_spec if inline_subgroups else self.spec
        return dump_spec_yaml(spec)


_SOURCE = operator.attrgetter("source")
_TARGET = operator.attrgetter("target")


def _edges_by(
    nodes: Iterable[str], edges: Iterable[CompiledEdge], end: Callable[[CompiledEdge], str]
) -> dict[str, tuple[CompiledEdge, ...]]:
    """Each node's edges whose ``end`` (source or target) it is, in declared order."""
    grouped: dict[str, list[CompiledEdge]] = {node: [] for node in nodes}
    for edge in edges:
        grouped[end(edge)].append(edge)
    return {node: tuple(items) for node, items in grouped.items()}


def _copy_slots(item: _Slotted, **changes: Any) -> _Slotted:
    """``dataclasses.replace`` for our frozen slots dataclasses, at a third of its cost.

    ``relabeled`` runs once per two-agent chat; ``replace`` validates its arguments and goes
    through the generated ``__init__``: a large part of a chat's set-up time.
    """
    copied = object.__new__(type(item))
    for slot in type(item).__slots__:
        object.__setattr__(copied, slot, changes[slot] if slot in changes else getattr(item, slot))
    return copied


def _renamed_networkx(graph: nx.DiGraph, rename: Callable[[str], str]) -> nx.DiGraph:
    # Built by hand: nx.relabel_nodes copies through the generic graph constructor, which
    # costs more than everything else relabeled() does.
    renamed = nx.DiGraph()
    renamed.add_nodes_from((rename(node), data) for node, data in graph.nodes(data=True))
    renamed.add_edges_from(
        (rename(source), rename(target), data) for source, target, data in graph.edges(data=True)
    )
    return renamed


def dump_spec_yaml(spec: GraphSpec) -> str:
    """Write a spec as YAML, defaults left out, fields in schema order."""
    data = spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that double-quotes (and so escapes) text with a raw NEL (U+0085).

    Unescaped, a reader takes NEL for a line break and the text would not round-trip.
    """


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if "\x85" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)
