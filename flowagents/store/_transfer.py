"""Exporting a run to a file and importing it into another store.

Two forms carry the same content: ``json`` is one object
``{"format": "flowagents-run", "version": 1, "run": ..., "events": [...], "calls": [...]}``;
``jsonl`` is one record a line (``{"type": "run"|"event"|"call", ...}``), the run first,
convenient for streaming tools. An imported run replays like the original.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from pydantic import ValidationError

from flowagents.errors import StoreError
from flowagents.events import EVENT_ADAPTER, Event
from flowagents.store._protocol import CallRecord, RunRecord, RunStore

ExportFormat = Literal["json", "jsonl"]
EXPORT_MARK = "flowagents-run"

#: The version of the export format (independent of the store's own schema version).
EXPORT_VERSION = 1


def export_run(store: RunStore, run_id: str, fmt: ExportFormat = "jsonl") -> str:
    """The whole record of ``run_id`` (run row, events, answers) as text."""
    run = store.get_run(run_id)
    events = [EVENT_ADAPTER.dump_python(e, mode="json") for e in store.events(run_id)]
    calls = [c.model_dump(mode="json") for c in store.calls(run_id)]
    head = run.model_dump(mode="json", exclude={"events"})
    if fmt == "json":
        document = {
            "format": EXPORT_MARK,
            "version": EXPORT_VERSION,
            "run": head,
            "events": events,
            "calls": calls,
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    lines = [
        {"type": "run", "format": EXPORT_MARK, "version": EXPORT_VERSION, "run": head},
        *({"type": "event", "event": e} for e in events),
        *({"type": "call", "call": c} for c in calls),
    ]
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


def _records(text: str, source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    if not text.strip():
        raise StoreError("the file is empty", where=source)
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None  # several lines: the jsonl form
    if isinstance(whole, dict) and "events" in whole:
        yield 1, {"type": "run", **{k: whole.get(k) for k in ("format", "version", "run")}}
        for event in whole.get("events") or []:
            yield 1, {"type": "event", "event": event}
        for call in whole.get("calls") or []:
            yield 1, {"type": "call", "call": call}
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise StoreError(f"line {number} is not JSON: {exc.msg}", where=source) from exc
        if not isinstance(record, dict):
            raise StoreError(f"line {number} is not a JSON object", where=source)
        yield number, record


def _parse(text: str, source: str) -> tuple[RunRecord, list[Event], list[CallRecord]]:
    run: RunRecord | None = None
    events: list[Event] = []
    calls: list[CallRecord] = []
    for number, record in _records(text, source):
        kind = record.get("type")
        try:
            if kind == "run":
                if record.get("format") != EXPORT_MARK:
                    raise StoreError(f"line {number}: not a flowagents run export", where=source)
                if not isinstance(record.get("version"), int) or record["version"] > EXPORT_VERSION:
                    raise StoreError(
                        f"line {number}: export version {record.get('version')} is not one "
                        f"this flowagents reads (up to {EXPORT_VERSION})",
                        where=source,
                    )
                run = RunRecord.model_validate(record["run"])
            elif kind == "event":
                events.append(EVENT_ADAPTER.validate_python(record["event"]))
            elif kind == "call":
                calls.append(CallRecord.model_validate(record["call"]))
            else:
                raise StoreError(f"line {number}: unknown record type {kind!r}", where=source)
        except (ValidationError, KeyError) as exc:
            raise StoreError(f"line {number}: invalid {kind} record: {exc}", where=source) from exc
        if run is None:
            raise StoreError(f"line {number}: the run record must come first", where=source)
    if run is None:
        raise StoreError("no run record in the file", where=source)
    for item in [*events, *calls]:
        if item.run_id != run.run_id:
            raise StoreError(
                f"a record belongs to run {item.run_id}, not {run.run_id}", where=source
            )
    return run, events, calls


def import_run(store: RunStore, text: str, *, source: str = "<import>") -> RunRecord:
    """Add an exported run to ``store``; StoreError if the file is invalid or the id taken."""
    run, events, calls = _parse(text, source)
    try:
        store.get_run(run.run_id)
    except StoreError:
        pass
    else:
        raise StoreError(f"run {run.run_id} is already in the store; nothing imported")
    store.create_run(run)
    _append(store, events, calls)
    store.update_run(run)
    return store.get_run(run.run_id)


def _append(store: RunStore, events: Iterable[Event], calls: Iterable[CallRecord]) -> None:
    store.append_events(list(events))
    for call in calls:
        store.put_call(call)
