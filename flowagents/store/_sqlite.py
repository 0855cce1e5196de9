"""The embedded default store: one SQLite file in WAL mode, one transaction per write.

WAL lets several processes record runs into the same file at once (writers queue on the
busy timeout, readers never block). ``synchronous=NORMAL`` keeps every committed write across a
crash of the process (not across a power cut in the last moments, which costs an fsync per
event to guarantee).

The format is versioned with ``PRAGMA user_version``; ``MIGRATIONS[i]`` brings a file from
version ``i`` to ``i + 1`` (``MIGRATIONS[0]`` creates the schema), and a ``flowagents_meta``
row marks the file as ours so that a foreign database is refused, never written to.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, get_args

from pydantic import TypeAdapter, ValidationError

from flowagents.errors import StoreCorruptError, StoreError
from flowagents.events import EVENT_ADAPTER, Event, RunFinished, RunStarted
from flowagents.store._protocol import SCHEMA_VERSION, CallRecord, RunRecord, RunStore

FORMAT_MARK = "flowagents-runs"
_SQLITE_HEADER = b"SQLite format 3\x00"


def _serializers() -> dict[type[Any], Callable[[Any], bytes]]:
    # One serializer per event class skips the discriminated-union dispatch (about half the
    # cost of EVENT_ADAPTER.dump_json) and writes the same JSON.
    return {cls: TypeAdapter(cls).serializer.to_json for cls in get_args(get_args(Event)[0])}


_SERIALIZERS = _serializers()


def _dump_any(event: Any) -> bytes:
    return EVENT_ADAPTER.dump_json(event)


def dump_event(event: Event) -> str:
    """``event`` as the JSON text that ``EVENT_ADAPTER.validate_json`` reads back."""
    return _SERIALIZERS.get(type(event), _dump_any)(event).decode()


#: Events that change their run's row when stored.
_RUN_ROW_KINDS = frozenset({"run_started", "run_finished"})

#: Columns of one event row, and the row counts of the multi-row INSERT statements a batch
#: is cut into (largest first), so that only these few statements are ever prepared.
_COLUMNS = 5
_CHUNKS = (256, 64, 16, 4, 1)


@functools.cache
def _insert_sql(rows: int) -> str:
    return (
        "INSERT OR IGNORE INTO events (run_id, step, kind, ordinal, body) VALUES "
        + ", ".join(["(?, ?, ?, ?, ?)"] * rows)
    )


def _create_v1(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE flowagents_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO flowagents_meta VALUES ('format', ?)", (FORMAT_MARK,))
    db.execute(
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY, graph TEXT NOT NULL, status TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '', task TEXT, started_at REAL NOT NULL,
            ended_at REAL, manifest TEXT NOT NULL)"""
    )
    db.execute("CREATE INDEX runs_by_start ON runs (started_at)")
    db.execute(
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, step TEXT NOT NULL,
            kind TEXT NOT NULL, ordinal INTEGER NOT NULL, body TEXT NOT NULL,
            UNIQUE (run_id, step, kind, ordinal))"""
    )
    db.execute("CREATE INDEX events_by_run ON events (run_id, id)")
    db.execute(
        """CREATE TABLE calls (
            id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, step TEXT NOT NULL,
            kind TEXT NOT NULL, ordinal INTEGER NOT NULL, node TEXT NOT NULL,
            request_hash TEXT, model TEXT, answer TEXT NOT NULL,
            UNIQUE (run_id, step, kind, ordinal))"""
    )
    db.execute(
        """CREATE TABLE llm_cache (
            key TEXT PRIMARY KEY, model TEXT NOT NULL, response TEXT NOT NULL)"""
    )


#: ``MIGRATIONS[i]`` upgrades a file at version ``i`` to ``i + 1``, inside one transaction.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_create_v1]
assert len(MIGRATIONS) == SCHEMA_VERSION


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        db.execute("ROLLBACK")


def default_store_path(cwd: Path | None = None) -> Path:
    """``$FLOWAGENTS_STORE``, else ``.flowagents/runs.db`` under ``cwd``."""
    configured = os.environ.get("FLOWAGENTS_STORE")
    if configured:
        return Path(configured)
    return (cwd or Path.cwd()) / ".flowagents" / "runs.db"


class SQLiteRunStore(RunStore):
    """Runs in one SQLite file (created with its directory when missing)."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self._lock = threading.Lock()
        self._check_header()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the run store: {exc}", where=self.location) from exc
        try:
            with self._guard():
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._migrate()
        except BaseException:
            self._db.close()
            raise

    # -- opening -----------------------------------------------------------------------------

    def _check_header(self) -> None:
        """Refuse a file that is not SQLite at all before SQLite touches it."""
        try:
            with self.path.open("rb") as handle:
                head = handle.read(len(_SQLITE_HEADER))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(f"cannot read the run store: {exc}", where=self.location) from exc
        if head and head != _SQLITE_HEADER:
            raise StoreCorruptError(
                "this file is not a SQLite database, so not a flowagents run store; "
                "it was left untouched (point --store or FLOWAGENTS_STORE elsewhere)",
                where=self.location,
            )

    def _migrate(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")  # one process creates or upgrades; the others wait
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            if version == 0 and tables:
                raise StoreCorruptError(
                    "this SQLite database was not written by flowagents (tables: "
                    f"{', '.join(sorted(tables)[:5])}); it was left untouched",
                    where=self.location,
                )
            if version > 0:
                mark = None
                if "flowagents_meta" in tables:
                    row = db.execute(
                        "SELECT value FROM flowagents_meta WHERE key = 'format'"
                    ).fetchone()
                    mark = row[0] if row else None
                if mark != FORMAT_MARK:
                    raise StoreCorruptError(
                        "this SQLite database was not written by flowagents; "
                        "it was left untouched",
                        where=self.location,
                    )
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the run store has format version {version}, newer than this "
                    f"flowagents knows ({SCHEMA_VERSION}); upgrade flowagents",
                    where=self.location,
                )
            for step in MIGRATIONS[version:]:
                step(db)
            if version < SCHEMA_VERSION:
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise

    @contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        """Serialise use of the connection; turn SQLite damage into StoreCorruptError."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.ProgrammingError as exc:  # misuse (e.g. closed), not damage
                raise StoreError(f"run store error: {exc}", where=self.location) from exc
            except sqlite3.DatabaseError as exc:
                text = str(exc)
                if isinstance(exc, sqlite3.OperationalError) and "malformed" not in text:
                    raise StoreError(f"run store error: {text}", where=self.location) from exc
                raise StoreCorruptError(
                    f"the run store file is damaged ({text}); it was left as it is "
                    "(copy it aside, then point --store or FLOWAGENTS_STORE elsewhere)",
                    where=self.location,
                ) from exc

    def close(self) -> None:
        """Close the connection (the file stays consistent whenever this is skipped)."""
        with self._lock:
            self._db.close()

    # -- events ------------------------------------------------------------------------------

    def append_event(self, event: Event, ordinal: int) -> bool:
        return self.append_events([(event, ordinal)])[0]

    def append_events(self, items: Sequence[tuple[Event, int]]) -> list[bool]:
        # Group commit makes batches of hundreds of events: everything per event is kept to
        # one serializer call and a few tuple operations.
        params: list[Any] = []
        extend = params.extend
        serializers = _SERIALIZERS
        for event, ordinal in items:
            to_json = serializers.get(type(event), _dump_any)
            extend((event.run_id, event.step, event.kind, ordinal, to_json(event).decode()))
        if not params:
            return []
        with self._guard() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                inserted = self._insert(db, items, params)
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise
        return inserted

    @staticmethod
    def _insert(
        db: sqlite3.Connection, items: Sequence[tuple[Event, int]], params: list[Any]
    ) -> list[bool]:
        """Insert the events in a few statements; say which were new; keep run rows current."""
        (last,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
        count = len(items)
        added = start = 0
        for size in _CHUNKS:  # multi-row statements: far cheaper than a row at a time
            while count - start >= size:
                chunk = params[start * _COLUMNS : (start + size) * _COLUMNS]
                added += db.execute(_insert_sql(size), chunk).rowcount
                start += size
        if added == count:
            inserted = [True] * count
        else:
            # Some were stored before (a re-executed prefix). This transaction holds the write
            # lock, so the new rows are exactly those past the last id.
            new = set(
                db.execute(
                    "SELECT run_id, step, kind, ordinal FROM events WHERE id > ?", (last,)
                ).fetchall()
            )
            inserted = []
            for event, ordinal in items:
                key = (event.run_id, event.step, event.kind, ordinal)
                inserted.append(key in new)
                new.discard(key)  # the same key twice in one batch: only the first is new
        for (event, _), fresh in zip(items, inserted, strict=True):
            if fresh and event.kind in _RUN_ROW_KINDS:
                SQLiteRunStore._update_run_row(db, event)
        return inserted

    @staticmethod
    def _update_run_row(db: sqlite3.Connection, event: Event) -> None:
        """``RunStarted`` creates the run row; ``RunFinished`` ends it."""
        if isinstance(event, RunStarted):
            db.execute(
                "INSERT OR IGNORE INTO runs (run_id, graph, status, reason, task, "
                "started_at, ended_at, manifest) VALUES (?, ?, 'running', '', ?, ?, "
                "NULL, ?)",
                (
                    event.run_id,
                    event.graph,
                    event.task,
                    event.ts,
                    json.dumps(event.manifest, default=str),
                ),
            )
        elif isinstance(event, RunFinished):
            db.execute(
                "UPDATE runs SET status = ?, reason = ?, ended_at = ? WHERE run_id = ?",
                (event.status, event.reason, event.ts, event.run_id),
            )

    def events(self, run_id: str) -> list[Event]:
        with self._guard() as db:
            rows = db.execute(
                "SELECT id, body FROM events WHERE run_id = ? ORDER BY id", (run_id,)
            ).fetchall()
        events: list[Event] = []
        for row_id, body in rows:
            try:
                events.append(EVENT_ADAPTER.validate_json(body))
            except ValidationError as exc:
                raise StoreCorruptError(
                    f"event row {row_id} of run {run_id} is not a valid event: "
                    f"{exc.errors()[0]['msg']}",
                    where=self.location,
                ) from exc
        return events

    def delete_events(self, run_id: str, keys: Sequence[tuple[str, str, int]]) -> int:
        with self._guard() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                count = 0
                for step, kind, ordinal in keys:
                    count += db.execute(
                        "DELETE FROM events WHERE run_id = ? AND step = ? AND kind = ? "
                        "AND ordinal = ?",
                        (run_id, step, kind, ordinal),
                    ).rowcount
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise
        return count

    # -- answers -----------------------------------------------------------------------------

    def put_call(self, record: CallRecord) -> bool:
        answer = json.dumps(record.answer, separators=(",", ":"), ensure_ascii=False)
        with self._guard() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO calls (run_id, step, kind, ordinal, node, request_hash, "
                "model, answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.run_id,
                    record.step,
                    record.kind,
                    record.ordinal,
                    record.node,
                    record.request_hash,
                    record.model,
                    answer,
                ),
            )
            return cursor.rowcount > 0

    def calls(self, run_id: str) -> list[CallRecord]:
        with self._guard() as db:
            rows = db.execute(
                "SELECT id, step, kind, ordinal, node, request_hash, model, answer FROM calls "
                "WHERE run_id = ? ORDER BY id",
                (run_id,),
            ).fetchall()
        records: list[CallRecord] = []
        for row_id, step, kind, ordinal, node, digest, model, answer in rows:
            try:
                records.append(
                    CallRecord(
                        run_id=run_id,
                        step=step,
                        kind=kind,
                        ordinal=ordinal,
                        node=node,
                        request_hash=digest,
                        model=model,
                        answer=json.loads(answer),
                    )
                )
            except (ValidationError, ValueError) as exc:
                raise StoreCorruptError(
                    f"answer row {row_id} of run {run_id} is damaged: {exc}", where=self.location
                ) from exc
        return records

    # -- runs --------------------------------------------------------------------------------

    _RUN_COLUMNS = (
        "runs.run_id, graph, status, reason, task, started_at, ended_at, manifest, "
        "(SELECT COUNT(*) FROM events WHERE events.run_id = runs.run_id)"
    )

    def _record(self, row: tuple[Any, ...]) -> RunRecord:
        run_id, graph, status, reason, task, started, ended, manifest, count = row
        try:
            return RunRecord(
                run_id=run_id,
                graph=graph,
                status=status,
                reason=reason,
                task=task,
                started_at=started,
                ended_at=ended,
                manifest=json.loads(manifest),
                events=count,
            )
        except (ValidationError, ValueError) as exc:
            raise StoreCorruptError(
                f"the row of run {run_id} is damaged: {exc}", where=self.location
            ) from exc

    def create_run(self, record: RunRecord) -> None:
        with self._guard() as db:
            try:
                db.execute(
                    "INSERT INTO runs (run_id, graph, status, reason, task, started_at, "
                    "ended_at, manifest) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    self._row(record),
                )
            except sqlite3.IntegrityError as exc:
                raise StoreError(
                    f"run {record.run_id} already exists", where=self.location
                ) from exc

    def get_run(self, run_id: str) -> RunRecord:
        with self._guard() as db:
            row = db.execute(
                f"SELECT {self._RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        if row is None:
            raise StoreError(f"no run {run_id!r} in this store", where=self.location)
        return self._record(row)

    def update_run(self, record: RunRecord) -> None:
        values = self._row(record)
        with self._guard() as db:
            cursor = db.execute(
                "UPDATE runs SET graph = ?, status = ?, reason = ?, task = ?, started_at = ?, "
                "ended_at = ?, manifest = ? WHERE run_id = ?",
                (*values[1:], values[0]),
            )
        if cursor.rowcount == 0:
            raise StoreError(f"no run {record.run_id!r} in this store", where=self.location)

    @staticmethod
    def _row(record: RunRecord) -> tuple[Any, ...]:
        return (
            record.run_id,
            record.graph,
            record.status,
            record.reason,
            record.task,
            record.started_at,
            record.ended_at,
            json.dumps(record.manifest, default=str),
        )

    def list_runs(
        self, *, graph: str | None = None, status: str | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        where: list[str] = []
        params: list[Any] = []
        if graph is not None:
            where.append("graph = ?")
            params.append(graph)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        sql = f"SELECT {self._RUN_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._guard() as db:
            rows = db.execute(sql, params).fetchall()
        return [self._record(row) for row in rows]

    # -- cache -------------------------------------------------------------------------------

    def cache_get(self, key: str) -> Any | None:
        with self._guard() as db:
            row = db.execute("SELECT response FROM llm_cache WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row is not None else None

    def cache_put(self, key: str, model: str, response: Any) -> None:
        with self._guard() as db:
            db.execute(
                "INSERT OR IGNORE INTO llm_cache (key, model, response) VALUES (?, ?, ?)",
                (key, model, json.dumps(response, separators=(",", ":"), ensure_ascii=False)),
            )


def open_store(path: str | os.PathLike[str] | None = None) -> RunStore:
    """The SQLite store at ``path`` (default: ``default_store_path()``)."""
    return SQLiteRunStore(path if path is not None else default_store_path())
