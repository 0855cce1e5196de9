"""An in-process run store: the fake beside SQLite, for tests and throwaway runs."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from flowagents.errors import StoreError
from flowagents.events import Event, RunFinished, RunStarted
from flowagents.store._protocol import CallRecord, RunRecord, RunStore, run_id_taken


class MemoryRunStore(RunStore):
    """Keeps everything in dicts; behaves like ``SQLiteRunStore`` within one process."""

    location = ":memory:"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, RunRecord] = {}
        self._events: dict[str, list[Event]] = {}
        self._calls: dict[str, dict[tuple[str, str, int], CallRecord]] = {}
        self._cache: dict[str, Any] = {}

    def append_events(self, events: Sequence[Event]) -> None:
        with self._lock:
            for event in events:  # a taken id stops the batch before anything is stored
                if isinstance(event, RunStarted) and self._events.get(event.run_id):
                    raise run_id_taken(event.run_id, self.location)
            for event in events:
                self._events.setdefault(event.run_id, []).append(event)
                run = self._runs.get(event.run_id)
                if isinstance(event, RunStarted) and run is None:
                    self._runs[event.run_id] = RunRecord(
                        run_id=event.run_id,
                        graph=event.graph,
                        task=event.task,
                        started_at=event.ts,
                        manifest=dict(event.manifest),
                    )
                elif isinstance(event, RunFinished) and run is not None:
                    self._runs[event.run_id] = run.model_copy(
                        update={
                            "status": event.status,
                            "reason": event.reason,
                            "ended_at": event.ts,
                        }
                    )

    def events(self, run_id: str) -> list[Event]:
        with self._lock:
            return list(self._events.get(run_id, ()))

    def truncate_events(self, run_id: str, keep: int) -> int:
        with self._lock:
            stored = self._events.get(run_id, [])
            gone = len(stored[max(keep, 0) :])
            del stored[max(keep, 0) :]
            return gone

    def put_call(self, record: CallRecord) -> bool:
        key = (record.step, record.kind, record.ordinal)
        with self._lock:
            stored = self._calls.setdefault(record.run_id, {})
            if key in stored:
                return False
            stored[key] = record
            return True

    def calls(self, run_id: str) -> list[CallRecord]:
        with self._lock:
            return list(self._calls.get(run_id, {}).values())

    def create_run(self, record: RunRecord) -> None:
        with self._lock:
            if record.run_id in self._runs:
                raise run_id_taken(record.run_id, self.location)
            self._runs[record.run_id] = record.model_copy(update={"events": 0})

    def get_run(self, run_id: str) -> RunRecord:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                raise StoreError(f"no run {run_id!r} in this store", where=self.location)
            return run.model_copy(update={"events": len(self._events.get(run_id, ()))})

    def update_run(self, record: RunRecord) -> None:
        with self._lock:
            if record.run_id not in self._runs:
                raise StoreError(f"no run {record.run_id!r} in this store", where=self.location)
            self._runs[record.run_id] = record

    def list_runs(
        self, *, graph: str | None = None, status: str | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        with self._lock:
            runs = [
                run.model_copy(update={"events": len(self._events.get(run.run_id, ()))})
                for run in reversed(self._runs.values())
                if graph in (None, run.graph) and status in (None, run.status)
            ]
        runs.sort(key=lambda run: run.started_at, reverse=True)
        return runs[:limit] if limit is not None else runs

    def cache_get(self, key: str) -> Any | None:
        with self._lock:
            return self._cache.get(key)

    def cache_put(self, key: str, model: str, response: Any) -> None:
        with self._lock:
            self._cache.setdefault(key, response)
