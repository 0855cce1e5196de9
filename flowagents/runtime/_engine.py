"""The engine: runs a compiled graph, one turn at a time, emitting one stream of events.

Every conversation in flowagents runs here: a two-agent ``initiate_chat`` is a two-node graph,
a GroupChat a dynamic graph, a nested chat a subgroup node.
"""

from __future__ import annotations

import asyncio
import itertools
import operator
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from flowagents.agents._builtin_replies import reply_to_message
from flowagents.agents._conversable import Agent, ConversableAgent, to_oai_dict
from flowagents.errors import (
    ConfigError,
    FlowAgentsError,
    HumanInputNeeded,
    RunError,
    RunLocation,
    describe_error,
)
from flowagents.events import (
    ErrorRaised,
    Event,
    MessageSent,
    NodeEntered,
    NodeLeft,
    RunFinished,
    RunStarted,
    SpeakerSelected,
    Terminated,
)
from flowagents.messages import Message
from flowagents.models import ModelClient, ModelRequest
from flowagents.runtime._context import (
    CURRENT_RUN,
    CURRENT_STEP,
    OBSERVERS,
    EventSink,
    InputProvider,
    Interceptor,
    RunContext,
    StepScope,
    new_run_id,
)
from flowagents.runtime._scope import RunState, Scope
from flowagents.runtime._selector import SelectionMethod, SelectorPrompt, SpeakerSelector

if TYPE_CHECKING:
    from flowagents.graph import AgentSpec, CompiledEdge, CompiledGraph, CompiledNode

RunStatus = Literal["completed", "failed", "cancelled", "waiting_for_human"]

REFLECTION_PROMPT = (
    "Summarize the outcome of the conversation above in a few sentences. "
    "Start directly with the summary."
)


class RunResult(BaseModel):
    """How a run ended and what was said."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    run_id: str
    graph: str
    status: RunStatus
    reason: str
    detail: str = ""
    last_node: str | None = None
    messages: list[Message] = Field(default_factory=list)
    summary: str = ""
    cost: dict[str, Any] = Field(default_factory=dict)
    human_inputs: list[str] = Field(default_factory=list)


@dataclass(slots=True)
class _Outcome:
    reason: str
    detail: str = ""
    node: str | None = None
    join: str | None = None


@dataclass(slots=True)
class _Plan:
    """What the loop needs of a graph, worked out once per graph instead of every turn."""

    simple: dict[str, tuple[str, str]]
    choices: dict[str, tuple[list[str], dict[str, CompiledEdge]]]
    keyword: str | None
    terminal: frozenset[str]
    max_turns: int | None
    is_termination_msg: Callable[[dict[str, Any]], bool] | None
    joins_any: bool
    ends: frozenset[str]
    agents: tuple[str, ...]
    recipients: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, graph: CompiledGraph, root: Runner | None) -> _Plan:
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
            if len(edges) == 1 and not (root is not None and root._free_selection):
                simple[name] = (edges[0].key, edges[0].target)
            elif graph.mode == "dynamic":
                by_target = {edge.target: edge for edge in edges}
                choices[name] = (list(by_target), by_target)
        term = graph.termination
        max_turns = term.max_turns
        if root is not None and root._max_turns is not None:
            max_turns = root._max_turns
        return cls(
            simple=simple,
            choices=choices,
            keyword=term.keyword,
            terminal=frozenset(term.terminal) or _NO_NAMES,
            max_turns=max_turns,
            is_termination_msg=root._is_termination_msg if root is not None else None,
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


_NO_TASK = _Outcome("no_task")
_NO_NAMES: frozenset[str] = frozenset()  # shared: an empty frozenset is a new object each time


def _no_successor(node: str) -> _Outcome:
    return _Outcome("no_successor", f"{node} has no permitted successor", node=node)


class _Hub(Agent):
    """The shared peer of a group conversation: every member hears the others through it."""


class Runner:
    """Runs one compiled graph; reusable for several runs of the same graph."""

    def __init__(
        self,
        graph: CompiledGraph,
        *,
        agents: Mapping[str, ConversableAgent] | None = None,
        hub: Agent | None = None,
        selection: SelectionMethod | None = None,
        selector_client: ModelClient | None = None,
        selector_input: InputProvider | None = None,
        sinks: Sequence[EventSink] = (),
        input_provider: InputProvider | None = None,
        interceptor: Interceptor | None = None,
        is_termination_msg: Callable[[dict[str, Any]], bool] | None = None,
        max_turns: int | None = None,
        seed: int = 0,
        manifest: Mapping[str, Any] | None = None,
        observers: Sequence[list[dict[str, Any]]] = (),
        select_first_speaker: bool = False,
        free_selection: bool = False,
        selector_prompt: SelectorPrompt | None = None,
    ) -> None:
        if max_turns is not None and max_turns < 1:
            raise ConfigError(f"max_turns must be at least 1, got {max_turns}")
        self.graph = graph
        self._agent_overrides = dict(agents or {})
        self._hub = hub
        self._selection = selection
        self._selector_client = selector_client
        self._selector_input = selector_input
        self.sinks = list(sinks)
        self._input_provider = input_provider
        self._interceptor = interceptor
        self._is_termination_msg = is_termination_msg
        self._max_turns = max_turns
        self._seed = seed
        self.manifest = dict(manifest or {})
        self._observers = tuple(observers)
        # A task from outside the graph is then treated as a group chat's opening from a
        # non-member: tested for termination, and the selector picks the first speaker.
        self._select_first_speaker = select_first_speaker
        # AutoGen's custom speaker_selection_method: asked at every turn of the top graph,
        # and any agent it names speaks, a permitted successor or not.
        self._free_selection = free_selection and callable(selection)
        self._selector_prompt = selector_prompt
        self._plans: dict[int, _Plan] = {}

    # -- public ------------------------------------------------------------------------------

    async def arun(
        self,
        task: str | Message | None = None,
        *,
        sender: str | None = None,
        run_id: str | None = None,
        preamble: Sequence[Message] = (),
        finalize: Callable[[list[Message]], Awaitable[str]] | None = None,
        sinks: Sequence[EventSink] = (),
    ) -> RunResult:
        """Run the graph on ``task`` (spoken by node ``sender``, or by the user).

        ``preamble`` messages are delivered first (e.g. introductions); ``finalize`` computes
        the summary inside the run, so that a model it calls is part of the record. ``sinks``
        receive this run's events only, after the Runner's own sinks.
        """
        outer = CURRENT_RUN.get()
        prefix = ""
        own_sinks = [*self.sinks, *sinks]
        if outer.is_idle:
            ctx = RunContext(
                run_id or new_run_id(),
                sinks=[*own_sinks, *OBSERVERS.get()],
                input_provider=self._input_provider,
                interceptor=self._interceptor,
            )
        else:
            # A run inside a run (nested chats, an agent consulted as a tool): it is recorded
            # in the enclosing run, under the step that started it.
            ctx = outer.child(sinks=own_sinks)
            if self._input_provider is not None:
                ctx.input_provider = self._input_provider
            prefix = f"{CURRENT_STEP.get().step}/{self.graph.name}."
        run_token = CURRENT_RUN.set(ctx)
        step_token = CURRENT_STEP.set(StepScope(prefix.rstrip(".") or "0"))
        graph = self.graph
        summary = ""
        outcome = _NO_TASK
        status: RunStatus = "completed"
        if ctx.sinks and ctx.parent is None:
            ctx.emit(
                RunStarted(
                    run_id=ctx.run_id,
                    step="0",
                    graph=graph.name,
                    task=task.text if isinstance(task, Message) else task,
                    manifest={"seed": self._seed} | self.manifest,  # the store adds the rest
                )
            )
        try:
            # Agents are built once the run is recorded: one that cannot be built fails it.
            scope = self._root_scope(RunState(ctx), prefix)
            for message in preamble:
                step = scope.next_step()
                self._emit_message(scope, step, message.name or "", message)
                scope.deliver(message, None, observed=False)
                scope.uncounted += 1
            if task is not None:
                first = await self._open(scope, task, sender)
                if isinstance(first, _Outcome):
                    outcome = first
                else:
                    outcome = await self._converse(scope, first, via=sender)
            if finalize is not None:
                summary = await finalize(scope.transcript)
            elif scope.last_message is not None:
                summary = scope.last_message.text
            self._finish(ctx, outcome, status)
        except HumanInputNeeded as pause:
            if ctx.parent is not None:
                raise
            outcome = _Outcome("waiting_for_human", pause.prompt, node=pause.agent)
            status = "waiting_for_human"
            self._finish(ctx, outcome, status)
        except asyncio.CancelledError:
            self._finish(ctx, _Outcome("cancelled"), "cancelled")
            raise
        except KeyboardInterrupt:
            self._finish(ctx, _Outcome("cancelled"), "cancelled")
            raise
        except Exception as exc:
            # Raised as it is, so that a caller's ``except ValueError`` still catches it.
            self._located(exc, ctx)
            self._finish(ctx, _Outcome("error", describe_error(exc)), "failed", error=exc)
            raise
        finally:
            CURRENT_STEP.reset(step_token)
            CURRENT_RUN.reset(run_token)
        # Built from trusted internal state: validating every message again costs more than
        # the whole run of a short chat.
        return RunResult.model_construct(
            run_id=ctx.run_id,
            graph=graph.name,
            status=status,
            reason=outcome.reason,
            detail=outcome.detail,
            last_node=outcome.node,
            messages=scope.transcript,
            summary=summary,
            cost=ctx.usage.to_cost(),
            human_inputs=ctx.human_inputs,
        )

    def run(
        self,
        task: str | Message | None = None,
        *,
        sender: str | None = None,
        run_id: str | None = None,
    ) -> RunResult:
        """Synchronous ``arun``."""
        from flowagents.agents._sync import run_sync

        return run_sync(self.arun(task, sender=sender, run_id=run_id))

    async def stream(
        self, task: str | Message | None = None, *, sender: str | None = None
    ) -> AsyncIterator[Event]:
        """Run the graph and yield its events as they happen (this run's only)."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        job = asyncio.ensure_future(self.arun(task, sender=sender, sinks=[queue.put_nowait]))
        job.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (event := await queue.get()) is not None:
                yield event
            await job
        finally:
            if not job.done():
                job.cancel()

    # -- setting up --------------------------------------------------------------------------

    def _root_scope(self, run: RunState, prefix: str) -> Scope:
        """The conversation of the runner's own graph, its agents built for ``run``."""
        agents = self._resolve_agents(self.graph, run)
        keys = self._keys(self.graph, agents, self._hub)
        scope = Scope(self.graph, agents, keys, prefix=prefix, run=run)
        scope.observers = self._observers
        budget = self.graph.termination.token_budget
        if budget is not None:
            scope.budgets = ((budget, run.ctx.usage.total),)
        return scope

    def _resolve_agents(self, graph: CompiledGraph, run: RunState) -> dict[str, ConversableAgent]:
        agents: dict[str, ConversableAgent] = {}
        for name, node in graph.nodes.items():
            if node.kind != "agent":
                continue
            bound = self._agent_overrides.get(name) or graph.bindings.get(name)
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
            return build_agent(spec, lambda name: self._client_for(name, graph, run))
        except ConfigError as exc:
            origin = f" ({graph.source})" if graph.source else ""
            raise ConfigError(
                f"cannot build agent {spec.name!r} of graph {graph.name!r}{origin}: {exc}",
                where=RunLocation(node=spec.name),
            ) from exc

    def _client_for(self, model_name: str, graph: CompiledGraph, run: RunState) -> ModelClient:
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

    def _keys(
        self, graph: CompiledGraph, agents: Mapping[str, ConversableAgent], hub: Agent | None
    ) -> dict[str, Any]:
        """Whom each agent hears from: its one peer in a pair, else the group's hub."""
        names = list(agents)
        if hub is None and len(names) == 2 and len(graph.nodes) == 2:
            a, b = names
            return {a: agents[b], b: agents[a]}
        shared = hub or _Hub(graph.name, graph.spec.description)
        return dict.fromkeys(names, shared)

    def _selector(self, graph: CompiledGraph, run: RunState) -> SpeakerSelector:
        selector = run.selectors.get(id(graph))
        if selector is None:
            spec = graph.selector
            # The runner's selector client overrides the top graph's selector model; a
            # subgroup chooses with its own and inherits the runner's only when it has none.
            client = self._selector_client if graph is self.graph else None
            if client is None and spec.model is not None:
                client = self._client_for(spec.model, graph, run)
            if client is None:
                client = self._selector_client
            selector = SpeakerSelector(
                method=self._selection if graph is self.graph and self._selection else "auto",
                any_of=list(graph.nodes) if graph is self.graph and self._free_selection else (),
                client=client,
                fallback=spec.fallback,
                max_retries=spec.max_retries,
                constraint=spec.constraint,
                descriptions={name: node.description for name, node in graph.nodes.items()},
                node_order=list(graph.nodes),
                seed=self._seed,
                input_provider=self._selector_input,
                prompt=self._selector_prompt if graph is self.graph else None,
            )
            run.selectors[id(graph)] = selector
        return selector

    # -- the loop ----------------------------------------------------------------------------

    async def _open(self, scope: Scope, task: str | Message, sender: str | None) -> str | _Outcome:
        """Deliver the task as step 1 and return the first node to speak."""
        message = task if isinstance(task, Message) else Message(role="user", content=task)
        if sender is not None:
            if sender not in scope.graph.nodes:
                raise RunError(f"sender {sender!r} is not a node of graph {scope.graph.name!r}")
            scope.count(sender)
            if message.name != sender or message.role != "assistant":
                message = message.model_copy(update={"name": sender, "role": "assistant"})
        elif message.name is None:
            message = message.model_copy(update={"name": "user"})
        step = scope.next_step()
        CURRENT_STEP.set(StepScope(step, sender or ""))
        self._emit_message(scope, step, sender or message.name or "user", message)
        scope.deliver(message, sender)
        if sender is None:
            if self._select_first_speaker and scope.graph.mode == "dynamic":
                return await self._first_speaker(scope, message, step)
            return scope.graph.start
        stop = self._termination(self._plan(scope.graph), scope, sender, message)
        if stop is not None:
            return stop
        following = await self._next(scope, sender, step)
        if isinstance(following, _Outcome) and following.join is not None:
            return following.join
        return following

    async def _first_speaker(self, scope: Scope, message: Message, step: str) -> str | _Outcome:
        """After an opening from outside: stop on it, or select among every agent, as AutoGen."""
        plan = self._plan(scope.graph)
        opener = message.name or "user"
        stop = self._termination(plan, scope, opener, message)
        if stop is not None:
            return stop
        picked = await self._select(scope, opener, list(plan.agents), step)
        if picked is None:
            return _Outcome("selector_stopped", node=opener)
        return picked

    def _plan(self, graph: CompiledGraph) -> _Plan:
        plan = self._plans.get(id(graph))
        if plan is None:
            plan = _Plan.of(graph, self if graph is self.graph else None)
            self._plans[id(graph)] = plan
        return plan

    async def _converse(self, scope: Scope, current: str, *, via: str | None) -> _Outcome:
        """Take turns from ``current`` until the conversation ends (or a branch joins)."""
        ctx = scope.run.ctx
        graph = scope.graph
        nodes = graph.nodes
        plan = self._plan(graph)
        simple = plan.simple
        choices = plan.choices
        counters = scope.counters
        branch = scope.branch
        # One StepScope per conversation, moved on each turn: setting a context variable
        # every turn would allocate a new context mapping (and a StepScope) per turn.
        turn = StepScope()
        CURRENT_STEP.set(turn)
        while True:
            node = nodes[current]
            step = scope.next_step()
            counters[current] = counters.get(current, 0) + 1
            turn.step = step
            turn.node = current
            turn.code_exit_code = None
            if ctx.sinks:
                ctx.emit(NodeEntered(run_id=ctx.run_id, step=step, node=current, via=via))
            if node.kind == "subgroup":
                message = await self._run_subgroup(scope, node, step)
                CURRENT_STEP.set(turn)  # the subgroup's conversation had its own
            else:
                agent = scope.agents[current]
                reply = await agent.a_generate_reply(scope.view(current), scope.keys[current])
                if reply is None:
                    if ctx.sinks:
                        ctx.emit(NodeLeft(run_id=ctx.run_id, step=step, node=current))
                    return _Outcome(agent.stop_reason or "agent_stopped", node=current)
                message = reply_to_message(reply, current)
                if turn.code_exit_code is not None:
                    message.metadata["exit_code"] = turn.code_exit_code
            scope.deliver(message, current)
            if ctx.sinks:
                self._emit_message(scope, step, current, message, plan)
                ctx.emit(NodeLeft(run_id=ctx.run_id, step=step, node=current))
            stop = self._termination(plan, scope, current, message)
            if stop is not None:
                return stop
            # Fast paths: plain edges (no guard, bound or fan-out) need no evaluation.
            edge = simple.get(current)
            if edge is not None:
                key, following = edge
                counters[key] = counters.get(key, 0) + 1
            elif current in choices:
                candidates, by_target = choices[current]
                picked = await self._select(scope, current, candidates, step)
                if picked is None:
                    return _Outcome("selector_stopped", node=current)
                chosen_edge = by_target.get(picked)
                if chosen_edge is not None:  # None: a free selection off the edges
                    counters[chosen_edge.key] = counters.get(chosen_edge.key, 0) + 1
                following = picked
            elif current in plan.ends:
                return _no_successor(current)
            else:
                chosen = await self._next(scope, current, step)
                if isinstance(chosen, _Outcome):
                    if chosen.join is None:
                        return chosen
                    # The join of a fan-out this conversation ran speaks next, even in a
                    # branch: a branch stops only at its own join, reached by a plain edge.
                    via = current
                    current = chosen.join
                    continue
                following = chosen
            if branch and nodes[following].join is not None:
                return _Outcome("joined", node=current, join=following)
            via = current
            current = following

    def _termination(
        self, plan: _Plan, scope: Scope, node: str, message: Message
    ) -> _Outcome | None:
        if plan.is_termination_msg is not None:
            if plan.is_termination_msg(to_oai_dict(message, "user")):
                return _Outcome("is_termination_msg", node=node)
        elif plan.keyword and plan.keyword in message.text:
            return _Outcome("keyword", f"{node} said {plan.keyword}", node=node)
        if node in plan.terminal:
            return _Outcome("terminal_node", node=node)
        counted = len(scope.transcript) - scope.uncounted
        if plan.max_turns is not None and counted >= plan.max_turns:
            return _Outcome("max_turns", f"{counted} messages", node=node)
        if scope.budgets:
            return self._over_budget(scope, node)
        return None

    def _over_budget(self, scope: Scope, node: str | None) -> _Outcome | None:
        """``token_budget`` when this conversation or one it is nested in spent its budget."""
        spent = scope.run.ctx.usage.total
        for budget, start in scope.budgets:
            if spent - start >= budget:
                return _Outcome("token_budget", f"{spent - start} tokens", node=node)
        return None

    async def _next(self, scope: Scope, current: str, step: str) -> str | _Outcome:
        """The node that speaks after ``current``, running any fan-out on the way.

        After a fan-out, an outcome whose ``join`` names the join that speaks next.
        """
        graph = scope.graph
        edges = graph.successors(current, scope)
        nodes = graph.nodes
        if edges and any(nodes[e.target].max_visits is not None for e in edges):
            edges = tuple(
                e
                for e in edges
                if (limit := nodes[e.target].max_visits) is None
                or scope.counters.get(e.target, 0) < limit
            )
            if not edges:
                return _Outcome("max_visits", f"every successor of {current} was visited enough")
        if not edges:
            return _no_successor(current)
        parallel = [e for e in edges if e.parallel]
        if parallel:
            return await self._fan_out(scope, current, parallel, step)
        free = self._free_selection and graph is self.graph
        chosen = edges[0]
        if (len(edges) > 1 or free) and graph.mode == "dynamic":
            candidates = list(dict.fromkeys(e.target for e in edges))
            picked = await self._select(scope, current, candidates, step)
            if picked is None:
                return _Outcome("selector_stopped", node=current)
            edge = next((e for e in edges if e.target == picked), None)
            if edge is None:  # a free selection off the edges
                return picked
            chosen = edge
        scope.count(chosen.key)
        return chosen.target

    async def _select(
        self, scope: Scope, current: str, candidates: list[str], step: str
    ) -> str | None:
        selector = self._selector(scope.graph, scope.run)
        selection = await selector.select(scope, current, candidates)
        ctx = scope.run.ctx
        if ctx.sinks:
            ctx.emit(
                SpeakerSelected(
                    run_id=ctx.run_id,
                    step=step,
                    node=current,
                    candidates=tuple(candidates),
                    choice=selection.choice or "",
                    method=selection.method,
                    raw_answers=tuple(selection.raw_answers),
                    retries=selection.retries,
                    prompt_tokens=selection.prompt_tokens,
                    completion_tokens=selection.completion_tokens,
                )
            )
        return selection.choice

    async def _fan_out(
        self, scope: Scope, source: str, edges: Sequence[CompiledEdge], step: str
    ) -> _Outcome:
        """Run each parallel edge's branch concurrently; merge them where they join.

        The outcome is ``fanned_in`` at the join, or how a branch ended the conversation.
        """
        branches: list[Scope] = []
        tasks: list[asyncio.Task[_Outcome]] = []
        start_task = asyncio.get_running_loop().create_task  # no ensure_future checks per branch
        for edge in edges:
            scope.count(edge.key)
            branch = scope.fork(f"{step}/{edge.target}.")
            branches.append(branch)
            tasks.append(start_task(self._branch(branch, edge.target, source)))
        try:
            if self._plan(scope.graph).joins_any:
                done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                first = next(iter(done)).result()
                if first.join is not None and scope.graph.nodes[first.join].join == "any":
                    for task in pending:
                        task.cancel()
                    await asyncio.gather(*pending, return_exceptions=True)
                else:
                    await asyncio.gather(*tasks)
            else:  # only join-all: no need to look at the first branch to finish
                await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        base = len(scope.transcript)
        counters = scope.counters
        outcomes: list[_Outcome] = []
        merged: list[Message] = []
        for branch, task in zip(branches, tasks, strict=True):
            if task.cancelled():
                continue
            outcomes.append(task.result())
            merged.extend(branch.transcript[base:])
            # A branch's counters began as a copy of its parent's (``fork_counts``, in the
            # same order) and only grow, new keys at the end: what it changed is found by
            # comparing the lists in C, not key by key in Python.
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
        scope.deliver_all(merged)  # every branch's messages, in branch order
        # A branch that ended the conversation ends the run, whatever the others reached: the
        # first such branch in declared order, so the reason is the same on every run.
        ended = next((o for o in outcomes if o.join is None), None)
        if ended is not None:
            return self._restated(ended, scope)
        joins = {o.join for o in outcomes}
        if len(joins) == 1:
            return _Outcome("fanned_in", node=source, join=joins.pop())
        raise RunError(
            f"the branches from {source!r} ended in different places: "
            + ", ".join(o.join or o.reason for o in outcomes),
            where=RunLocation(scope.run.ctx.run_id, step, source),
        )

    async def _branch(self, scope: Scope, start: str, source: str) -> _Outcome:
        """One parallel branch, from ``start`` to its join.

        An error is located here: the branch's step lives in the branch task's own context,
        which the code awaiting the fan-out cannot see.
        """
        try:
            return await self._converse(scope, start, via=source)
        except Exception as exc:
            self._located(exc, scope.run.ctx)
            raise

    def _restated(self, outcome: _Outcome, scope: Scope) -> _Outcome:
        """``outcome`` of a branch, its counts taken again on the merged conversation."""
        if outcome.reason == "max_turns":
            counted = len(scope.transcript) - scope.uncounted
            return _Outcome("max_turns", f"{counted} messages", node=outcome.node)
        if outcome.reason == "token_budget":
            return self._over_budget(scope, outcome.node) or outcome
        return outcome

    async def _run_subgroup(self, scope: Scope, node: CompiledNode, step: str) -> Message:
        """Run a nested graph on the parent's last message; return its summary as a message."""
        sub = node.subgraph
        assert sub is not None
        hub = _Hub(node.name, node.description)
        agents = self._resolve_agents(sub, scope.run)
        keys = self._keys(sub, agents, hub)
        child = Scope(sub, agents, keys, prefix=f"{step}/{node.name}.", run=scope.run)
        budget = sub.termination.token_budget
        own = ((budget, scope.run.ctx.usage.total),) if budget is not None else ()
        child.budgets = scope.budgets + own
        task = scope.last_message.text if scope.last_message else ""
        opening = Message(role="user", name=scope.last_speaker or "user", content=task)
        child_step = child.next_step()
        CURRENT_STEP.set(StepScope(child_step, node.name))
        self._emit_message(child, child_step, node.name, opening)
        child.deliver(opening, None)
        outcome = await self._converse(child, sub.start, via=None)
        CURRENT_STEP.set(StepScope(step, node.name))
        produced = child.transcript[1:]
        if node.summary == "reflection":
            summary = await self._reflect(sub, child)
        else:
            summary = produced[-1].text if produced else ""
        if node.expose == "all":
            for message in produced:
                scope.deliver(message, message.name)
        return Message(
            role="assistant",
            name=node.name,
            content=summary,
            metadata={"subgroup_reason": outcome.reason},
        )

    async def _reflect(self, graph: CompiledGraph, scope: Scope) -> str:
        model = graph.selector.model
        if model is None:
            raise RunError(
                f"subgroup {graph.name!r} asks for a reflection summary but names no model "
                "(set selector.model in the subgroup graph)"
            )
        client = self._client_for(model, graph, scope.run)
        wire = [
            {"role": "user", "content": f"{m.name or m.role}: {m.text}"} for m in scope.transcript
        ]
        wire.append({"role": "user", "content": REFLECTION_PROMPT})
        response = await scope.run.ctx.call_model(
            client, ModelRequest(messages=wire), purpose="summary"
        )
        return response.message.text

    # -- events ------------------------------------------------------------------------------

    def _emit_message(
        self, scope: Scope, step: str, sender: str, message: Message, plan: _Plan | None = None
    ) -> None:
        ctx = scope.run.ctx
        if ctx.sinks:
            ctx.emit(
                MessageSent(
                    run_id=ctx.run_id,
                    step=step,
                    node=sender,
                    message=message,
                    sender=sender,
                    recipients=(plan or self._plan(scope.graph)).recipients_of(sender),
                )
            )

    def _located(self, exc: Exception, ctx: RunContext) -> None:
        """Attach to ``exc`` the run, step and node it came from (those of the step running now).

        Sets ``exc.run_location``, adds a note naming it, and fills in an empty ``where`` of a
        FlowAgentsError. An error already located in this run (in a branch, or in a run nested
        in this one) keeps its place: that is where it happened.
        """
        known = getattr(exc, "run_location", None)
        if isinstance(known, RunLocation) and known.run_id == ctx.run_id:
            return
        scope = CURRENT_STEP.get()
        location = RunLocation(ctx.run_id, scope.step or None, scope.node or None)
        exc.run_location = location  # type: ignore[attr-defined]
        exc.add_note(f"during {location}")
        if isinstance(exc, FlowAgentsError) and exc.where is None:
            exc.where = location

    def _finish(
        self, ctx: RunContext, outcome: _Outcome, status: RunStatus, error: Exception | None = None
    ) -> None:
        if not ctx.sinks:
            return
        current = CURRENT_STEP.get()
        step, node = current.step, current.node
        if error is not None:
            where = getattr(error, "run_location", None)
            if isinstance(where, RunLocation):  # a branch's step, not the fan-out's
                step, node = where.step or step, where.node or node
            ctx.emit(
                ErrorRaised(
                    run_id=ctx.run_id,
                    step=step,
                    node=node,
                    code=error.code if isinstance(error, FlowAgentsError) else RunError.code,
                    error_type=type(error).__name__,
                    message=describe_error(error),
                )
            )
        ctx.emit(
            Terminated(
                run_id=ctx.run_id,
                step=step,
                node=outcome.node or node,
                reason=outcome.reason,
                detail=outcome.detail,
            )
        )
        if ctx.parent is None:
            ctx.emit(
                RunFinished(run_id=ctx.run_id, step=step, status=status, reason=outcome.reason)
            )
