"""The run context: the one door through which a run touches the outside world.

Model calls, human input, code execution and tool calls all go through the active
``RunContext`` so that each becomes an event with the current step's identity, and so that a
recorder, a cache or a replayer can stand in front of them. Agents used outside any run get
the idle context, which only passes calls through.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from flowagents.events import (
    CodeExecuted,
    Event,
    HumanInputReceived,
    HumanInputRequested,
    ModelCalled,
    ToolCalled,
    ToolReturned,
)
from flowagents.messages import ToolCall, ToolResponse
from flowagents.models import ModelClient, ModelRequest, ModelResponse

if TYPE_CHECKING:
    from flowagents.execution import CodeBlock, CodeExecutor, CodeResult

EventSink = Callable[[Event], None]


class InputProvider(Protocol):
    """Where human input comes from (console, a script, a paused run's reply)."""

    async def get_input(self, prompt: str, *, agent: str) -> str:
        """Return the human's answer to ``prompt`` for ``agent``."""
        ...


class Interceptor(Protocol):
    """Stands in front of the outside world: a cache, a recorder's replay, a resume."""

    async def model_call(
        self,
        request_hash: str,
        call: Callable[[], Awaitable[ModelResponse]],
        *,
        step: str,
        node: str,
    ) -> ModelResponse:
        """Answer a model request, either from ``call()`` or from elsewhere."""
        ...

    async def human_input(self, call: Callable[[], Awaitable[str]], *, step: str, node: str) -> str:
        """Answer a human input request."""
        ...

    async def code_result(
        self, call: Callable[[], Awaitable[CodeResult]], *, step: str, node: str
    ) -> CodeResult:
        """Answer a code execution."""
        ...

    async def tool_results(
        self, call: Callable[[], Awaitable[list[ToolResponse]]], *, step: str, node: str
    ) -> list[ToolResponse]:
        """Answer the tool calls of one message."""
        ...

    def recorded_join(self, step: str) -> tuple[str, ...] | None:
        """The branches a record took at the fan-out of ``step`` (None: race them live).

        The engine then waits for those branches only and cancels the others, as the
        recorded run did, instead of letting the fastest branch win again.
        """
        ...


def new_run_id() -> str:
    """A fresh run id: 12 hex digits of the time in ms, then 12 random ones.

    Ids made later sort later, so a store keeps a run's rows at the end of its index (and
    ``ORDER BY run_id`` is chronological); 48 random bits keep ids made in the same
    millisecond, on any number of machines, apart.
    """
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(6)}"


def request_hash(model: str, request: ModelRequest) -> str:
    """A stable hash of everything that decides a model's answer."""
    # The fields are plain JSON data already; json.dumps them directly (a pydantic dump of
    # the whole request first costs several times more on long conversations).
    payload = {
        "model": model,
        "messages": request.messages,
        "tools": request.tools,
        "tool_choice": request.tool_choice,
        "response_format": request.response_format,
        "params": request.params,
    }
    text = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(slots=True)
class StepScope:
    """Which step and node the code running now belongs to.

    A conversation keeps one and moves it from turn to turn: read its fields when you need
    them, do not keep the object.
    """

    step: str = ""
    node: str = ""
    code_exit_code: int | None = None


@dataclass(slots=True)
class UsageTotals:
    """Tokens spent in a run, and their cost in USD, per model, split by cache hits."""

    prompt_tokens: dict[str, int] = field(default_factory=dict)
    completion_tokens: dict[str, int] = field(default_factory=dict)
    cached_prompt_tokens: dict[str, int] = field(default_factory=dict)
    cached_completion_tokens: dict[str, int] = field(default_factory=dict)
    cost: dict[str, float] = field(default_factory=dict)
    cached_cost: dict[str, float] = field(default_factory=dict)

    def add(
        self, model: str, prompt: int, completion: int, *, cached: bool, cost: float = 0.0
    ) -> None:
        if cached:
            self.cached_prompt_tokens[model] = self.cached_prompt_tokens.get(model, 0) + prompt
            self.cached_completion_tokens[model] = (
                self.cached_completion_tokens.get(model, 0) + completion
            )
            self.cached_cost[model] = self.cached_cost.get(model, 0) + cost
            return
        self.prompt_tokens[model] = self.prompt_tokens.get(model, 0) + prompt
        self.completion_tokens[model] = self.completion_tokens.get(model, 0) + completion
        self.cost[model] = self.cost.get(model, 0) + cost

    @property
    def total(self) -> int:
        return sum(self.prompt_tokens.values()) + sum(self.completion_tokens.values())

    def to_cost(self) -> dict[str, Any]:
        """The ``cost`` dict of the familiar ChatResult (cost 0 for a model without price)."""

        def block(include_cached: bool) -> dict[str, Any]:
            out: dict[str, Any] = {"total_cost": 0}
            models = set(self.prompt_tokens) | set(self.completion_tokens)
            if include_cached:
                models |= set(self.cached_prompt_tokens) | set(self.cached_completion_tokens)
            for model in sorted(models):
                prompt = self.prompt_tokens.get(model, 0)
                completion = self.completion_tokens.get(model, 0)
                cost = self.cost.get(model, 0)
                if include_cached:
                    prompt += self.cached_prompt_tokens.get(model, 0)
                    completion += self.cached_completion_tokens.get(model, 0)
                    cost += self.cached_cost.get(model, 0)
                out["total_cost"] += cost
                out[model] = {
                    "cost": cost,
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                }
            return out

        return {
            "usage_including_cached_inference": block(True),
            "usage_excluding_cached_inference": block(False),
        }


class RunContext:
    """Per-run services: event emission, model/human/code calls with their events."""

    def __init__(
        self,
        run_id: str = "",
        *,
        sinks: Sequence[EventSink] = (),
        input_provider: InputProvider | None = None,
        interceptor: Interceptor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.run_id = run_id
        self.sinks = list(sinks)
        self.input_provider = input_provider
        self.interceptor = interceptor
        self.clock = clock
        self.usage = UsageTotals()
        self.human_inputs: list[str] = []
        self.selector_rejections: dict[str, set[str]] = {}
        """The mechanisms the run's speaker selectors know endpoints refuse (per run)."""
        self.parent: RunContext | None = None
        self._seq = itertools.count(1)  # shared with nested runs: one sequence per run

    @property
    def is_idle(self) -> bool:
        """True for the context of code running outside any run."""
        return self is IDLE_CONTEXT

    def child(self, *, sinks: Sequence[EventSink] = ()) -> RunContext:
        """A context for a run nested in this one (nested chats, agents as tools).

        Its events carry this run's id and go to this run's sinks (and ``sinks``), in this
        run's sequence; its usage counts here too.
        """
        from flowagents.runtime._console import ConsolePrinter

        def prints(sink: EventSink) -> bool:
            return isinstance(getattr(sink, "__self__", None), ConsolePrinter)

        # One console is enough: a printed chat inside a printed run is printed once.
        if any(prints(sink) for sink in self.sinks):
            sinks = [sink for sink in sinks if not prints(sink)]
        nested = RunContext(
            self.run_id,
            sinks=[*self.sinks, *sinks],
            input_provider=self.input_provider,
            interceptor=self.interceptor,
            clock=self.clock,
        )
        nested.parent = self
        nested._seq = self._seq
        nested.selector_rejections = self.selector_rejections
        return nested

    @property
    def recording(self) -> bool:
        """Whether anyone listens to events (the idle context has no sinks)."""
        return bool(self.sinks)

    def emit(self, event: Event) -> Event:
        """Stamp ``event`` with its sequence number and time, and hand it to every sink."""
        event.seq = next(self._seq)
        event.ts = self.clock()
        for sink in self.sinks:
            sink(event)
        return event

    async def call_model(
        self,
        client: ModelClient,
        request: ModelRequest,
        *,
        purpose: str = "reply",
        usage_of: UsageTotals | None = None,
    ) -> ModelResponse:
        """Call ``client`` (or the interceptor), record a ModelCalled event and the usage.

        The usage is added to this run's totals, its parents', and ``usage_of`` (an agent's).
        """
        scope = CURRENT_STEP.get()
        digest = request_hash(client.model, request)
        if self.interceptor is not None:
            response = await self.interceptor.model_call(
                digest, lambda: client.create(request), step=scope.step, node=scope.node
            )
        else:
            response = await client.create(request)
        usage = response.usage
        model = usage.model or client.model
        context: RunContext | None = self
        while context is not None:
            context.usage.add(
                model,
                usage.prompt_tokens,
                usage.completion_tokens,
                cached=response.cached,
                cost=usage.cost,
            )
            context = context.parent
        if usage_of is not None:
            usage_of.add(
                model,
                usage.prompt_tokens,
                usage.completion_tokens,
                cached=response.cached,
                cost=usage.cost,
            )
        if self.sinks:
            self.emit(
                ModelCalled(
                    run_id=self.run_id,
                    step=scope.step,
                    node=scope.node,
                    model=model,
                    request_hash=digest,
                    response=response.message,
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                    cached=response.cached,
                    purpose=purpose,  # type: ignore[arg-type]
                    finish_reason=response.finish_reason,
                )
            )
        return response

    def input_source(self, provider: InputProvider | None = None) -> InputProvider:
        """Who answers human input: ``provider``, else the run's provider, else the console."""
        source = provider or self.input_provider
        if source is None:
            from flowagents.agents._human import ConsoleInput

            source = ConsoleInput()
        return source

    async def get_human_input(
        self, prompt: str, *, agent: str, provider: InputProvider | None = None
    ) -> str:
        """Ask a human through ``provider`` (or the run's), with events for both sides."""
        scope = CURRENT_STEP.get()
        source = self.input_source(provider)
        if self.sinks:
            self.emit(
                HumanInputRequested(
                    run_id=self.run_id, step=scope.step, node=scope.node, prompt=prompt
                )
            )

        async def ask() -> str:
            return await source.get_input(prompt, agent=agent)

        if self.interceptor is not None:
            text = await self.interceptor.human_input(ask, step=scope.step, node=scope.node)
        else:
            text = await ask()
        self.human_inputs.append(text)
        if self.sinks:
            self.emit(
                HumanInputReceived(run_id=self.run_id, step=scope.step, node=scope.node, text=text)
            )
        return text

    async def execute_code(self, executor: CodeExecutor, blocks: Sequence[CodeBlock]) -> CodeResult:
        """Run code blocks through ``executor`` and record a CodeExecuted event."""
        scope = CURRENT_STEP.get()

        async def run() -> CodeResult:
            return await executor.execute(blocks)

        if self.interceptor is not None:
            result = await self.interceptor.code_result(run, step=scope.step, node=scope.node)
        else:
            result = await run()
        scope.code_exit_code = result.exit_code
        if self.sinks:
            self.emit(
                CodeExecuted(
                    run_id=self.run_id,
                    step=scope.step,
                    node=scope.node,
                    language=",".join(block.language for block in blocks),
                    code="\n\n".join(block.code for block in blocks),
                    executor=executor.name,
                    exit_code=result.exit_code,
                    output=result.output,
                    timed_out=result.timed_out,
                    duration_s=result.duration_s,
                )
            )
        return result

    async def call_tools(
        self, tools: Mapping[str, Any], calls: Sequence[ToolCall]
    ) -> list[ToolResponse]:
        """Execute the tool calls of one message; record each call and its result."""
        from flowagents.tools import execute_tool_calls

        scope = CURRENT_STEP.get()
        durations: dict[str, float] = {}

        def timed(call: ToolCall, response: ToolResponse, duration_s: float) -> None:
            durations[call.id] = duration_s

        async def live() -> list[ToolResponse]:
            return await execute_tool_calls(calls, tools, on_result=timed)

        if self.sinks:
            # Before the tools run: a run cancelled, or killed, while a tool hangs keeps the
            # calls in its record.
            for call in calls:
                self.emit(
                    ToolCalled(
                        run_id=self.run_id,
                        step=scope.step,
                        node=scope.node,
                        call_id=call.id,
                        tool=call.name,
                        arguments=call.arguments,
                    )
                )
        if self.interceptor is not None:
            responses = await self.interceptor.tool_results(live, step=scope.step, node=scope.node)
        else:
            responses = await live()
        if self.sinks:
            for call, response in zip(calls, responses, strict=False):
                self.emit(
                    ToolReturned(
                        run_id=self.run_id,
                        step=scope.step,
                        node=scope.node,
                        call_id=call.id,
                        tool=call.name,
                        content=response.content,
                        is_error=response.is_error,
                        duration_s=durations.get(call.id, 0.0),
                    )
                )
        return responses


IDLE_CONTEXT = RunContext()
CURRENT_RUN: ContextVar[RunContext] = ContextVar("flowagents_run", default=IDLE_CONTEXT)
# The default is never mutated: the engine sets a fresh StepScope for every turn.
CURRENT_STEP: ContextVar[StepScope] = ContextVar(
    "flowagents_step",
    default=StepScope(),  # noqa: B039
)


OBSERVERS: ContextVar[tuple[EventSink, ...]] = ContextVar("flowagents_observers", default=())


@contextmanager
def observe(*sinks: EventSink) -> Iterator[None]:
    """Give every run started inside this block these extra event sinks.

    The way to record or watch runs that code you do not control starts, such as a script
    written against the familiar API (``initiate_chat``, group chats)::

        events = []
        with observe(events.append):
            user_proxy.initiate_chat(assistant, message="...")
    """
    token = OBSERVERS.set((*OBSERVERS.get(), *sinks))
    try:
        yield
    finally:
        OBSERVERS.reset(token)


def current_run() -> RunContext:
    """The run the calling code belongs to (the idle context outside any run)."""
    return CURRENT_RUN.get()
