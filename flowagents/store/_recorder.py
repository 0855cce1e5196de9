"""Recording a run as it happens, and answering a re-execution from its record.

Two parts that work together:

- ``RecordingSink`` is an event sink that appends the events to the store, group-committing
  pure in-process steps and committing at once before anything goes outside. Given the keys
  of the events already on record (a resumed run), it drops the re-executed prefix's events
  instead of storing them twice.
- ``Recorder`` is an interceptor: the answers of live calls (model, human, code, tools) are
  written to the store, and calls the record already has are answered from it instead. Calls
  are keyed by step and their ordinal within the step, never by global order, so parallel
  branches may interleave differently on each execution.

Resume, replay and fork are all "re-execute from the start with a Recorder in front".
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import itertools
import sys
import time
import weakref
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flowagents.errors import (
    HumanInputNeeded,
    ModelRequestError,
    ReplayDivergenceError,
    RunLocation,
)
from flowagents.events import BranchesJoined, Event
from flowagents.messages import ToolResponse
from flowagents.models import ModelResponse
from flowagents.runtime._context import EventSink, current_run
from flowagents.store._cache import direct_call
from flowagents.store._protocol import CallKind, CallRecord, RunStore
from flowagents.store._verify import EventKeys, dropped_branches, in_branches

if TYPE_CHECKING:
    from flowagents.execution import CodeResult

_DIVERGED_HINT = "the graph, a prompt or an agent changed since the run was recorded"


#: The longest a completed in-process step waits to be committed, by default (seconds).
DEFAULT_COMMIT_INTERVAL_S = 0.025

#: Events committed at once, with everything before them: the start of a run, a pause,
#: an error and the end of the run. (Live outside calls flush too: see ``Recorder``.)
FLUSH_KINDS = frozenset({"run_started", "human_input_requested", "error", "run_finished"})

#: Events that end a step: a group commit happens there once the interval has passed.
STEP_END_KINDS = frozenset({"node_left", "terminated"})

#: What an event kind does to the pending events: True commits them now, False commits them
#: when the interval has passed (one dict lookup per event on the hot path).
_TRIGGERS = dict.fromkeys(FLUSH_KINDS, True) | dict.fromkeys(STEP_END_KINDS, False)

_OPEN_SINKS: weakref.WeakSet[RecordingSink] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    """Commit what open sinks still hold when the interpreter exits normally."""
    for sink in list(_OPEN_SINKS):
        try:
            sink.flush()
        except Exception as exc:
            print(f"flowagents: could not commit the last events of a run: {exc}", file=sys.stderr)


class RecordingSink:
    """An event sink that commits a run's events to ``store`` in groups.

    Events are held in memory and committed in one transaction (group commit):

    - at once, with everything before them, on ``FLUSH_KINDS`` (the start of a run, a pause,
      an error, the end of the run), by ``flush()`` (which the Recorder calls before any live
      outside call), and when the interpreter exits normally;
    - at the end of a step (``STEP_END_KINDS``) once ``commit_interval_s`` has passed since
      the last commit (0 commits every step).

    So a crash (even SIGKILL) loses at most the step in flight and the pure in-process steps
    that ended less than ``commit_interval_s`` after the last commit: their events come only
    from the graph and the answers already committed, and resume regenerates them
    identically. Outside answers are never among them (the Recorder commits those as they
    arrive, and flushes this sink before each live call).

    ``recorded`` holds the ``(step, kind, ordinal)`` keys of the events of run ``run_id``
    already stored (``event_keys`` of them): a re-execution's events with those keys are
    dropped, the others stored, numbered on from the stored ones (a copy with its ``seq``).
    Stored events are then handed to the ``forward`` sinks (e.g. a console printer) after
    they are committed, so what was shown is always on record. Events the store refuses are
    kept for a later flush, except with the start of a run: that run did not start.
    """

    def __init__(
        self,
        store: RunStore,
        *,
        forward: Sequence[EventSink] = (),
        commit_interval_s: float = DEFAULT_COMMIT_INTERVAL_S,
        run_id: str = "",
        recorded: Iterable[tuple[str, str, int]] = (),
    ) -> None:
        self.store = store
        self.forward = list(forward)
        self.commit_interval_s = commit_interval_s
        self._run_id = run_id
        self._recorded = set(recorded)
        # Parallel branches may interleave otherwise when executed again: the numbers the
        # re-execution gives its new events can be those of stored events it dropped.
        self._seq = itertools.count(len(self._recorded) + 1) if self._recorded else None
        self._key = EventKeys()
        self._pending: list[Event] = []
        self._last_commit = time.monotonic()

    def __call__(self, event: Event) -> None:
        if self._recorded and self._on_record(event):
            return
        if self._seq is not None and event.run_id == self._run_id:
            event = dataclasses.replace(event, seq=next(self._seq))
        pending = self._pending
        if not pending:
            _OPEN_SINKS.add(self)
        pending.append(event)
        trigger = _TRIGGERS.get(event.kind)
        if trigger is not None and (
            trigger or time.monotonic() - self._last_commit >= self.commit_interval_s
        ):
            self.flush()

    def _on_record(self, event: Event) -> bool:
        """Whether ``event`` is one the record already has (counted while any is left)."""
        if event.run_id != self._run_id:
            return False
        key = self._key(event)
        if key in self._recorded:
            self._recorded.discard(key)
            return True
        return False

    def flush(self) -> None:
        """Commit the events not yet stored, in one transaction."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        _OPEN_SINKS.discard(self)
        try:
            self.store.append_events(pending)
        except BaseException:
            if any(event.kind == "run_started" for event in pending):
                raise  # the run did not start (e.g. its id is taken): nothing to keep
            self._pending = pending + self._pending  # keep them for a later flush
            _OPEN_SINKS.add(self)
            raise
        self._last_commit = time.monotonic()
        if self.forward:
            for event in pending:
                for sink in self.forward:
                    sink(event)


class Recorder:
    """Interceptor: answer calls the record has, record the answers of the others.

    ``record`` holds the answers of an earlier execution (of this run, or of the run a fork
    starts from); ``replay_filter(step, kind, ordinal)`` says whether a call may be answered
    from it (default: every call). ``strict`` (replay) makes a call the record lacks a
    divergence instead of a live call. Models named in ``call_through`` are in-process
    scripts: they are still called when answered from the record, so that their position in
    the script stays right for the live calls that follow. ``replies`` answer the first human
    input requests the record lacks (a paused run's answer). Answers are written to ``store``
    (None: nowhere) under the id of the run being executed; ``sink`` is flushed before any
    live call, so that everything before it is durable.

    A model request the endpoint refused (``ModelRequestError``) is recorded once the run
    goes past it (its step makes another model call, as the speaker selector does when it
    falls back to a weaker mechanism), and a re-execution is refused there again, so that it
    makes the same requests after it. A refusal the run failed on is not kept: resume asks
    again.

    ``joins`` are the record's join decisions (``recorded_joins`` of its events): the engine
    takes the branches the record took, and a call the record lacks in a branch it dropped
    waits, neither called nor a divergence, until the engine cancels that branch.
    """

    def __init__(
        self,
        store: RunStore | None,
        *,
        record: Iterable[CallRecord] = (),
        replay_filter: Callable[[str, CallKind, int], bool] | None = None,
        strict: bool = False,
        call_through: Collection[str] = (),
        replies: Sequence[str] = (),
        sink: RecordingSink | None = None,
        joins: Mapping[str, BranchesJoined] | None = None,
    ) -> None:
        self.store = store
        self.sink = sink
        self._joins = dict(joins or {})
        self._dropped = dropped_branches(self._joins)
        self._record = {(r.step, r.kind, r.ordinal): r for r in record}
        self._replay_filter = replay_filter
        self._strict = strict
        self._call_through = frozenset(call_through)
        self._replies = list(replies)
        self._counts: dict[tuple[str, str, str], int] = {}
        # Refusals not yet recorded, by run and step: kept once the step goes on.
        self._refusals: dict[tuple[str, str], list[CallRecord]] = {}
        self.replayed = 0
        """How many calls were answered from the record."""
        self.live = 0
        """How many calls went to the outside world."""
        self.tools_not_run: set[str] = set()
        """Steps whose tool calls were not run (answered from the record, or missing from it in
        a strict replay): what those tools did inside (a chat's events) was not executed again."""

    # -- bookkeeping -------------------------------------------------------------------------

    def _take(self, step: str, kind: CallKind) -> tuple[str, int, CallRecord | None]:
        run_id = current_run().run_id
        key = (run_id, step, kind)
        ordinal = self._counts.get(key, 0)
        self._counts[key] = ordinal + 1
        if self._replay_filter is not None and not self._replay_filter(step, kind, ordinal):
            return run_id, ordinal, None
        return run_id, ordinal, self._record.get((step, kind, ordinal))

    def _save(self, record: CallRecord, *, replayed: CallRecord | None = None) -> None:
        if self.store is None:
            return
        if replayed is not None and replayed.run_id == record.run_id:
            return  # already stored under this run
        self.store.put_call(record)

    def _flush(self) -> None:
        if self.sink is not None:
            self.sink.flush()

    async def _hold_if_dropped(self, step: str) -> None:
        """In a branch the record dropped at a join, wait for the engine to cancel it.

        The record has nothing for this call (the branch was cancelled before it was
        answered); calling it live, or calling it a divergence, would let the branch run on
        where the recorded run stopped it.
        """
        if in_branches(step, self._dropped):
            await asyncio.get_running_loop().create_future()  # resolved by nothing: cancelled

    def recorded_join(self, step: str) -> tuple[str, ...] | None:
        """The branches the record took at the fan-out of ``step``."""
        join = self._joins.get(step)
        return join.taken if join is not None else None

    def _missing(self, run_id: str, step: str, node: str, what: str) -> ReplayDivergenceError:
        return ReplayDivergenceError(
            f"the replay made {what} that the record does not have ({_DIVERGED_HINT})",
            where=RunLocation(run_id, step, node),
        )

    # -- the interceptor ---------------------------------------------------------------------

    async def model_call(
        self,
        request_hash: str,
        call: Callable[[], Awaitable[ModelResponse]],
        *,
        step: str,
        node: str,
    ) -> ModelResponse:
        """Answer from the record (checking the request is the same), else call and record."""
        run_id, ordinal, recorded = self._take(step, "model")
        for refusal in self._refusals.pop((run_id, step), ()):
            self._save(refusal)  # the step went on past it: a re-execution needs it
        if recorded is not None:
            if recorded.request_hash != request_hash:
                who = f" by {recorded.node}" if recorded.node != node else ""
                raise ReplayDivergenceError(
                    f"model call {ordinal + 1} of this step differs from the record: expected "
                    f"request {recorded.request_hash and recorded.request_hash[:12]}{who}, "
                    f"got request {request_hash[:12]} by {node} ({_DIVERGED_HINT})",
                    where=RunLocation(run_id, step, node),
                )
            refused = recorded.answer.get("refused")
            if refused is not None:
                if recorded.model in self._call_through:
                    with contextlib.suppress(ModelRequestError):
                        await direct_call(call)()  # the script refuses it again
                self.replayed += 1
                self._save(recorded.model_copy(update={"run_id": run_id}), replayed=recorded)
                raise ModelRequestError(
                    str(refused.get("message", "")),
                    endpoint=refused.get("endpoint"),
                    model=recorded.model,
                    status=refused.get("status"),
                )
            response = ModelResponse.model_validate(recorded.answer)
            if recorded.model in self._call_through:
                await direct_call(call)()  # the script itself, not a cache in between
            self.replayed += 1
            self._save(recorded.model_copy(update={"run_id": run_id}), replayed=recorded)
            return response
        await self._hold_if_dropped(step)
        if self._strict:
            raise self._missing(run_id, step, node, f"a model call (request {request_hash[:12]})")
        self._flush()

        def model_record(model: str | None, answer: dict[str, Any]) -> CallRecord:
            return CallRecord(
                run_id=run_id,
                step=step,
                kind="model",
                ordinal=ordinal,
                node=node,
                request_hash=request_hash,
                model=model,
                answer=answer,
            )

        try:
            response = await call()
        except ModelRequestError as exc:
            self.live += 1
            refused = {"status": exc.status, "message": exc.message, "endpoint": exc.endpoint}
            self._refusals.setdefault((run_id, step), []).append(
                model_record(exc.model, {"refused": refused})
            )
            raise
        self.live += 1
        self._save(model_record(response.usage.model or None, response.model_dump(mode="json")))
        return response

    async def human_input(
        self, call: Callable[[], Awaitable[str]], *, step: str, node: str
    ) -> str:
        """Answer from the record, then from ``replies``, else ask and record."""
        run_id, ordinal, recorded = self._take(step, "human")
        if recorded is not None:
            self.replayed += 1
            self._save(recorded.model_copy(update={"run_id": run_id}), replayed=recorded)
            return str(recorded.answer["text"])
        await self._hold_if_dropped(step)
        if self._replies:
            text = self._replies.pop(0)
        elif self._strict:
            # The record ends waiting here (or the verifier reports the difference).
            raise HumanInputNeeded("", agent=node)
        else:
            self._flush()
            text = await call()
        self.live += 1
        self._save(self._new(run_id, step, "human", ordinal, node, {"text": text}))
        return text

    async def code_result(
        self, call: Callable[[], Awaitable[CodeResult]], *, step: str, node: str
    ) -> CodeResult:
        """Answer a code execution from the record, else execute and record."""
        from flowagents.execution import CodeResult

        run_id, ordinal, recorded = self._take(step, "code")
        if recorded is not None:
            self.replayed += 1
            self._save(recorded.model_copy(update={"run_id": run_id}), replayed=recorded)
            return CodeResult.model_validate(recorded.answer)
        await self._hold_if_dropped(step)
        if self._strict:
            raise self._missing(run_id, step, node, "a code execution")
        self._flush()
        result = await call()
        self.live += 1
        self._save(self._new(run_id, step, "code", ordinal, node, result.model_dump(mode="json")))
        return result

    async def tool_results(
        self, call: Callable[[], Awaitable[list[ToolResponse]]], *, step: str, node: str
    ) -> list[ToolResponse]:
        """Answer one message's tool calls from the record, else run them and record."""
        run_id, ordinal, recorded = self._take(step, "tools")
        if recorded is not None or self._strict:
            self.tools_not_run.add(step)
        if recorded is not None:
            self.replayed += 1
            self._save(recorded.model_copy(update={"run_id": run_id}), replayed=recorded)
            return [ToolResponse.model_validate(item) for item in recorded.answer]
        await self._hold_if_dropped(step)
        if self._strict:
            raise self._missing(run_id, step, node, "tool calls")
        self._flush()
        responses = await call()
        self.live += 1
        answer = [response.model_dump(mode="json") for response in responses]
        self._save(self._new(run_id, step, "tools", ordinal, node, answer))
        return responses

    @staticmethod
    def _new(
        run_id: str, step: str, kind: CallKind, ordinal: int, node: str, answer: Any
    ) -> CallRecord:
        return CallRecord(
            run_id=run_id, step=step, kind=kind, ordinal=ordinal, node=node, answer=answer
        )
