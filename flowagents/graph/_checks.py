"""Pass 4, check: one small function per finding code, each docstring states its rule.

Every check reads a ``CheckInput`` (the spec, the resolved nodes and edges, the networkx
graph) and yields findings. None of them is worse than O(nodes + edges): reachability is
one multi-source networkx BFS, cycles through strongly connected
components, never through ``simple_cycles``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx

from flowagents.graph._compiled import CompiledEdge, CompiledGraph, CompiledNode
from flowagents.graph._findings import CODES, Finding, Severity
from flowagents.graph._source import SourceMap, SpecPath
from flowagents.graph._spec import GraphSpec, ModelSpec, SubgroupSpec


@dataclass(frozen=True, slots=True)
class CheckInput:
    """Everything a check may read about one (non-nested) graph."""

    spec: GraphSpec
    graph: nx.DiGraph
    nodes: Mapping[str, CompiledNode]
    node_paths: Mapping[str, SpecPath]
    edges: Sequence[CompiledEdge]
    out: Mapping[str, Sequence[CompiledEdge]]
    smap: SourceMap
    graph_name: str
    subgraphs: Mapping[int, CompiledGraph | None]
    """The compiled graph of each subgroup, by index (None when it could not be loaded)."""
    top_models: Mapping[str, ModelSpec]
    """The models of the top graph of this compilation (this graph's own at the top)."""

    def finding(
        self,
        code: str,
        message: str,
        path: SpecPath,
        *,
        node: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        """Make a finding of ``code`` located at the spec ``path``."""
        return Finding(
            code=code,
            severity=severity or CODES[code][0],
            message=message,
            location=self.smap.locate(path),
            graph=self.graph_name,
            node=node,
        )

    def node_finding(self, code: str, node: str, message: str) -> Finding:
        """Make a finding located at a node's ``name``."""
        return self.finding(code, message, (*self.node_paths[node], "name"), node=node)

    def ends(self) -> set[str]:
        """Return declared terminal nodes and nodes without out-edges."""
        ends = {name for name in self.spec.termination.terminal if name in self.nodes}
        ends.update(node for node, degree in self.graph.out_degree() if degree == 0)
        return ends


Check = Callable[[CheckInput], Iterator[Finding]]


def _reachable_from(graph: nx.DiGraph, sources: set[str], *, reverse: bool = False) -> set[str]:
    """Nodes reachable from any of ``sources`` (sources included), in one BFS."""
    if not sources:
        return set()
    view = graph.reverse(copy=False) if reverse else graph
    return {node for layer in nx.bfs_layers(view, sorted(sources)) for node in layer}


def check_unknown_names(ci: CheckInput) -> Iterator[Finding]:
    """FG001: edge ends, ``start`` and ``termination.terminal`` must name declared nodes."""
    known = ci.nodes
    for index, edge in enumerate(ci.spec.edges):
        for key, name in (("from", edge.source), ("to", edge.target)):
            if name not in known:
                yield ci.finding(
                    "FG001", f"edge {index} names unknown node {name!r}", ("edges", index, key)
                )
    if ci.spec.start is not None and ci.spec.start not in known:
        yield ci.finding("FG001", f"start names unknown node {ci.spec.start!r}", ("start",))
    for index, name in enumerate(ci.spec.termination.terminal):
        if name not in known:
            yield ci.finding(
                "FG001",
                f"terminal names unknown node {name!r}",
                ("termination", "terminal", index),
            )


def check_duplicate_names(ci: CheckInput) -> Iterator[Finding]:
    """FG002: agent and subgroup names are unique within a graph."""
    seen: set[str] = set()
    declared = [("agents", i, a.name) for i, a in enumerate(ci.spec.agents)]
    declared += [("subgroups", i, s.name) for i, s in enumerate(ci.spec.subgroups)]
    for section, index, name in declared:
        if name in seen:
            yield ci.finding(
                "FG002", f"node name {name!r} is declared twice", (section, index, "name")
            )
        seen.add(name)


def check_missing_start(ci: CheckInput) -> Iterator[Finding]:
    """FG003: a graph names the node that speaks first."""
    if ci.spec.start is None:
        yield ci.finding("FG003", "the graph has no start node (set start:)", ())


def check_unreachable(ci: CheckInput) -> Iterator[Finding]:
    """FG004: every node with edges is reachable from the start (isolated ones are FG011)."""
    start = ci.spec.start
    if start is None or start not in ci.nodes:
        return
    reached = nx.descendants(ci.graph, start) | {start}
    for node in ci.nodes:
        if node not in reached and ci.graph.degree(node) > 0:
            yield ci.node_finding("FG004", node, f"node {node!r} cannot be reached from {start!r}")


def check_traps(ci: CheckInput) -> Iterator[Finding]:
    """FG005: every node can reach an end (a terminal node or a node without out-edges)."""
    ends = ci.ends()
    if not ends:
        return  # FG017 reports the graph as a whole
    can_end = _reachable_from(ci.graph, ends, reverse=True)
    for node in ci.nodes:
        if node not in can_end:
            yield ci.node_finding(
                "FG005", node, f"node {node!r} cannot reach any end (terminal or sink node)"
            )


def check_no_end(ci: CheckInput) -> Iterator[Finding]:
    """FG017: a graph has an end; without one only the termination settings stop a run.

    A warning when keyword, max_turns, token_budget or agents_may_stop is set, an error
    when nothing can stop the run.
    """
    if not ci.nodes or ci.ends():
        return
    term = ci.spec.termination
    stoppable = (
        term.keyword is not None or term.max_turns or term.token_budget or term.agents_may_stop
    )
    yield ci.finding(
        "FG017",
        "the graph has no end (no terminal node, every node has out-edges); "
        + ("only termination keyword/max_turns/token_budget or the agents can stop it"
           if stoppable else "nothing can stop a run: set termination.max_turns"),
        ("termination",),
        severity="warning" if stoppable else "error",
    )


def check_unbounded_cycles(ci: CheckInput) -> Iterator[Finding]:
    """FG006: a cycle needs a bound (max_visits / max_traversals in it) or an exit.

    Not checked when ``termination.agents_may_stop``: the agents then end every cycle.

    An exit is an unguarded edge leaving the cycle's strongly connected component, or a
    terminal node inside it; a guarded exit may never open, so it does not count.
    """
    if ci.spec.termination.agents_may_stop:
        return  # the agents end the cycles themselves (is_termination_msg, reply limits)
    terminal = set(ci.spec.termination.terminal)
    for component in nx.strongly_connected_components(ci.graph):
        first = min(component, key=lambda n: ci.node_paths[n])
        if len(component) == 1 and not ci.graph.has_edge(first, first):
            continue
        if terminal & component or any(ci.nodes[n].max_visits for n in component):
            continue
        edges = [edge for node in component for edge in ci.out[node]]
        if any(e.max_traversals for e in edges if e.target in component):
            continue
        if any(e.guard is None for e in edges if e.target not in component):
            continue
        cycle = [u for u, _ in nx.find_cycle(ci.graph.subgraph(component), source=first)]
        shown = " -> ".join([*cycle[:6], "..." if len(cycle) > 6 else cycle[0]])
        yield ci.node_finding(
            "FG006",
            first,
            f"cycle {shown} has no bound and no unconditional exit; it may never end "
            "(add max_traversals, max_visits or an unguarded exit edge)",
        )


def _always_open(ci: CheckInput, edge: CompiledEdge) -> bool:
    """No guard, no ``max_traversals``, and a target without ``max_visits``: never closed."""
    return (
        edge.guard is None
        and edge.max_traversals is None
        and ci.nodes[edge.target].max_visits is None
    )


def _edge_words(edge: CompiledEdge) -> str:
    return f"{'parallel edge' if edge.parallel else 'edge'} to {edge.target!r} (edge {edge.index})"


def check_dead_edges(ci: CheckInput) -> Iterator[Finding]:
    """FG007: every out-edge can be taken, given that the first open edge decides.

    Out-edges are tried in declared order and the first open edge decides: a plain edge is
    taken (static) or the selector chooses among the open plain edges (dynamic); a parallel
    edge fans out together with every other open parallel edge. An edge with no guard, no
    ``max_traversals`` and a target without ``max_visits`` is always open, so it leaves dead
    every later plain edge in static mode, and, in either mode, every later edge of the other
    kind (plain or parallel) when no edge of that other kind is declared before it.
    """
    static = ci.spec.mode == "static"
    for node, edges in ci.out.items():
        first_open: CompiledEdge | None = None
        seen: set[bool] = set()  # the kinds (parallel or not) declared so far
        # by kind: the first always-open edge with no edge of the other kind before it; from
        # there on, the first open edge is always of that kind
        decides: dict[bool, CompiledEdge] = {}
        for edge in edges:
            other = not edge.parallel
            blocker = first_open if static and not edge.parallel else decides.get(other)
            if blocker is not None:
                yield _dead_edge(ci, node, edge, blocker)
            if _always_open(ci, edge):
                first_open = first_open or edge
                if other not in seen:
                    decides.setdefault(edge.parallel, edge)
            seen.add(edge.parallel)


def _dead_edge(ci: CheckInput, node: str, edge: CompiledEdge, blocker: CompiledEdge) -> Finding:
    static = ci.spec.mode == "static"
    if blocker.parallel:
        outcome = "always fans out"
    elif static:
        outcome = "is always taken"
    else:
        outcome = "always leads to a choice among the plain edges"
    hint = f"add a guard or max_traversals to edge {blocker.index}"
    if static and not edge.parallel and not blocker.parallel:
        hint += ", mark both parallel, or use mode: dynamic"
    else:
        hint += ", or declare the edges in another order"
    return ci.finding(
        "FG007",
        f"{ci.spec.mode} node {node!r}: the {_edge_words(edge)} can never be taken; the "
        f"unconditional {_edge_words(blocker)} is tried before it and {outcome} ({hint})",
        ("edges", edge.index),
        node=node,
    )


def check_orphan_joins(ci: CheckInput) -> Iterator[Finding]:
    """FG008: a join node lies downstream of some parallel branch (a fan-out feeds it)."""
    joins = [name for name, node in ci.nodes.items() if node.join is not None]
    if not joins:
        return
    branch_starts = {e.target for e in ci.edges if e.parallel}
    after = {succ for start in branch_starts for succ in ci.graph.successors(start)}
    fed = _reachable_from(ci.graph, after)
    for node in joins:
        if node not in fed:
            yield ci.finding(
                "FG008",
                f"join node {node!r} is fed by no parallel fan-out",
                (*ci.node_paths[node], "join"),
                node=node,
            )


def check_unjoined_fan_outs(ci: CheckInput) -> Iterator[Finding]:
    """FG018: each branch of a fan-out can reach a join node.

    A branch runs from its parallel edge's target until the next node it would enter is a
    join (``join: all | any``). A branch that can reach no join runs on to its own end, and
    the nodes such branches share run once per branch.
    """
    joins = {name for name, node in ci.nodes.items() if node.join is not None}
    feeding = {source for join in joins for source in ci.graph.predecessors(join)}
    reaches_join = _reachable_from(ci.graph, feeding, reverse=True)  # by one edge or more
    for node, edges in ci.out.items():
        parallel = [e for e in edges if e.parallel]
        lost = [e for e in parallel if e.target not in reaches_join]
        if not lost:
            continue
        targets = ", ".join(repr(e.target) for e in lost)
        if len(lost) == len(parallel):
            what = f"no branch of the fan-out from {node!r} (to {targets}) can reach a join node"
        else:
            which = "a branch" if len(lost) == 1 else "some branches"
            what = f"{which} of the fan-out from {node!r} (to {targets}) can never reach a join"
        yield ci.finding(
            "FG018",
            f"{what}; each branch then runs on to its own end, and a node the branches share "
            "runs once per branch (mark the node where they should meet join: all | any)",
            ("edges", lost[0].index),
            node=node,
        )


def check_self_loops(ci: CheckInput) -> Iterator[Finding]:
    """FG010: a self-loop edge needs ``allow_repeat: true`` on its node."""
    for edge in ci.edges:
        if edge.source == edge.target and not ci.nodes[edge.source].allow_repeat:
            yield ci.finding(
                "FG010",
                f"self-loop on {edge.source!r} but the node does not allow_repeat",
                ("edges", edge.index),
                node=edge.source,
            )


def check_isolated(ci: CheckInput) -> Iterator[Finding]:
    """FG011: in a graph of several nodes, every node has at least one edge."""
    if len(ci.nodes) < 2:
        return
    for node in ci.nodes:
        if ci.graph.degree(node) == 0:
            yield ci.node_finding("FG011", node, f"node {node!r} has no edges")


def check_dynamic_selector(ci: CheckInput) -> Iterator[Finding]:
    """FG012: in dynamic mode, a node with several candidates needs a way to choose.

    That is a selector model, or a non-model ``selector.fallback`` (first, round_robin).
    """
    selector = ci.spec.selector
    if ci.spec.mode != "dynamic" or selector.model is not None or selector.fallback != "error":
        return
    for node, edges in ci.out.items():
        if sum(1 for e in edges if not e.parallel) > 1:
            yield ci.node_finding(
                "FG012",
                node,
                f"dynamic node {node!r} has several candidates but the selector has no model "
                "(set selector.model, or selector.fallback: first | round_robin)",
            )


def check_unknown_models(ci: CheckInput) -> Iterator[Finding]:
    """FG013: ``model`` of agents and of the selector names an entry of ``models``.

    A subgroup's ``summary_model`` names one of its graph's models, of this graph's, or of
    the top graph's, looked up in that order.
    """
    models = ci.spec.models
    for index, agent in enumerate(ci.spec.agents):
        if agent.model is not None and agent.model not in models:
            yield ci.finding(
                "FG013",
                f"agent {agent.name!r} uses unknown model {agent.model!r}",
                ("agents", index, "model"),
                node=agent.name,
            )
    if ci.spec.selector.model is not None and ci.spec.selector.model not in models:
        yield ci.finding(
            "FG013",
            f"selector uses unknown model {ci.spec.selector.model!r}",
            ("selector", "model"),
        )
    for index, subgroup, sub in _loaded_subgroups(ci):
        name = subgroup.summary_model
        if name is not None and all(name not in m for m in (sub.models, models, ci.top_models)):
            yield _subgroup_finding(
                ci, "FG013", index, "summary_model",
                f"uses unknown summary model {name!r} (not in its graph's models, this graph's "
                "or the top graph's)",
            )


def _subgroup_finding(ci: CheckInput, code: str, index: int, key: str, what: str) -> Finding:
    """A finding about field ``key`` of subgroup ``index``; ``what`` follows its name."""
    name = ci.spec.subgroups[index].name
    return ci.finding(code, f"subgroup {name!r} {what}", ("subgroups", index, key), node=name)


def _loaded_subgroups(ci: CheckInput) -> Iterator[tuple[int, SubgroupSpec, CompiledGraph]]:
    """Each subgroup whose graph could be loaded (FG009 and FG016 report the others)."""
    for index, subgroup in enumerate(ci.spec.subgroups):
        sub = ci.subgraphs.get(index)
        if sub is not None:
            yield index, subgroup, sub


def check_reflection_models(ci: CheckInput) -> Iterator[Finding]:
    """FG019: a ``reflection`` summary has a model to write it.

    That is the subgroup's ``summary_model``, or else its graph's ``selector.model``.
    """
    for index, subgroup, sub in _loaded_subgroups(ci):
        if subgroup.summary == "reflection" and not (
            subgroup.summary_model or sub.selector.model
        ):
            yield _subgroup_finding(
                ci, "FG019", index, "summary",
                "asks for a reflection summary but names no model (set summary_model on the "
                "subgroup, or selector.model in its graph)",
            )


def check_duplicate_edges(ci: CheckInput) -> Iterator[Finding]:
    """FG014: an edge ``from -> to`` is declared once (combine guards with any:)."""
    seen: dict[tuple[str, str], int] = {}
    for index, edge in enumerate(ci.spec.edges):
        pair = (edge.source, edge.target)
        if pair in seen:
            yield ci.finding(
                "FG014",
                f"edge {edge.source!r} -> {edge.target!r} is declared twice "
                f"(first as edge {seen[pair]}); combine the guards with any:",
                ("edges", index),
            )
        else:
            seen[pair] = index


def check_counter_names(ci: CheckInput) -> Iterator[Finding]:
    """FG015: a counter guard reads a node name or an existing edge ``"src->dst"``."""
    keys = {edge.key for edge in ci.edges}
    for index, edge in enumerate(ci.spec.edges):
        if edge.guard is None:
            continue
        for name in edge.guard.counter_names():
            if name not in ci.nodes and name not in keys:
                yield ci.finding(
                    "FG015",
                    f"counter {name!r} is neither a node nor an edge 'src->dst' of this graph",
                    ("edges", index, "guard"),
                )


CHECKS: tuple[Check, ...] = (
    check_unknown_names,
    check_duplicate_names,
    check_missing_start,
    check_unknown_models,
    check_reflection_models,
    check_duplicate_edges,
    check_self_loops,
    check_isolated,
    check_unreachable,
    check_traps,
    check_no_end,
    check_unbounded_cycles,
    check_dead_edges,
    check_orphan_joins,
    check_unjoined_fan_outs,
    check_dynamic_selector,
    check_counter_names,
)


def run_checks(ci: CheckInput) -> list[Finding]:
    """Every check over one graph, in a stable order."""
    return [finding for check in CHECKS for finding in check(ci)]
