"""Runner: starts a run of a compiled graph, records how it ends, and returns its result."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flowagents.agents._agent import Agent
from flowagents.agents._conversable import ConversableAgent
from flowagents.errors import ConfigError, HumanInputNeeded, describe_error
from flowagents.events import Event, RunStarted
from flowagents.messages import Message
from flowagents.models import ModelClient
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
from flowagents.runtime._engine import Engine
from flowagents.runtime._outcome import (
    NO_TASK,
    Outcome,
    RunResult,
    RunStatus,
    emit_end,
    locate_error,
)
from flowagents.runtime._scope import RunState
from flowagents.runtime._selector import (
    SelectionMethod,
    SelectorPrompt,
    known_rejections,
    run_rejections,
)
from flowagents.runtime._setup import Setup

if TYPE_CHECKING:
    from flowagents.graph import CompiledGraph


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
        selector_rejections: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        if max_turns is not None and max_turns < 1:
            raise ConfigError(f"max_turns must be at least 1, got {max_turns}")
        self.graph = graph
        self.sinks = list(sinks)
        self.manifest = dict(manifest or {})
        self._input_provider = input_provider
        self._interceptor = interceptor
        self._seed = seed
        self._selector_rejections = selector_rejections
        self._engine = Engine(
            Setup(
                graph=graph,
                agents=dict(agents or {}),
                hub=hub,
                selection=selection,
                selector_client=selector_client,
                selector_input=selector_input,
                selector_prompt=selector_prompt,
                is_termination_msg=is_termination_msg,
                max_turns=max_turns,
                seed=seed,
                observers=tuple(observers),
                select_first_speaker=select_first_speaker,
                free_selection=free_selection and callable(selection),
            )
        )

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
        extra: dict[str, Any] = {}
        if outer.is_idle:
            ctx = RunContext(
                run_id or new_run_id(),
                sinks=[*own_sinks, *OBSERVERS.get()],
                input_provider=self._input_provider,
                interceptor=self._interceptor,
            )
            # Fixed at the start (and kept in the manifest): a run's selector requests must
            # not depend on what other runs in flight learn, nor on the replaying process.
            known = self._selector_rejections
            if known is None:
                known = known_rejections()
            ctx.selector_rejections = run_rejections(known)
            if ctx.selector_rejections:
                extra["selector_rejections"] = {
                    key: sorted(refused) for key, refused in ctx.selector_rejections.items()
                }
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
        outcome = NO_TASK
        status: RunStatus = "completed"
        if ctx.sinks and ctx.parent is None:
            ctx.emit(
                RunStarted(
                    run_id=ctx.run_id,
                    step="0",
                    graph=graph.name,
                    task=task.text if isinstance(task, Message) else task,
                    # The store adds the rest.
                    manifest={"seed": self._seed} | self.manifest | extra,
                )
            )
        try:
            # Agents are built once the run is recorded: one that cannot be built fails it.
            engine = self._engine
            scope = engine.setup.root_scope(RunState(ctx), prefix)
            for message in preamble:
                step = scope.next_step()
                engine.emit_message(scope, step, message.name or "", message)
                scope.deliver(message, None, observed=False)
                scope.uncounted += 1
            if task is not None:
                first = await engine.open(scope, task, sender)
                if isinstance(first, Outcome):
                    outcome = first
                else:
                    outcome = await engine.converse(scope, first, via=sender)
            if finalize is not None:
                summary = await finalize(scope.transcript)
            elif scope.last_message is not None:
                summary = scope.last_message.text
            emit_end(ctx, outcome, status)
        except HumanInputNeeded as pause:
            if ctx.parent is not None:
                raise
            outcome = Outcome("waiting_for_human", pause.prompt, node=pause.agent)
            status = "waiting_for_human"
            emit_end(ctx, outcome, status)
        except asyncio.CancelledError:
            emit_end(ctx, Outcome("cancelled"), "cancelled")
            raise
        except KeyboardInterrupt:
            emit_end(ctx, Outcome("cancelled"), "cancelled")
            raise
        except Exception as exc:
            # Raised as it is, so that a caller's ``except ValueError`` still catches it.
            locate_error(exc, ctx)
            emit_end(ctx, Outcome("error", describe_error(exc)), "failed", error=exc)
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
