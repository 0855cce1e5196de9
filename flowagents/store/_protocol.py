"""The run store interface and its records.

A store keeps three things per run: the run row (id, graph, status, manifest), the events in
the order they happened, and the answers the outside world gave (model responses, human
inputs, code and tool results), which is what resume and replay feed back. Answers are keyed
by ``(step, kind, ordinal)``: the step id is stable across executions of the same graph and
inputs, and the ordinal counts within one step, so parallel branches (whose steps differ)
never collide. Events are kept in order only; their ``(step, kind, ordinal)`` keys follow from
that order (``event_keys``), so a re-execution knows which of its events are on record.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from flowagents.errors import StoreError
from flowagents.events import Event

RunState: TypeAlias = Literal["running", "completed", "failed", "cancelled", "waiting_for_human"]
CallKind: TypeAlias = Literal["model", "human", "code", "tools"]

#: The version of the record format this code writes (``PRAGMA user_version`` in SQLite).
SCHEMA_VERSION = 2


def run_id_taken(run_id: str, location: str) -> StoreError:
    """The error for a run id already in the store at ``location`` (nothing was written)."""
    return StoreError(
        f"run {run_id} already exists in this store; a run id names one run, pick another "
        "(or leave --run-id out for a new one); nothing was written",
        where=location,
    )


class RunRecord(BaseModel):
    """One run as the store knows it."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    graph: str
    status: RunState = "running"
    reason: str = ""
    task: str | None = None
    started_at: float = 0.0
    ended_at: float | None = None
    manifest: dict[str, Any] = Field(default_factory=dict)
    events: int = 0
    """How many events are stored (filled in by ``get_run``/``list_runs``)."""


class CallRecord(BaseModel):
    """One answer the outside world gave a run, as resume and replay feed it back.

    ``answer`` is JSON: a ModelResponse, or ``{"refused": {"status", "message", "endpoint"}}``
    for a request the endpoint refused (``model``), ``{"text": ...}`` (``human``), a
    CodeResult (``code``) or a list of ToolResponse (``tools``).
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    step: str
    kind: CallKind
    ordinal: int
    node: str = ""
    request_hash: str | None = None
    model: str | None = None
    answer: Any = None


class RunStore(abc.ABC):
    """Where runs are recorded; every backend passes ``tests/store``'s conformance suite.

    Writes are durable when the method returns (one transaction each), so a crash loses at
    most what was in flight. Missing runs raise ``StoreError``; damaged storage raises
    ``StoreCorruptError``.
    """

    #: Where the store lives, for messages (a path, or ``":memory:"``).
    location: str = ""

    @abc.abstractmethod
    def append_events(self, events: Sequence[Event]) -> None:
        """Append ``events`` after those already stored for their runs, in one transaction.

        ``RunStarted`` creates the run row (from its graph, task and manifest); a row that
        ``create_run`` made for a run with no events yet is kept as it is. A ``RunStarted``
        for a run that has events already (its id is taken) raises ``StoreError`` and nothing
        of ``events`` is written: two runs never share a record. ``RunFinished`` sets the
        row's status, reason and end time, in the same transaction. Appending never checks
        for duplicate events: the recorder decides what is new.
        """

    @abc.abstractmethod
    def events(self, run_id: str) -> list[Event]:
        """The events of ``run_id`` in the order they were stored."""

    @abc.abstractmethod
    def truncate_events(self, run_id: str, keep: int) -> int:
        """Delete every event of ``run_id`` after the first ``keep``; return how many went."""

    @abc.abstractmethod
    def put_call(self, record: CallRecord) -> bool:
        """Store an answer; False (and nothing changes) when its key is already stored."""

    @abc.abstractmethod
    def calls(self, run_id: str) -> list[CallRecord]:
        """The answers recorded for ``run_id``, in the order they were stored."""

    @abc.abstractmethod
    def create_run(self, record: RunRecord) -> None:
        """Add a run row; ``StoreError`` when the id is taken."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> RunRecord:
        """The run row of ``run_id`` (with its event count); ``StoreError`` when missing."""

    @abc.abstractmethod
    def update_run(self, record: RunRecord) -> None:
        """Replace the row of ``record.run_id`` (its ``events`` count is ignored)."""

    @abc.abstractmethod
    def list_runs(
        self, *, graph: str | None = None, status: str | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        """Runs, newest first, optionally only of one graph and/or status."""

    @abc.abstractmethod
    def cache_get(self, key: str) -> Any | None:
        """The cached model response JSON for ``key``, or None."""

    @abc.abstractmethod
    def cache_put(self, key: str, model: str, response: Any) -> None:
        """Cache a model response JSON under ``key`` (the first one stored wins)."""

    def close(self) -> None:  # noqa: B027 - optional for backends holding no resources
        """Release the backend's resources."""

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
