"""The embedded default store: one SQLite file in WAL mode, one transaction per write.

Each commit of a run's events is one row of ``event_batches``, found by ``(run_id, position)``
through one small index: appending adds a row at the table's end and an index entry at the
run's end (run ids made by ``new_run_id`` sort by time, so at the index's end too). The view
``event_rows`` shows one row per event. The WAL is checkpointed by a thread of the store, not
inside a commit.

WAL lets several processes record runs into the same file at once (writers queue on the
busy timeout, readers never block). ``synchronous=NORMAL`` keeps every committed write across a
crash of the process (not across a power cut in the last moments, which costs an fsync per
event to guarantee).

The format is versioned with ``PRAGMA user_version``; ``MIGRATIONS[i]`` brings a file from
version ``i`` to ``i + 1`` (``MIGRATIONS[0]`` creates the schema), and a ``flowagents_meta``
row marks the file as ours so that a foreign database is refused, never written to.
"""

from __future__ import annotations

import itertools
import json
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, get_args

from pydantic import TypeAdapter, ValidationError

from flowagents.errors import StoreCorruptError, StoreError
from flowagents.events import EVENT_ADAPTER, Event, RunFinished, RunStarted
from flowagents.store._checkpoint import DEFAULT_CHECKPOINT_BYTES, WalCheckpointer
from flowagents.store._protocol import (
    SCHEMA_VERSION,
    CallRecord,
    RunRecord,
    RunStore,
    run_id_taken,
)

FORMAT_MARK = "flowagents-runs"


def _serializers() -> dict[type[Any], Callable[[Any], bytes]]:
    # One serializer per event class skips the discriminated-union dispatch (about half the
    # cost of EVENT_ADAPTER.dump_json) and writes the same JSON.
    return {cls: TypeAdapter(cls).serializer.to_json for cls in get_args(get_args(Event)[0])}


_SERIALIZERS = _serializers()


def _json_array(items: list[Any]) -> str:
    return json.dumps(items, separators=(",", ":"), ensure_ascii=False)


def _dump_any(event: Any) -> bytes:
    return EVENT_ADAPTER.dump_json(event)


#: Events that change their run's row when stored.
_RUN_ROW_KINDS = frozenset({"run_started", "run_finished"})

_RUN_ID = operator.attrgetter("run_id")
_KIND = operator.attrgetter("kind")

#: Reads a stored batch of events (a JSON array).
_BATCH_ADAPTER: TypeAdapter[list[Event]] = TypeAdapter(list[Event])


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


def _events_in_batches(db: sqlite3.Connection) -> None:
    """Version 2: a commit's events in one row, keyed by the position of the first.

    Version 1 kept a row per event and made SQLite look for duplicates on every insert (a
    unique index on step, kind and ordinal, a second index by run). Now the recorder knows
    which events are new, and each commit of a run's events adds one row to one B-tree:
    ``body`` is the JSON array of its ``count`` events, the first at ``position`` in the run
    (unique per run).
    The view ``event_rows`` shows one row per event, with its header fields as columns.
    """
    # A rowid table, not WITHOUT ROWID: a batch may be megabytes, and SQLite compares the
    # whole record of an index B-tree's cell (overflow pages included) on every seek.
    db.execute(
        """CREATE TABLE event_batches (
            id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, position INTEGER NOT NULL,
            count INTEGER NOT NULL, body TEXT NOT NULL)"""
    )
    db.execute("CREATE UNIQUE INDEX event_batches_by_run ON event_batches (run_id, position)")
    db.execute(
        "INSERT INTO event_batches (run_id, position, count, body) SELECT run_id, "
        "ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY id), 1, '[' || body || ']' "
        "FROM events"
    )
    db.execute("DROP TABLE events")
    db.execute(
        """CREATE VIEW event_rows AS SELECT batch.run_id AS run_id,
            batch.position + item.key AS position,
            json_extract(item.value, '$.step') AS step,
            json_extract(item.value, '$.kind') AS kind,
            json_extract(item.value, '$.node') AS node,
            json_extract(item.value, '$.seq') AS seq,
            json_extract(item.value, '$.ts') AS ts,
            item.value AS body
            FROM event_batches AS batch, json_each(batch.body) AS item"""
    )


#: ``MIGRATIONS[i]`` upgrades a file at version ``i`` to ``i + 1``, inside one transaction.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_create_v1, _events_in_batches]
assert len(MIGRATIONS) == SCHEMA_VERSION


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        db.execute("ROLLBACK")


def _read_only_filesystem(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _empty_or_missing(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except FileNotFoundError:
        return True
    except OSError:
        return False


def default_store_path(cwd: Path | None = None) -> Path:
    """``$FLOWAGENTS_STORE``, else ``.flowagents/runs.db`` under ``cwd``."""
    configured = os.environ.get("FLOWAGENTS_STORE")
    if configured:
        return Path(configured)
    return (cwd or Path.cwd()) / ".flowagents" / "runs.db"


class SQLiteRunStore(RunStore):
    """Runs in one SQLite file (created with its directory when missing, if ``create``).

    ``readonly`` opens an existing store for reading only (SQLite's ``mode=ro``): nothing is
    written to it (no switch to WAL, no write lock, no migration), so a store on a read-only
    filesystem or in a directory one may not write to can be listed, shown, exported and
    replayed; writing through it raises ``StoreError``. A store in an older format must be
    opened writable once first, which upgrades it.

    ``checkpointer`` folds the WAL back into the file on its own thread once about
    ``checkpoint_bytes`` were written (see ``WalCheckpointer``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        readonly: bool = False,
        create: bool = True,
        busy_timeout_s: float = 30.0,
        checkpoint_bytes: int = DEFAULT_CHECKPOINT_BYTES,
    ) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.readonly = readonly
        self._lock = threading.Lock()
        self._check_header()
        if (readonly or not create) and not self.path.exists():
            raise StoreError(
                "there is no run store here (nothing was created; check --store or "
                "FLOWAGENTS_STORE)",
                where=self.location,
            )
        self._db = self._connect_readonly(busy_timeout_s) if readonly else self._connect(
            busy_timeout_s
        )
        try:
            with self._guard():
                if readonly:
                    self._check_readable()
                else:
                    self._use_wal(busy_timeout_s)
                    self._db.execute("PRAGMA synchronous=NORMAL")
                    self._db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's job
                    self._migrate()
        except StoreError as error:
            self._db.close()
            unopenable = ("unable to open", "readonly database")
            if isinstance(error, StoreCorruptError) or not any(
                text in error.message for text in unopenable
            ):
                raise
            raise self._cannot_open(error.message) from error
        except BaseException:
            self._db.close()
            raise
        self.checkpointer = WalCheckpointer(
            self.path, threshold_bytes=checkpoint_bytes, busy_timeout_s=busy_timeout_s
        )

    # -- opening -----------------------------------------------------------------------------

    def _connect(self, busy_timeout_s: float) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the run store's directory {self.path.parent}: {exc.strerror}",
                where=self.location,
            ) from exc
        try:
            return sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise self._cannot_open(str(exc)) from exc

    def _connect_readonly(self, busy_timeout_s: float) -> sqlite3.Connection:
        """A ``mode=ro`` connection; ``immutable`` when only that can read the file.

        SQLite reads a store in WAL mode through its ``-shm`` index beside it, which it
        cannot create on a read-only filesystem: there, a store with no write-ahead log to
        read (the usual state of a store no process has open) is read as immutable.
        """
        uri = self.path.resolve().as_uri() + "?mode=ro"
        db = self._connect_uri(uri, busy_timeout_s)
        try:
            db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()  # opening is lazy
            return db
        except sqlite3.OperationalError as exc:
            db.close()
            wal = self.path.with_name(self.path.name + "-wal")
            if not (_read_only_filesystem(self.path.parent) and _empty_or_missing(wal)):
                raise self._cannot_open(str(exc)) from exc
        return self._connect_uri(uri + "&immutable=1", busy_timeout_s)

    def _connect_uri(self, uri: str, busy_timeout_s: float) -> sqlite3.Connection:
        try:
            return sqlite3.connect(
                uri, uri=True, timeout=busy_timeout_s, isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise self._cannot_open(str(exc)) from exc

    def _cannot_open(self, reason: str) -> StoreError:
        """Why the store cannot be opened, as far as the file system tells."""
        path, directory = self.path, self.path.parent
        wanted = "read-only" if self.readonly else "for writing"
        why = reason
        if _read_only_filesystem(directory) and not self.readonly:
            why = "it is on a read-only filesystem (runs, show, export and replay can read it)"
        elif path.exists() and not os.access(path, os.R_OK):
            why = "the file is not readable (permission denied)"
        elif path.exists() and not self.readonly and not os.access(path, os.W_OK):
            why = "the file is read-only (runs, show, export and replay can read it)"
        elif not os.access(directory, os.W_OK):
            why = (
                f"its directory {directory} is not writable, and SQLite keeps "
                f"{path.name}-wal and {path.name}-shm beside the file"
            )
            if self.readonly and _read_only_filesystem(directory):
                why = (
                    f"it is on a read-only filesystem with a write-ahead log ({path.name}-wal) "
                    f"but no {path.name}-shm index to read it through; open it once where it "
                    "is writable"
                )
        return StoreError(f"cannot open the run store {wanted}: {why}", where=self.location)

    def _check_header(self) -> None:
        """Refuse a file that is not SQLite at all before SQLite writes to it.

        SQLite itself is asked, read-only: closing a descriptor of our own would drop every
        POSIX lock this process holds on the file, those of a store already open on it too,
        and another process would then take that store's write-ahead log away.
        """
        if _empty_or_missing(self.path):
            return
        try:
            probe = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True)
        except sqlite3.Error:
            return  # opening it for real says why
        try:
            probe.execute("PRAGMA schema_version").fetchone()
        except sqlite3.DatabaseError as exc:
            if exc.sqlite_errorcode == sqlite3.SQLITE_NOTADB:
                raise StoreCorruptError(
                    "this file is not a SQLite database, so not a flowagents run store; "
                    "it was left untouched (point --store or FLOWAGENTS_STORE elsewhere)",
                    where=self.location,
                ) from None
            # Anything else (a read-only filesystem, a pending log): opening it for real says.
        finally:
            probe.close()

    def _check_format(self, db: sqlite3.Connection) -> int:
        """The file's format version; refuse a foreign or newer file (inside a transaction)."""
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
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
                    "this SQLite database was not written by flowagents; it was left untouched",
                    where=self.location,
                )
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the run store has format version {version}, newer than this "
                f"flowagents knows ({SCHEMA_VERSION}); upgrade flowagents",
                where=self.location,
            )
        return version

    def _check_readable(self) -> None:
        """A read-only store must be in the current format: it cannot be upgraded here."""
        db = self._db
        db.execute("BEGIN")  # a read transaction: one snapshot, no lock taken
        try:
            version = self._check_format(db)
        finally:
            _rollback(db)
        if version == 0:
            raise StoreError("this file is empty: no run was recorded in it", where=self.location)
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"the run store has format version {version}, older than this flowagents reads "
                f"({SCHEMA_VERSION}); it must be opened writable once to be upgraded (any "
                "command that records into it, e.g. flowagents resume or import, or "
                "SQLiteRunStore(path) in Python)",
                where=self.location,
            )

    def _use_wal(self, busy_timeout_s: float) -> None:
        """Put the file in WAL mode (it stays so), waiting for processes opening it too.

        Switching needs an exclusive lock, and SQLite answers "database is locked" at once,
        without its busy handler, when another process is switching a new file at the same
        moment (or returns the old mode): several runs started together on a new store.
        """
        start = time.monotonic()
        while True:
            waited = time.monotonic() - start
            try:
                mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or waited > busy_timeout_s:
                    raise
            else:
                # A file system without WAL support keeps answering the old mode: after a
                # second, go on in it, as SQLite itself would.
                if str(mode).lower() == "wal" or waited > min(1.0, busy_timeout_s):
                    return
            time.sleep(0.01)

    def _migrate(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")  # one process creates or upgrades; the others wait
        try:
            version = self._check_format(db)
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
        self.checkpointer.close()
        with self._lock:
            self._db.close()

    # -- events ------------------------------------------------------------------------------

    def append_events(self, events: Sequence[Event]) -> None:
        # Group commit makes batches of hundreds of events: each costs one serializer call,
        # and the batch one row. Serializing happens before the write lock is taken.
        if not events:
            return
        serializers = _SERIALIZERS
        run_ids = set(map(_RUN_ID, events))  # map and attrgetter: no Python frame per event
        if len(run_ids) == 1:
            runs: dict[str, list[Event]] = {run_ids.pop(): list(events)}  # the usual batch
        else:
            runs = {}
            for event in events:
                runs.setdefault(event.run_id, []).append(event)
        rows = [
            (
                run_id,
                len(batch),
                (b"[%b]" % b",".join([serializers.get(type(e), _dump_any)(e) for e in batch]))
                .decode(),
            )
            for run_id, batch in runs.items()
        ]
        with self._guard() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                # The run rows first: a RunStarted whose id is taken stops the whole batch.
                changes_run_row = map(_RUN_ROW_KINDS.__contains__, map(_KIND, events))
                for event in itertools.compress(events, changes_run_row):
                    self._update_run_row(db, event, self.location)
                for run_id, count, body in rows:
                    db.execute(
                        "INSERT INTO event_batches (run_id, position, count, body) VALUES "
                        "(?, ?, ?, ?)",
                        (run_id, self._next_position(db, run_id), count, body),
                    )
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise
            self.checkpointer.wrote(sum(len(body) for _, _, body in rows))

    @staticmethod
    def _next_position(db: sqlite3.Connection, run_id: str) -> int:
        """The position after the run's last event (the caller holds the write lock)."""
        last = db.execute(
            "SELECT position + count FROM event_batches WHERE run_id = ? "
            "ORDER BY position DESC LIMIT 1",
            (run_id,),
        ).fetchone()
        return int(last[0]) if last else 1

    @staticmethod
    def _update_run_row(db: sqlite3.Connection, event: Event, location: str) -> None:
        """``RunStarted`` creates the run row; ``RunFinished`` ends it.

        The caller holds the write lock, so a taken id is found by the insert itself: a
        conflicting row is only kept when its run has no events yet (``create_run``'s).
        """
        if isinstance(event, RunStarted):
            cursor = db.execute(
                "INSERT INTO runs (run_id, graph, status, reason, task, "
                "started_at, ended_at, manifest) VALUES (?, ?, 'running', '', ?, ?, "
                "NULL, ?) ON CONFLICT (run_id) DO NOTHING",
                (
                    event.run_id,
                    event.graph,
                    event.task,
                    event.ts,
                    json.dumps(event.manifest, default=str),
                ),
            )
            if cursor.rowcount == 0 and db.execute(
                "SELECT 1 FROM event_batches WHERE run_id = ? LIMIT 1", (event.run_id,)
            ).fetchone():
                raise run_id_taken(event.run_id, location)
        elif isinstance(event, RunFinished):
            db.execute(
                "UPDATE runs SET status = ?, reason = ?, ended_at = ? WHERE run_id = ?",
                (event.status, event.reason, event.ts, event.run_id),
            )

    def events(self, run_id: str) -> list[Event]:
        with self._guard() as db:
            rows = db.execute(
                "SELECT position, body FROM event_batches WHERE run_id = ? ORDER BY position",
                (run_id,),
            ).fetchall()
        events: list[Event] = []
        for position, body in rows:
            try:
                events.extend(_BATCH_ADAPTER.validate_json(body))
            except ValidationError as exc:
                error = exc.errors()[0]
                index = error["loc"][0] if error["loc"] and isinstance(error["loc"][0], int) else 0
                raise StoreCorruptError(
                    f"event {position + index} of run {run_id} is not a valid event: "
                    f"{error['msg']}",
                    where=self.location,
                ) from exc
        return events

    def truncate_events(self, run_id: str, keep: int) -> int:
        with self._guard() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                rows = db.execute(
                    "SELECT position, count, body FROM event_batches WHERE run_id = ? "
                    "ORDER BY position",
                    (run_id,),
                ).fetchall()
                kept = gone = 0
                for position, count, body in rows:
                    if kept >= keep:
                        db.execute(
                            "DELETE FROM event_batches WHERE run_id = ? AND position = ?",
                            (run_id, position),
                        )
                        gone += count
                    elif kept + count > keep:  # the cut falls inside this batch
                        part = json.loads(body)[: keep - kept]
                        db.execute(
                            "UPDATE event_batches SET count = ?, body = ? "
                            "WHERE run_id = ? AND position = ?",
                            (len(part), _json_array(part), run_id, position),
                        )
                        gone += count - len(part)
                    kept += count
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise
        return gone

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
        "(SELECT COALESCE(SUM(count), 0) FROM event_batches AS batch "
        "WHERE batch.run_id = runs.run_id)"
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
                raise run_id_taken(record.run_id, self.location) from exc

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


def open_store(
    path: str | os.PathLike[str] | None = None, *, readonly: bool = False, create: bool = True
) -> RunStore:
    """The SQLite store at ``path`` (default: ``default_store_path()``).

    ``readonly`` opens an existing store for reading only; ``create=False`` refuses to make
    a new one (both raise ``StoreError`` naming the path when there is no store there).
    """
    return SQLiteRunStore(
        path if path is not None else default_store_path(), readonly=readonly, create=create
    )
