"""The Python front door: a fluent GraphBuilder producing the same GraphSpec a file does.

Each builder call records its call site, so findings about builder graphs point at the line
of user code that declared the offending node or edge.
"""

from __future__ import annotations

import functools
import itertools
import linecache
import os
import sys
from collections.abc import Iterable, Mapping
from types import CodeType
from typing import Any, Literal, Self

from flowagents.errors import SourceLocation
from flowagents.graph._compiled import CompiledGraph
from flowagents.graph._compiler import Bindings, compile_with_findings, raise_on_errors
from flowagents.graph._findings import Finding
from flowagents.graph._guards import Guard
from flowagents.graph._source import SourceMap, SpecPath
from flowagents.graph._spec import (
    AgentSpec,
    EdgeSpec,
    GraphSpec,
    ModelSpec,
    SelectorSpec,
    SubgroupSpec,
    TerminationSpec,
)

NodeRef = str | AgentSpec | object


def node_name(node: NodeRef) -> str:
    """Return the node name of a string, a spec, or any object with a ``.name``."""
    if isinstance(node, str):
        return node
    name = getattr(node, "name", None)
    if not isinstance(name, str):
        raise TypeError(f"expected a node name or an object with a .name, got {node!r}")
    return name


def agent_spec_from_object(agent: object, **overrides: Any) -> AgentSpec:
    """Describe a live agent object (``.name``, optional ``.description``)."""
    classes = {cls.__name__ for cls in type(agent).__mro__}
    kind = (
        "user_proxy" if "UserProxyAgent" in classes
        else "assistant" if "AssistantAgent" in classes
        else "conversable"
    )
    system_message = getattr(agent, "system_message", None)
    fields: dict[str, Any] = {
        "name": node_name(agent),
        "type": kind,
        "description": getattr(agent, "description", None) or "",
        "system_message": system_message if isinstance(system_message, str) else None,
    }
    return AgentSpec.model_validate({**fields, **overrides})


def _call_site() -> SourceLocation:
    """Where the user called the builder method (the caller of its caller)."""
    frame = sys._getframe(2)
    return _location(frame.f_code, frame.f_lasti, frame.f_lineno or 0)


@functools.lru_cache(maxsize=1024)
def _location(code: CodeType, lasti: int, line: int) -> SourceLocation:
    """The file, line and 1-based column of the call at instruction offset ``lasti``.

    The column is where the call starts (the method's name in a call chain spread over
    lines), as tracebacks show it; 0 when unknown: no position information, or no source
    line to turn the UTF-8 byte offset into a character column.
    """
    file = code.co_filename
    start_line, _, byte_column, _ = next(
        itertools.islice(code.co_positions(), lasti // 2, None), (None, None, None, None)
    )
    text = linecache.getline(file, line)
    if start_line != line or byte_column is None or not text:
        return SourceLocation(file, line)
    column = len(text.encode("utf-8")[:byte_column].decode("utf-8", errors="ignore")) + 1
    return SourceLocation(file, line, column)


class GraphBuilder:
    """Build a graph spec step by step; ``compile()`` runs the same compiler as files.

    Nodes may be names (with AgentSpec fields as keywords), AgentSpecs, or live agent objects
    (anything with ``.name``); live objects end up in ``CompiledGraph.bindings`` of the graph
    level they were declared in (a nested builder's in its subgroup's graph).
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        mode: Literal["static", "dynamic"] = "static",
        description: str = "",
    ) -> None:
        self._name = name
        self._mode: Literal["static", "dynamic"] = mode
        self._description = description
        self._models: dict[str, ModelSpec] = {}
        self._agents: list[AgentSpec] = []
        self._subgroups: list[SubgroupSpec] = []
        self._edges: list[EdgeSpec] = []
        self._start: str | None = None
        self._termination = TerminationSpec()
        self._selector = SelectorSpec()
        self._bindings: dict[str, object] = {}
        self._nested: dict[int, Bindings] = {}  # the live agents of inline subgroups, by index
        self._where: dict[SpecPath, SourceLocation] = {(): _call_site()}

    def model(self, name: str, model: str | ModelSpec, **fields: Any) -> Self:
        """Declare a named model configuration (ModelSpec fields as keywords)."""
        spec = model if isinstance(model, ModelSpec) else ModelSpec(model=model, **fields)
        self._models[name] = spec
        self._where[("models", name)] = _call_site()
        return self

    def agent(self, agent: NodeRef, **fields: Any) -> Self:
        """Declare an agent node: a name, an AgentSpec, or a live agent object."""
        if isinstance(agent, str):
            spec = AgentSpec(name=agent, **fields)
        elif isinstance(agent, AgentSpec):
            spec = agent.model_copy(update=fields) if fields else agent
        else:
            spec = agent_spec_from_object(agent, **fields)
            self._bindings[spec.name] = agent
        self._where[("agents", len(self._agents))] = _call_site()
        self._agents.append(spec)
        return self

    def subgroup(
        self,
        name: str,
        graph: GraphSpec | GraphBuilder | CompiledGraph | str | os.PathLike[str],
        **fields: Any,
    ) -> Self:
        """Declare a nested subgroup: a spec, a builder, a compiled graph or a file path.

        A builder's or a compiled graph's live agents stay bound in the subgroup's graph.
        """
        index = len(self._subgroups)
        if isinstance(graph, GraphBuilder):
            self._nested[index] = graph._binding_tree()
            # Findings inside the nested graph point at the nested builder's calls.
            at: SpecPath = ("subgroups", index, "graph")
            self._where.update({(*at, *path): where for path, where in graph._where.items()})
            graph = graph.build()
        elif isinstance(graph, CompiledGraph):
            self._nested[index] = Bindings.of(graph)
            graph = graph.canonical_spec
        elif not isinstance(graph, GraphSpec):
            graph = os.fspath(graph)
        self._where[("subgroups", index)] = _call_site()
        self._subgroups.append(SubgroupSpec(name=name, graph=graph, **fields))
        return self

    def edge(
        self,
        source: NodeRef,
        target: NodeRef,
        *,
        guard: Guard | Mapping[str, Any] | None = None,
        label: str | None = None,
        parallel: bool = False,
        max_traversals: int | None = None,
    ) -> Self:
        """Permit ``target`` to speak after ``source``."""
        self._where[("edges", len(self._edges))] = _call_site()
        self._edges.append(
            EdgeSpec.model_validate(
                {
                    "from": node_name(source),
                    "to": node_name(target),
                    "guard": guard,
                    "label": label,
                    "parallel": parallel,
                    "max_traversals": max_traversals,
                }
            )
        )
        return self

    def chain(self, *nodes: NodeRef) -> Self:
        """Unguarded edges ``a -> b -> c ...`` (a linear pipeline)."""
        where = _call_site()
        for source, target in itertools.pairwise(nodes):
            self._where[("edges", len(self._edges))] = where
            self._edges.append(EdgeSpec(source=node_name(source), target=node_name(target)))
        return self

    def fan_out(self, source: NodeRef, targets: Iterable[NodeRef]) -> Self:
        """Parallel edges from ``source`` to every target (taken together)."""
        where = _call_site()
        for target in targets:
            self._where[("edges", len(self._edges))] = where
            self._edges.append(
                EdgeSpec(source=node_name(source), target=node_name(target), parallel=True)
            )
        return self

    def start(self, node: NodeRef) -> Self:
        """Set the node that speaks first."""
        self._start = node_name(node)
        self._where[("start",)] = _call_site()
        return self

    def terminate(
        self,
        *,
        keyword: str | None = "TERMINATE",
        max_turns: int | None = None,
        token_budget: int | None = None,
        terminal: Iterable[NodeRef] = (),
        agents_may_stop: bool = False,
    ) -> Self:
        """Set when the conversation ends (the fields of TerminationSpec)."""
        self._termination = TerminationSpec(
            keyword=keyword,
            max_turns=max_turns,
            token_budget=token_budget,
            terminal=tuple(node_name(n) for n in terminal),
            agents_may_stop=agents_may_stop,
        )
        self._where[("termination",)] = _call_site()
        return self

    def selector(self, **fields: Any) -> Self:
        """Configure the next-speaker selector (SelectorSpec fields as keywords)."""
        self._selector = SelectorSpec(**fields)
        self._where[("selector",)] = _call_site()
        return self

    def build(self) -> GraphSpec:
        """Return the spec built so far."""
        return GraphSpec(
            name=self._name,
            description=self._description,
            mode=self._mode,
            start=self._start,
            models=dict(self._models),
            agents=list(self._agents),
            subgroups=list(self._subgroups),
            edges=list(self._edges),
            termination=self._termination,
            selector=self._selector,
        )

    def check(self, *, base_dir: str | os.PathLike[str] | None = None) -> list[Finding]:
        """Every finding, located at the builder call that declared the culprit."""
        return self._compile(base_dir)[1]

    def compile(self, *, base_dir: str | os.PathLike[str] | None = None) -> CompiledGraph:
        """Compile; raise GraphCompileError when any finding is an error."""
        compiled, findings = self._compile(base_dir)
        raise_on_errors(compiled.name, findings)
        return compiled

    def _compile(
        self, base_dir: str | os.PathLike[str] | None
    ) -> tuple[CompiledGraph, list[Finding]]:
        return compile_with_findings(
            self.build(),
            base_dir=base_dir,
            smap=SourceMap(None, dict(self._where)),
            bindings=self._binding_tree(),
        )

    def _binding_tree(self) -> Bindings:
        return Bindings(dict(self._bindings), dict(self._nested))
