"""The AutoGen front door: ``allowed_or_disallowed_speaker_transitions`` -> CompiledGraph."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from flowagents.graph._builder import GraphBuilder, node_name
from flowagents.graph._compiled import CompiledGraph
from flowagents.graph._spec import AgentSpec, ModelSpec, SelectorSpec, TerminationSpec


def graph_from_transitions(
    agents: Sequence[object],
    transitions: Mapping[object, Sequence[object]] | None = None,
    speaker_transitions_type: Literal["allowed", "disallowed"] = "allowed",
    *,
    name: str = "groupchat",
    start: object | None = None,
    mode: Literal["static", "dynamic"] = "dynamic",
    allow_repeat_speaker: bool = True,
    selector: SelectorSpec | None = None,
    termination: TerminationSpec | None = None,
    models: Mapping[str, ModelSpec] | None = None,
) -> CompiledGraph:
    """Compile AutoGen-style speaker transitions into a graph.

    ``agents`` are names, AgentSpecs or live agents (``.name``); keys and values of
    ``transitions`` may be any of those. ``"allowed"`` lists the edges; ``"disallowed"``
    removes edges from the complete graph (with self-loops when ``allow_repeat_speaker``);
    ``None`` means the complete graph. A self-loop marks its node ``allow_repeat``.
    Without a ``selector`` the graph falls back to round robin, as no model is named.
    """
    names = [node_name(agent) for agent in agents]
    listed = {
        node_name(source): [node_name(t) for t in targets]
        for source, targets in (transitions or {}).items()
    }
    if transitions is not None and speaker_transitions_type == "allowed":
        pairs = [(source, target) for source, targets in listed.items() for target in targets]
    elif transitions is None or speaker_transitions_type == "disallowed":
        pairs = [
            (source, target)
            for source in names
            for target in names
            if target not in listed.get(source, ())
            and (source != target or allow_repeat_speaker)
        ]
    else:
        raise ValueError(
            f"speaker_transitions_type must be 'allowed' or 'disallowed', "
            f"not {speaker_transitions_type!r}"
        )
    repeats = {source for source, target in pairs if source == target}
    builder = GraphBuilder(name, mode=mode)
    for model_name, model in (models or {}).items():
        builder.model(model_name, model)
    for agent in agents:
        repeat = node_name(agent) in repeats
        if isinstance(agent, str):
            builder.agent(agent, allow_repeat=repeat)
        elif isinstance(agent, AgentSpec):
            builder.agent(agent.model_copy(update={"allow_repeat": repeat}))
        else:
            builder.agent(agent, allow_repeat=repeat)
    for source, target in pairs:
        builder.edge(source, target)
    if names or start is not None:
        builder.start(node_name(start) if start is not None else names[0])
    builder.selector(**(selector or SelectorSpec(fallback="round_robin")).model_dump())
    if termination is not None:
        builder.terminate(**dict(termination))
    return builder.compile()
