"""The engine: takes a compiled graph's turns, one at a time, emitting one stream of events.

Every conversation in flowagents runs here: a two-agent ``initiate_chat`` is a two-node graph,
a GroupChat a dynamic graph, a nested chat a subgroup node. ``Runner`` (``_runner.py``) starts
and ends runs; this module runs the conversations inside them: turns, selection, fan-out and
join, subgroups and termination.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from flowagents.agents._builtin_replies import reply_to_message
from flowagents.agents._history import to_oai_dict
from flowagents.errors import RunError, RunLocation
from flowagents.events import (
    BranchesJoined,
    MessageSent,
    NodeEntered,
    NodeLeft,
    SpeakerSelected,
)
from flowagents.messages import Message
from flowagents.models import ModelRequest
from flowagents.runtime._context import CURRENT_STEP, RunContext, StepScope
from flowagents.runtime._outcome import Outcome, locate_error, no_successor
from flowagents.runtime._plan import Plan
from flowagents.runtime._scope import Scope
from flowagents.runtime._setup import Hub, Setup, peers

if TYPE_CHECKING:
    from flowagents.graph import CompiledEdge, CompiledGraph, CompiledNode

REFLECTION_PROMPT = (
    "Summarize the outcome of the conversation above in a few sentences. "
    "Start directly with the summary."
)


class Engine:
    """Runs the conversations of one Runner's graph and of the subgroups inside it."""

    __slots__ = ("_plans", "setup")

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self._plans: dict[int, Plan] = {}

    async def open(self, scope: Scope, task: str | Message, sender: str | None) -> str | Outcome:
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
        self.emit_message(scope, step, sender or message.name or "user", message)
        scope.deliver(message, sender)
        if sender is None:
            if self.setup.select_first_speaker and scope.graph.mode == "dynamic":
                return await self._first_speaker(scope, message, step)
            return scope.graph.start
        stop = self._termination(self.plan(scope.graph), scope, sender, message)
        if stop is not None:
            return stop
        following = await self._next(scope, sender, step)
        if isinstance(following, Outcome) and following.join is not None:
            return following.join
        return following

    async def _first_speaker(self, scope: Scope, message: Message, step: str) -> str | Outcome:
        """After an opening from outside: stop on it, or select among every agent, as AutoGen."""
        plan = self.plan(scope.graph)
        opener = message.name or "user"
        stop = self._termination(plan, scope, opener, message)
        if stop is not None:
            return stop
        picked = await self._select(scope, opener, list(plan.agents), step)
        if picked is None:
            return Outcome("selector_stopped", node=opener)
        return picked

    def plan(self, graph: CompiledGraph) -> Plan:
        """The plan of ``graph``, worked out on first use."""
        plan = self._plans.get(id(graph))
        if plan is None:
            plan = Plan.of(graph, self.setup if graph is self.setup.graph else None)
            self._plans[id(graph)] = plan
        return plan

    async def converse(self, scope: Scope, current: str, *, via: str | None) -> Outcome:
        """Take turns from ``current`` until the conversation ends (or a branch joins)."""
        ctx = scope.run.ctx
        graph = scope.graph
        nodes = graph.nodes
        plan = self.plan(graph)
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
                    return Outcome(agent.stop_reason or "agent_stopped", node=current)
                if agent._hook_lists is not None:  # an attribute test: no call on every turn
                    reply = agent.message_before_send(reply, scope.keys[current])
                message = reply_to_message(reply, current)
                if turn.code_exit_code is not None:
                    message.metadata["exit_code"] = turn.code_exit_code
            scope.deliver(message, current)
            if ctx.sinks:
                self.emit_message(scope, step, current, message, plan)
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
                    return Outcome("selector_stopped", node=current)
                chosen_edge = by_target.get(picked)
                if chosen_edge is not None:  # None: a free selection off the edges
                    counters[chosen_edge.key] = counters.get(chosen_edge.key, 0) + 1
                following = picked
            elif current in plan.ends:
                return no_successor(current)
            else:
                chosen = await self._next(scope, current, step)
                if isinstance(chosen, Outcome):
                    if chosen.join is None:
                        return chosen
                    # The join of a fan-out this conversation ran speaks next, even in a
                    # branch: a branch stops only at its own join, reached by a plain edge.
                    via = current
                    current = chosen.join
                    continue
                following = chosen
            if branch and nodes[following].join is not None:
                return Outcome("joined", node=current, join=following)
            via = current
            current = following

    def _termination(self, plan: Plan, scope: Scope, node: str, message: Message) -> Outcome | None:
        if plan.is_termination_msg is not None:
            if plan.is_termination_msg(to_oai_dict(message, "user")):
                return Outcome("is_termination_msg", node=node)
        elif plan.keyword and plan.keyword in message.text:
            return Outcome("keyword", f"{node} said {plan.keyword}", node=node)
        if node in plan.terminal:
            return Outcome("terminal_node", node=node)
        counted = len(scope.transcript) - scope.uncounted
        if plan.max_turns is not None and counted >= plan.max_turns:
            return Outcome("max_turns", f"{counted} messages", node=node)
        if scope.budgets:
            return self._over_budget(scope, node)
        return None

    def _over_budget(self, scope: Scope, node: str | None) -> Outcome | None:
        """``token_budget`` when this conversation or one it is nested in spent its budget."""
        spent = scope.run.ctx.usage.total
        for budget, start in scope.budgets:
            if spent - start >= budget:
                return Outcome("token_budget", f"{spent - start} tokens", node=node)
        return None

    async def _next(self, scope: Scope, current: str, step: str) -> str | Outcome:
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
                return Outcome("max_visits", f"every successor of {current} was visited enough")
        if not edges:
            return no_successor(current)
        # The first open edge decides: a parallel one fans out with every open parallel edge;
        # a plain one is taken, or chosen among the open plain edges.
        if edges[0].parallel:
            parallel = [e for e in edges if e.parallel]
            return await self._fan_out(scope, current, parallel, step)
        if len(edges) > 1 and any(e.parallel for e in edges):
            edges = tuple(e for e in edges if not e.parallel)
        free = self.setup.free_selection and graph is self.setup.graph
        chosen = edges[0]
        if (len(edges) > 1 or free) and graph.mode == "dynamic":
            candidates = list(dict.fromkeys(e.target for e in edges))
            picked = await self._select(scope, current, candidates, step)
            if picked is None:
                return Outcome("selector_stopped", node=current)
            edge = next((e for e in edges if e.target == picked), None)
            if edge is None:  # a free selection off the edges
                return picked
            chosen = edge
        scope.count(chosen.key)
        return chosen.target

    async def _select(
        self, scope: Scope, current: str, candidates: list[str], step: str
    ) -> str | None:
        selector = self.setup.selector(scope.graph, scope.run)
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
    ) -> Outcome:
        """Run each parallel edge's branch concurrently; merge them where they join.

        The outcome is ``fanned_in`` at the join, or how a branch ended the conversation.
        """
        branches: list[Scope] = []
        tasks: list[asyncio.Task[Outcome]] = []
        start_task = asyncio.get_running_loop().create_task  # no ensure_future checks per branch
        for edge in edges:
            scope.count(edge.key)
            branch = scope.fork(f"{step}/{edge.target}.")
            branches.append(branch)
            tasks.append(start_task(self._branch(branch, edge.target, source)))
        taken: Sequence[asyncio.Task[Outcome]] = tasks
        ctx = scope.run.ctx
        recorded = self._recorded_join(ctx, step, edges, tasks)
        try:
            if recorded is not None:
                taken = await self._recorded_branches(tasks, recorded)
            elif self.plan(scope.graph).joins_any:
                taken = await self._first_at_any_join(scope.graph, tasks)
            else:  # only join-all: no need to look at the first branch to finish
                await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        base = len(scope.transcript)
        outcomes: list[Outcome] = []
        merged: list[Message] = []
        taken_names: list[str] = []
        dropped_names: list[str] = []
        for edge, branch, task in zip(edges, branches, tasks, strict=True):
            if taken is not tasks and task not in taken:
                dropped_names.append(edge.target)
                continue
            taken_names.append(edge.target)
            outcomes.append(task.result())
            merged.extend(branch.transcript[base:])
            scope.add_counts(branch)
        scope.deliver_all(merged)  # every branch's messages, in branch order
        # A branch that ended the conversation ends the run, whatever the others reached: the
        # first such branch in declared order, so the reason is the same on every run.
        ended = next((o for o in outcomes if o.join is None), None)
        joins = {o.join for o in outcomes}
        join = joins.pop() if ended is None and len(joins) == 1 else None
        if ctx.sinks:
            ctx.emit(
                BranchesJoined(
                    run_id=ctx.run_id,
                    step=step,
                    node=source,
                    join=join or "",
                    taken=tuple(taken_names),
                    dropped=tuple(dropped_names),
                )
            )
        if ended is not None:
            return self._restated(ended, scope)
        if join is not None:
            return Outcome("fanned_in", node=source, join=join)
        raise RunError(
            f"the branches from {source!r} ended in different places: "
            + ", ".join(o.join or o.reason for o in outcomes),
            where=RunLocation(scope.run.ctx.run_id, step, source),
        )

    @staticmethod
    def _recorded_join(
        ctx: RunContext,
        step: str,
        edges: Sequence[CompiledEdge],
        tasks: list[asyncio.Task[Outcome]],
    ) -> list[asyncio.Task[Outcome]] | None:
        """The branch tasks a record took at this fan-out (None: no record, or not these)."""
        if ctx.interceptor is None:
            return None
        names = ctx.interceptor.recorded_join(step)
        if names is None:
            return None
        by_target = {edge.target: task for edge, task in zip(edges, tasks, strict=True)}
        if not names or any(name not in by_target for name in names):
            return None  # the graph changed: race them, and let the record tell the difference
        return [by_target[name] for name in names]

    @staticmethod
    async def _recorded_branches(
        tasks: list[asyncio.Task[Outcome]], recorded: list[asyncio.Task[Outcome]]
    ) -> Sequence[asyncio.Task[Outcome]]:
        """Wait for the branches the record took; cancel the others, as the record did.

        The record's answers come at once, so a branch that lost the race when the run was
        recorded could win it now; the others wait (the recorder holds their calls the record
        lacks) until they are cancelled here.
        """
        if len(recorded) == len(tasks):
            await asyncio.gather(*tasks)
            return tasks
        await asyncio.gather(*recorded)
        await _drop_all_but(recorded, tasks)
        return recorded

    async def _first_at_any_join(
        self, graph: CompiledGraph, tasks: list[asyncio.Task[Outcome]]
    ) -> Sequence[asyncio.Task[Outcome]]:
        """Wait for the branches of a graph with a ``join: any``; return those that count.

        The first branch to finish decides. If it reached an any join, it alone counts: the
        others are cancelled, or dropped when they finished in the same loop tick (branches
        that never wait, such as scripted replies, all finish in their first step).
        """
        finished: list[asyncio.Task[Outcome]] = []
        for task in tasks:
            task.add_done_callback(finished.append)  # called in the order the tasks finish
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        first = finished[0]
        reached = first.result().join
        if reached is None or graph.nodes[reached].join != "any":
            await asyncio.gather(*tasks)
            return tasks
        await _drop_all_but((first,), tasks)
        return (first,)

    async def _branch(self, scope: Scope, start: str, source: str) -> Outcome:
        """One parallel branch, from ``start`` to its join.

        An error is located here: the branch's step lives in the branch task's own context,
        which the code awaiting the fan-out cannot see.
        """
        try:
            return await self.converse(scope, start, via=source)
        except Exception as exc:
            locate_error(exc, scope.run.ctx)
            raise

    def _restated(self, outcome: Outcome, scope: Scope) -> Outcome:
        """``outcome`` of a branch, its counts taken again on the merged conversation."""
        if outcome.reason == "max_turns":
            counted = len(scope.transcript) - scope.uncounted
            return Outcome("max_turns", f"{counted} messages", node=outcome.node)
        if outcome.reason == "token_budget":
            return self._over_budget(scope, outcome.node) or outcome
        return outcome

    async def _run_subgroup(self, scope: Scope, node: CompiledNode, step: str) -> Message:
        """Run a nested graph on the parent's last message; return its summary as a message."""
        sub = node.subgraph
        assert sub is not None
        hub = Hub(node.name, node.description)
        agents = self.setup.resolve_agents(sub, scope.run)
        keys = peers(sub, agents, hub)
        child = Scope(sub, agents, keys, prefix=f"{step}/{node.name}.", run=scope.run)
        budget = sub.termination.token_budget
        own = ((budget, scope.run.ctx.usage.total),) if budget is not None else ()
        child.budgets = scope.budgets + own
        task = scope.last_message.text if scope.last_message else ""
        opening = Message(role="user", name=scope.last_speaker or "user", content=task)
        child_step = child.next_step()
        CURRENT_STEP.set(StepScope(child_step, node.name))
        self.emit_message(child, child_step, node.name, opening)
        child.deliver(opening, None)
        outcome = await self.converse(child, sub.start, via=None)
        CURRENT_STEP.set(StepScope(step, node.name))
        produced = child.transcript[1:]
        if node.summary == "reflection":
            summary = await self._reflect(node, scope.graph, child)
        else:
            summary = produced[-1].text if produced else ""
            keyword = sub.termination.keyword
            if keyword and keyword in summary:
                # The subgroup's stop word ended the subgroup; it must not end the parent too.
                summary = summary.replace(keyword, "").strip()
        if node.expose == "all":
            for message in produced:
                # Heard from the subgroup, not from a parent agent that shares a name with
                # the speaker; the record says which subgroup it came from.
                exposed = message.model_copy(
                    update={"metadata": {**message.metadata, "subgroup": node.name}}
                )
                scope.deliver(exposed, node.name)
        return Message(
            role="assistant",
            name=node.name,
            content=summary,
            metadata={"subgroup_reason": outcome.reason},
        )

    async def _reflect(self, node: CompiledNode, parent: CompiledGraph, scope: Scope) -> str:
        graph = scope.graph
        model = node.summary_model or graph.selector.model
        if model is None:
            raise RunError(
                f"subgroup {node.name!r} asks for a reflection summary but names no model "
                "(set summary_model on the subgroup, or selector.model in its graph)"
            )
        # The subgroup graph's models first, then the parent's (client_for: then the top's).
        owner = graph if model in graph.models else parent
        client = self.setup.client_for(model, owner, scope.run)
        wire = [
            {"role": "user", "content": f"{m.name or m.role}: {m.text}"} for m in scope.transcript
        ]
        wire.append({"role": "user", "content": REFLECTION_PROMPT})
        response = await scope.run.ctx.call_model(
            client, ModelRequest(messages=wire), purpose="summary"
        )
        return response.message.text

    # -- events ------------------------------------------------------------------------------

    def emit_message(
        self, scope: Scope, step: str, sender: str, message: Message, plan: Plan | None = None
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
                    recipients=(plan or self.plan(scope.graph)).recipients_of(sender),
                )
            )


async def _drop_all_but(
    kept: Sequence[asyncio.Task[Outcome]], tasks: Sequence[asyncio.Task[Outcome]]
) -> None:
    """Cancel the branch tasks not ``kept`` (or drop them, when already done) and wait."""
    for task in tasks:
        if task in kept:
            continue
        if task.done():
            if not task.cancelled():
                task.exception()  # retrieved: a dropped branch's error is not reported
        else:
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
