"""What a Runner was given, and how each run gets its agents, model clients and selectors."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowagents.agents._agent import Agent
from flowagents.agents._conversable import ConversableAgent
from flowagents.errors import ConfigError, RunError, RunLocation
from flowagents.models import ModelClient
from flowagents.runtime._context import InputProvider
from flowagents.runtime._scope import RunState, Scope
from flowagents.runtime._selector import SelectionMethod, SelectorPrompt, SpeakerSelector

if TYPE_CHECKING:
    from flowagents.graph import AgentSpec, CompiledGraph


class Hub(Agent):
    """The shared peer of a group conversation: every member hears the others through it."""


def peers(
    graph: CompiledGraph, agents: Mapping[str, ConversableAgent], hub: Agent | None
) -> dict[str, Any]:
    """Whom each agent hears from: its one peer in a pair, else the group's hub."""
    names = list(agents)
    if hub is None and len(names) == 2 and len(graph.nodes) == 2:
        a, b = names
        return {a: agents[b], b: agents[a]}
    shared = hub or Hub(graph.name, graph.spec.description)
    return dict.fromkeys(names, shared)


@dataclass(slots=True, kw_only=True)
class Setup:
    """A Runner's settings for its graph (``graph``), and what each run builds from them."""

    graph: CompiledGraph
    agents: Mapping[str, ConversableAgent]
    """Live agents bound to node names of ``graph`` (not of its subgroups), over the graph's
    own bindings and specs."""
    hub: Agent | None = None
    selection: SelectionMethod | None = None
    selector_client: ModelClient | None = None
    selector_input: InputProvider | None = None
    selector_prompt: SelectorPrompt | None = None
    is_termination_msg: Callable[[dict[str, Any]], bool] | None = None
    max_turns: int | None = None
    seed: int = 0
    observers: Sequence[list[dict[str, Any]]] = ()
    select_first_speaker: bool = False
    """A task from outside the graph is then treated as a group chat's opening from a
    non-member: tested for termination, and the selector picks the first speaker."""
    free_selection: bool = False
    """AutoGen's custom speaker_selection_method: asked at every turn of the top graph, and
    any agent it names speaks, a permitted successor or not."""

    def root_scope(self, run: RunState, prefix: str) -> Scope:
        """The conversation of the runner's own graph, its agents built for ``run``."""
        agents = self.resolve_agents(self.graph, run)
        scope = Scope(
            self.graph, agents, peers(self.graph, agents, self.hub), prefix=prefix, run=run
        )
        scope.observers = self.observers
        budget = self.graph.termination.token_budget
        if budget is not None:
            scope.budgets = ((budget, run.ctx.usage.total),)
        return scope

    def resolve_agents(self, graph: CompiledGraph, run: RunState) -> dict[str, ConversableAgent]:
        """The live agent of each agent node of ``graph``: bound, or built from its spec."""
        agents: dict[str, ConversableAgent] = {}
        # Node names are per graph: the runner's agents are bound in its own graph only, not
        # to a subgroup's node that happens to share a name.
        overrides = self.agents if graph is self.graph else {}
        for name, node in graph.nodes.items():
            if node.kind != "agent":
                continue
            bound = overrides.get(name) or graph.bindings.get(name)
            if bound is None:
                if node.agent is None:
                    raise RunError(
                        f"node {name!r} of graph {graph.name!r} has no agent spec and no live "
                        "agent bound to it",
                        where=RunLocation(node=name),
                    )
                bound = self._build(node.agent, graph, run)
            if not isinstance(bound, ConversableAgent):
                raise RunError(
                    f"node {name!r} is bound to {bound!r}, which is not a ConversableAgent",
                    where=RunLocation(node=name),
                )
            agents[name] = bound
        return agents

    def _build(self, spec: AgentSpec, graph: CompiledGraph, run: RunState) -> ConversableAgent:
        """The live agent for ``spec``; a configuration error names the agent and the graph."""
        from flowagents.agents._factory import build_agent

        try:
            return build_agent(spec, lambda name: self.client_for(name, graph, run))
        except ConfigError as exc:
            origin = f" ({graph.source})" if graph.source else ""
            raise ConfigError(
                f"cannot build agent {spec.name!r} of graph {graph.name!r}{origin}: {exc}",
                where=RunLocation(node=spec.name),
            ) from exc

    def client_for(self, model_name: str, graph: CompiledGraph, run: RunState) -> ModelClient:
        """One client per named model config and run, shared by the agents that name it.

        A subgroup's own models come first, then the enclosing (root) graph's.
        """
        owner = graph if model_name in graph.models else self.graph
        key = (id(owner), model_name)
        client = run.clients.get(key)
        if client is None:
            from flowagents.agents._factory import client_from_spec

            spec = owner.models.get(model_name)
            if spec is None:
                raise RunError(
                    f"no model named {model_name!r} in graph {graph.name!r} "
                    f"(models: {', '.join(graph.models) or 'none'})"
                )
            client = client_from_spec(spec)
            run.clients[key] = client
        return client

    def selector(self, graph: CompiledGraph, run: RunState) -> SpeakerSelector:
        """The speaker selector of ``graph`` for ``run`` (one per graph and run)."""
        selector = run.selectors.get(id(graph))
        if selector is None:
            spec = graph.selector
            top = graph is self.graph
            # The runner's selector client overrides the top graph's selector model; a
            # subgroup chooses with its own and inherits the runner's only when it has none.
            client = self.selector_client if top else None
            if client is None and spec.model is not None:
                client = self.client_for(spec.model, graph, run)
            if client is None:
                client = self.selector_client
            selector = SpeakerSelector(
                method=self.selection if top and self.selection else "auto",
                any_of=list(graph.nodes) if top and self.free_selection else (),
                client=client,
                fallback=spec.fallback,
                max_retries=spec.max_retries,
                constraint=spec.constraint,
                descriptions={name: node.description for name, node in graph.nodes.items()},
                node_order=list(graph.nodes),
                seed=self.seed,
                input_provider=self.selector_input,
                prompt=self.selector_prompt if top else None,
                rejected=run.ctx.selector_rejections,
            )
            run.selectors[id(graph)] = selector
        return selector
