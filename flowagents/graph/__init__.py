"""Conversation graphs: one spec (YAML files or a Python builder) compiled into a checked graph.

General layout: ``_spec`` and ``_guards`` are the data model; ``_source`` loads files with
positions; ``_compiler`` resolves names and subgroups and builds the networkx graph;
``_checks`` holds one function per finding code; ``_compiled`` is the immutable result the
runtime executes; ``_builder`` and ``_transitions`` are the Python front doors; ``_schema``
renders the JSON Schema and the format reference.
"""

from flowagents.graph._builder import GraphBuilder, agent_spec_from_object
from flowagents.graph._checks import CHECKS
from flowagents.graph._compiled import CompiledEdge, CompiledGraph, CompiledNode
from flowagents.graph._compiler import check_graph, compile_graph, load_graph_spec
from flowagents.graph._findings import CODES, Finding, Severity
from flowagents.graph._guards import (
    AllGuard,
    AnyGuard,
    CodeGuard,
    ContainsGuard,
    CounterGuard,
    Guard,
    GuardContext,
    MatchesGuard,
    NotGuard,
    PythonGuard,
    SimpleGuardContext,
    ToolCallGuard,
)
from flowagents.graph._schema import graph_json_schema
from flowagents.graph._spec import (
    AgentSpec,
    EdgeSpec,
    GraphSpec,
    ModelSpec,
    SelectorSpec,
    SubgroupSpec,
    TerminationSpec,
)
from flowagents.graph._transitions import graph_from_transitions

__all__ = [
    "CHECKS",
    "CODES",
    "AgentSpec",
    "AllGuard",
    "AnyGuard",
    "CodeGuard",
    "CompiledEdge",
    "CompiledGraph",
    "CompiledNode",
    "ContainsGuard",
    "CounterGuard",
    "EdgeSpec",
    "Finding",
    "GraphBuilder",
    "GraphSpec",
    "Guard",
    "GuardContext",
    "MatchesGuard",
    "ModelSpec",
    "NotGuard",
    "PythonGuard",
    "SelectorSpec",
    "Severity",
    "SimpleGuardContext",
    "SubgroupSpec",
    "TerminationSpec",
    "ToolCallGuard",
    "agent_spec_from_object",
    "check_graph",
    "compile_graph",
    "graph_from_transitions",
    "graph_json_schema",
    "load_graph_spec",
]
