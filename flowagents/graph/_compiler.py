"""The compiler: load -> resolve names and subgroups -> build the networkx graph -> check.

``compile_graph`` raises GraphCompileError when any finding is an error; ``check_graph``
returns the findings. Both raise GraphLoadError for input that cannot be parsed at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from flowagents.errors import GraphCompileError
from flowagents.graph._checks import CheckInput, run_checks
from flowagents.graph._compiled import CompiledEdge, CompiledGraph, CompiledNode
from flowagents.graph._findings import CODES, Finding
from flowagents.graph._source import SourceMap, SpecPath, display_path, load_spec_file
from flowagents.graph._spec import GraphSpec, ModelSpec

SpecOrPath = GraphSpec | str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class Bindings:
    """Live agents given to a builder, per graph level: node names are unique per level only.

    ``agents`` binds this level's node names; ``subgroups`` holds the bindings of each inline
    subgroup graph, by the subgroup's index in ``GraphSpec.subgroups``.
    """

    agents: Mapping[str, object] = field(default_factory=dict)
    subgroups: Mapping[int, Bindings] = field(default_factory=dict)

    @classmethod
    def of(cls, graph: CompiledGraph) -> Bindings:
        """The bindings of a compiled graph and of every subgroup graph inside it."""
        nested = {
            index: cls.of(sub)
            for index, subgroup in enumerate(graph.canonical_spec.subgroups)
            if (node := graph.nodes.get(subgroup.name)) is not None
            and (sub := node.subgraph) is not None
        }
        return cls(graph.bindings, nested)


def load_graph_spec(path: str | os.PathLike[str]) -> GraphSpec:
    """Read and validate one graph file (subgroup files are not followed)."""
    return load_spec_file(path)[0]


def compile_graph(spec_or_path: SpecOrPath, *, base_dir: str | os.PathLike[str] | None = None
                  ) -> CompiledGraph:
    """Compile a spec or a graph file; raise GraphCompileError carrying every finding."""
    compiled, findings = compile_with_findings(spec_or_path, base_dir=base_dir)
    raise_on_errors(compiled.name, findings)
    return compiled


def check_graph(spec_or_path: SpecOrPath, *, base_dir: str | os.PathLike[str] | None = None
                ) -> list[Finding]:
    """Every finding for a spec or a graph file (raises only GraphLoadError, for bad input)."""
    return compile_with_findings(spec_or_path, base_dir=base_dir)[1]


def raise_on_errors(name: str, findings: list[Finding]) -> None:
    """Raise GraphCompileError when any finding is an error."""
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        lines = "".join(f"\n  {f}" for f in errors)
        raise GraphCompileError(
            f"graph {name!r} has {len(errors)} error(s):{lines}",
            where=errors[0].location,
            findings=tuple(findings),
        )


def compile_with_findings(
    spec_or_path: SpecOrPath,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    smap: SourceMap | None = None,
    bindings: Bindings | None = None,
) -> tuple[CompiledGraph, list[Finding]]:
    """Compile without raising for findings; the graph may be partial when there are errors."""
    session = _Session()
    if isinstance(spec_or_path, GraphSpec):
        root = Path(base_dir) if base_dir is not None else Path.cwd()
        return session.compile(
            spec_or_path,
            smap or SourceMap(None),
            source=None,
            base_dir=root,
            chain=(),
            default_name="graph",
            bindings=bindings,
        )
    path = Path(spec_or_path).resolve()
    spec, file_map = session.load(path)
    return session.compile(
        spec,
        file_map,
        source=display_path(path),
        base_dir=Path(base_dir) if base_dir is not None else path.parent,
        chain=(path,),
        default_name=path.stem,
        bindings=bindings,
    )


@dataclass
class _Session:
    """One compilation: loaded files are read once even when included several times."""

    files: dict[Path, tuple[GraphSpec, SourceMap]] = field(default_factory=dict)

    def load(self, path: Path) -> tuple[GraphSpec, SourceMap]:
        if path not in self.files:
            self.files[path] = load_spec_file(path)
        return self.files[path]

    def compile(
        self,
        spec: GraphSpec,
        smap: SourceMap,
        *,
        source: str | None,
        base_dir: Path,
        chain: tuple[Path, ...],
        default_name: str,
        bindings: Bindings | None = None,
        graph_path: str = "",
        top_models: Mapping[str, ModelSpec] | None = None,
    ) -> tuple[CompiledGraph, list[Finding]]:
        name = spec.name or default_name
        graph_path = f"{graph_path}/{name}" if graph_path else name
        top = spec.models if top_models is None else top_models
        findings: list[Finding] = []
        subgraphs = self._resolve_subgroups(
            spec, smap, base_dir, chain, graph_path, findings, source, bindings, top
        )
        nodes, node_paths = _build_nodes(spec, subgraphs)
        edges = _build_edges(spec, nodes)
        graph = _build_networkx(nodes, edges)
        out: dict[str, list[CompiledEdge]] = {node: [] for node in nodes}
        for edge in edges:
            out[edge.source].append(edge)
        ci = CheckInput(
            spec, graph, nodes, node_paths, edges, out, smap, graph_path, subgraphs, top
        )
        findings[:0] = run_checks(ci)
        canonical = _canonical(spec, name, subgraphs)
        compiled = CompiledGraph(
            name=name,
            spec=spec,
            canonical=canonical,
            nodes=nodes,
            edges=edges,
            graph=graph,
            source=source,
            bindings={n: obj for n, obj in bindings.agents.items() if n in nodes}
            if bindings is not None
            else None,
            findings=[f for f in findings if f.severity != "error"],
        )
        return compiled, findings

    def _resolve_subgroups(
        self,
        spec: GraphSpec,
        smap: SourceMap,
        base_dir: Path,
        chain: tuple[Path, ...],
        graph_path: str,
        findings: list[Finding],
        source: str | None,
        bindings: Bindings | None,
        top_models: Mapping[str, ModelSpec],
    ) -> dict[int, CompiledGraph | None]:
        """Compile every subgroup; FG009 for include cycles, FG016 for missing files."""
        subgraphs: dict[int, CompiledGraph | None] = {}
        for index, subgroup in enumerate(spec.subgroups):
            at: SpecPath = ("subgroups", index, "graph")
            if isinstance(subgroup.graph, GraphSpec):
                sub, sub_findings = self.compile(
                    subgroup.graph,
                    smap.sub(at),
                    source=source,
                    base_dir=base_dir,
                    chain=chain,
                    default_name=subgroup.name,
                    bindings=bindings.subgroups.get(index) if bindings is not None else None,
                    graph_path=graph_path,
                    top_models=top_models,
                )
                subgraphs[index] = sub
                findings.extend(sub_findings)
                continue
            target = (base_dir / subgroup.graph).resolve()
            subgraphs[index] = None
            if target in chain:
                shown = " -> ".join(display_path(p) for p in (*chain, target))
                findings.append(_finding(
                    "FG009", f"subgroup {subgroup.name!r} includes itself: {shown}",
                    smap, at, graph_path, subgroup.name,
                ))
            elif not target.is_file():
                findings.append(_finding(
                    "FG016",
                    f"subgroup {subgroup.name!r}: graph file {display_path(target)} not found",
                    smap, at, graph_path, subgroup.name,
                ))
            else:
                sub_spec, sub_map = self.load(target)
                sub, sub_findings = self.compile(
                    sub_spec,
                    sub_map,
                    source=display_path(target),
                    base_dir=target.parent,
                    chain=(*chain, target),
                    default_name=target.stem,
                    graph_path=graph_path,
                    top_models=top_models,
                )
                subgraphs[index] = sub
                findings.extend(sub_findings)
        return subgraphs


def _finding(
    code: str, message: str, smap: SourceMap, at: SpecPath, graph: str, node: str
) -> Finding:
    return Finding(
        code=code,
        severity=CODES[code][0],
        message=message,
        location=smap.locate(at),
        graph=graph,
        node=node,
    )


def _build_nodes(
    spec: GraphSpec, subgraphs: Mapping[int, CompiledGraph | None]
) -> tuple[dict[str, CompiledNode], dict[str, SpecPath]]:
    """Resolve names: one CompiledNode per distinct name (the first declaration wins)."""
    nodes: dict[str, CompiledNode] = {}
    paths: dict[str, SpecPath] = {}
    for index, agent in enumerate(spec.agents):
        if agent.name not in nodes:
            nodes[agent.name] = CompiledNode(
                name=agent.name,
                kind="agent",
                agent=agent,
                description=agent.description,
                max_visits=agent.max_visits,
                join=agent.join,
                allow_repeat=agent.allow_repeat,
            )
            paths[agent.name] = ("agents", index)
    for index, subgroup in enumerate(spec.subgroups):
        if subgroup.name not in nodes:
            sub = subgraphs.get(index)
            nodes[subgroup.name] = CompiledNode(
                name=subgroup.name,
                kind="subgroup",
                subgraph=sub,
                description=subgroup.description or (sub.spec.description if sub else ""),
                max_visits=subgroup.max_visits,
                join=subgroup.join,
                allow_repeat=subgroup.allow_repeat,
                summary=subgroup.summary,
                summary_model=subgroup.summary_model,
                expose=subgroup.expose,
            )
            paths[subgroup.name] = ("subgroups", index)
    return nodes, paths


def _build_edges(spec: GraphSpec, nodes: Mapping[str, CompiledNode]) -> list[CompiledEdge]:
    """Edges whose ends exist; a repeated pair keeps its first declaration (FG014)."""
    seen: set[tuple[str, str]] = set()
    edges: list[CompiledEdge] = []
    for index, edge in enumerate(spec.edges):
        pair = (edge.source, edge.target)
        if edge.source not in nodes or edge.target not in nodes or pair in seen:
            continue
        seen.add(pair)
        edges.append(
            CompiledEdge(
                source=edge.source,
                target=edge.target,
                guard=edge.guard,
                label=edge.label,
                parallel=edge.parallel,
                max_traversals=edge.max_traversals,
                index=index,
            )
        )
    return edges


def _build_networkx(nodes: Mapping[str, CompiledNode], edges: list[CompiledEdge]) -> nx.DiGraph:
    """Build the bare networkx graph the checks run on (attributes come in ``to_networkx``)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from((e.source, e.target) for e in edges)
    return graph


def _canonical(
    spec: GraphSpec, name: str, subgraphs: Mapping[int, CompiledGraph | None]
) -> GraphSpec:
    """Return the spec with its name filled in and subgroup files inlined (what the hash covers)."""
    subgroups = [
        s.model_copy(update={"graph": sub.canonical_spec}) if (sub := subgraphs.get(i)) else s
        for i, s in enumerate(spec.subgroups)
    ]
    return spec.model_copy(update={"name": name, "subgroups": subgroups})
