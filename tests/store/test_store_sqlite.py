"""The SQLite backend: format version, foreign and damaged files, concurrent writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from store_helpers import GRAPHS, cli, spawn

from flowagents.errors import StoreCorruptError, StoreError
from flowagents.events import EVENT_ADAPTER, MessageSent, RunFinished, RunStarted
from flowagents.messages import Message
from flowagents.store import SCHEMA_VERSION, SQLiteRunStore, open_store


def test_new_store_is_versioned_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "runs.db"
    SQLiteRunStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT value FROM flowagents_meta WHERE key='format'").fetchone() == (
        "flowagents-runs",
    )
    db.close()
    SQLiteRunStore(path).close()  # reopening an existing store changes nothing


def test_default_path_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOWAGENTS_STORE", raising=False)
    open_store().close()
    assert (tmp_path / ".flowagents" / "runs.db").exists()
    monkeypatch.setenv("FLOWAGENTS_STORE", str(tmp_path / "env.db"))
    open_store().close()
    assert (tmp_path / "env.db").exists()


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("my precious notes\n" * 100)
    with pytest.raises(StoreCorruptError, match="not a SQLite database") as info:
        SQLiteRunStore(path)
    assert str(path) in str(info.value)
    assert path.read_text() == "my precious notes\n" * 100


def test_a_foreign_sqlite_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (id INTEGER, name TEXT)")
    db.execute("INSERT INTO users VALUES (1, 'ada')")
    db.commit()
    db.close()
    with pytest.raises(StoreCorruptError, match="not written by flowagents"):
        SQLiteRunStore(path)
    db = sqlite3.connect(path)
    assert db.execute("SELECT * FROM users").fetchall() == [(1, "ada")]
    assert {r[0] for r in db.execute("SELECT name FROM sqlite_master")} == {"users"}
    db.close()


def test_a_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    SQLiteRunStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this flowagents"):
        SQLiteRunStore(path)


def _filled(path: Path, runs: int = 30) -> None:
    with SQLiteRunStore(path) as store:
        for i in range(runs):
            store.append_events([RunStarted(run_id=f"r{i}", step="0", graph="g", ts=i)])
            for j in range(20):
                store.append_events([
                    MessageSent(run_id=f"r{i}", step=str(j), sender="a",
                                message=Message(role="assistant", content="x" * 200))])
    db = sqlite3.connect(path)  # fold the WAL into the main file, as after a clean exit
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def test_a_damaged_file_gives_store_corrupt_error(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    _filled(path)
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(page, len(data), page):  # keep the header page, scramble the rest
        data[offset : offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorruptError, match="damaged") as info:
        store = SQLiteRunStore(path)
        store.list_runs()
        for run in store.list_runs():
            store.events(run.run_id)
    assert str(path) in str(info.value)


def test_a_damaged_event_row_gives_store_corrupt_error(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    _filled(path, runs=1)
    db = sqlite3.connect(path)
    db.execute(
        "UPDATE event_batches SET body = '[{\"kind\": \"nonsense\"}]' WHERE position = 4"
    )
    db.commit()
    db.close()
    with SQLiteRunStore(path) as store, pytest.raises(StoreCorruptError, match="event 4 of run r0"):
        store.events("r0")


def test_a_damaged_event_inside_a_commit_is_named_by_its_position(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with SQLiteRunStore(path) as store:
        store.append_events([RunStarted(run_id="r", step="0", graph="g")])
        store.append_events([
            MessageSent(run_id="r", step=str(i), sender="a",
                        message=Message(role="assistant", content=str(i)))
            for i in (1, 2, 3)
        ])
    db = sqlite3.connect(path)
    (body,) = db.execute("SELECT body FROM event_batches WHERE position = 2").fetchone()
    first, second, rest = body.split('"kind":"message"', 2)  # break the middle event
    db.execute(
        "UPDATE event_batches SET body = ? WHERE position = 2",
        (first + '"kind":"message"' + second + '"kind":"bogus"' + rest,),
    )
    db.commit()
    db.close()
    with SQLiteRunStore(path) as store, pytest.raises(StoreCorruptError, match="event 3 of run r"):
        store.events("r")


def test_cli_reports_a_foreign_store_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database")
    done = cli("runs", "--store", str(path), cwd=tmp_path)
    assert done.returncode == 1
    assert "error[FA401]" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert path.read_text() == "not a database"


HAMMER = """
import sys
from flowagents.events import MessageSent, RunStarted
from flowagents.messages import Message
from flowagents.store import SQLiteRunStore
store = SQLiteRunStore(sys.argv[1])
run = sys.argv[2]
store.append_events([RunStarted(run_id=run, step="0", graph="g")])
for i in range(300):
    store.append_events([MessageSent(run_id=run, step=str(i), sender="a",
                                     message=Message(role="assistant", content=str(i)))])
"""


def test_two_processes_appending_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    SQLiteRunStore(path).close()
    writers = [
        subprocess.Popen([sys.executable, "-c", HAMMER, str(path), run], stderr=subprocess.PIPE)
        for run in ("p1", "p2")
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err
    with SQLiteRunStore(path) as store:
        for run in ("p1", "p2"):
            events = store.events(run)
            assert len(events) == 301
            texts = [e.message.text for e in events if isinstance(e, MessageSent)]
            assert texts == [str(i) for i in range(300)]


def test_two_recorded_runs_at_once_both_complete(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    runs = [
        spawn("run", str(GRAPHS / "loop.yaml"), "-t", "go", "-q", "--store", str(store),
              "--run-id", run_id, cwd=tmp_path, FLOWAGENTS_TEST_DELAY="0.01")
        for run_id in ("one", "two")
    ]
    for process in runs:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert "completed" in out
    with SQLiteRunStore(store) as opened:
        one, two = opened.get_run("one"), opened.get_run("two")
        assert one.status == two.status == "completed"
        assert one.events == two.events == len(opened.events("one")) > 40


def test_a_new_store_opens_while_another_process_holds_its_write_lock(tmp_path: Path) -> None:
    # Runs started together on a new file: one holds the write lock while another switches
    # the file to WAL, which SQLite refuses at once ("database is locked"), without waiting.
    path = tmp_path / "runs.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite3.connect(path, timeout=5).execute("PRAGMA journal_mode=WAL")  # no wait at all
    release = threading.Timer(0.2, lambda: other.execute("COMMIT"))
    release.start()
    try:
        with SQLiteRunStore(path) as store:
            assert store.list_runs() == []
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        release.join()
        other.close()


def test_a_second_store_on_the_same_file_keeps_the_first_ones_commits(tmp_path: Path) -> None:
    # Two agents with cache_seed each open the default store in one process. Another process
    # that opens and closes the file must still see it in use, or it takes the write-ahead
    # log away: the first store's next commits then go to a deleted file, seen by no one.
    path = tmp_path / "runs.db"
    reader = (
        "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
        "print(sorted(k for (k,) in db.execute('SELECT key FROM llm_cache'))); db.close()"
    )

    def keys_seen_by_another_process() -> str:
        return subprocess.run(
            [sys.executable, "-c", reader, str(path)],
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout.strip()

    first = SQLiteRunStore(path)
    first.cache_put("before", "m", {"n": 1})
    SQLiteRunStore(path).close()
    assert keys_seen_by_another_process() == "['before']"
    first.cache_put("after", "m", {"n": 2})
    assert keys_seen_by_another_process() == "['after', 'before']"
    first.close()


def _version_1_store(path: Path) -> list[list[str]]:
    """A store as flowagents 0.1 wrote it (format 1): two runs whose rows interleave."""
    from flowagents.store._sqlite import MIGRATIONS

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("BEGIN")
    MIGRATIONS[0](db)
    db.execute("PRAGMA user_version = 1")
    bodies: list[list[str]] = [[], []]
    for i in range(6):
        run = i % 2
        event = (
            RunStarted(run_id=f"v{run}", step="0", graph="g", ts=float(run))
            if i < 2
            else MessageSent(run_id=f"v{run}", step=str(i), sender="a",
                             message=Message(role="assistant", content=f"m{i}"))
        )
        if i < 2:
            db.execute(
                "INSERT INTO runs (run_id, graph, status, started_at, manifest) "
                "VALUES (?, 'g', 'completed', ?, '{}')", (f"v{run}", float(run)),
            )
        body = EVENT_ADAPTER.dump_json(event).decode()
        bodies[run].append(body)
        db.execute(
            "INSERT INTO events (run_id, step, kind, ordinal, body) VALUES (?, ?, ?, 0, ?)",
            (f"v{run}", event.step, event.kind, body),
        )
    db.execute("COMMIT")
    db.close()
    return bodies


def test_a_version_1_store_is_migrated_with_every_event_in_order(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    bodies = _version_1_store(path)
    with SQLiteRunStore(path) as store:
        for run in (0, 1):
            events = store.events(f"v{run}")
            assert [e.kind for e in events] == ["run_started", "message", "message"]
            assert [EVENT_ADAPTER.dump_json(e).decode() for e in events] == bodies[run]
            assert store.get_run(f"v{run}").events == 3
        store.append_events([RunFinished(run_id="v0", step="9", status="completed")])
        assert [e.kind for e in store.events("v0")][-1] == "run_finished"
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    rows = db.execute(
        "SELECT position, step, kind FROM event_rows WHERE run_id = 'v0' ORDER BY position"
    ).fetchall()
    assert rows == [(1, "0", "run_started"), (2, "2", "message"), (3, "4", "message"),
                    (4, "9", "run_finished")]
    db.close()


def test_the_wal_is_checkpointed_off_the_recording_thread(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with SQLiteRunStore(path, checkpoint_bytes=64 << 10) as store:
        assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        store.append_events([RunStarted(run_id="r", step="0", graph="g")])
        size_before = path.stat().st_size
        for batch in range(40):
            store.append_events([
                MessageSent(run_id="r", step=f"{batch}.{i}", sender="a",
                            message=Message(role="assistant", content="x" * 500))
                for i in range(10)
            ])
        deadline = time.monotonic() + 30
        while store.checkpointer.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.checkpointer.checkpoints >= 1
        assert path.stat().st_size > size_before  # pages went from the WAL into the file
        assert len(store.events("r")) == 401
        assert store.checkpointer.running
    assert not store.checkpointer.running  # closing the store stops it


def _snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def _recorded_store(tmp_path: Path) -> Path:
    store = tmp_path / "store" / "runs.db"
    done = cli("run", str(GRAPHS / "loop.yaml"), "-t", "go", "-q", "--store", str(store),
               "--run-id", "r1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return store


def test_a_read_only_store_reads_everything_and_writes_nothing(tmp_path: Path) -> None:
    path = _recorded_store(tmp_path)
    before = _snapshot(path)

    with SQLiteRunStore(path, readonly=True) as store:
        assert [run.run_id for run in store.list_runs()] == ["r1"]
        assert store.get_run("r1").status == "completed"
        assert store.events("r1") and store.calls("r1")
        with pytest.raises(StoreError, match="readonly"):
            store.append_events([RunStarted(run_id="r2", step="0", graph="g")])

    assert _snapshot(path) == before
    wal = path.with_name("runs.db-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    with SQLiteRunStore(path) as store:
        assert [run.run_id for run in store.list_runs()] == ["r1"]


def test_a_missing_store_is_not_created_by_a_read_only_open(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "dir" / "runs.db"
    for options in ({"readonly": True}, {"create": False}):
        with pytest.raises(StoreError, match="there is no run store here") as info:
            open_store(path, **options)  # type: ignore[arg-type]
        assert str(path) in str(info.value)
    assert not (tmp_path / "typo").exists()


def test_an_older_format_is_not_upgraded_by_a_read_only_open(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    _version_1_store(path)
    before = _snapshot(path)

    with pytest.raises(StoreError, match="must be opened writable once to be upgraded"):
        SQLiteRunStore(path, readonly=True)

    assert _snapshot(path) == before
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    db.close()


def _on_read_only_fs(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with ``directory`` bind-mounted read-only (a mount namespace of its own)."""
    from store_helpers import FLOWAGENTS, cli_env

    return subprocess.run(
        ["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(directory), str(directory),
         "--", *FLOWAGENTS, *args],
        cwd=directory.parent, env=cli_env(), capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=60,
    )


def test_read_commands_work_on_a_read_only_filesystem(tmp_path: Path) -> None:
    path = _recorded_store(tmp_path)
    before = _snapshot(path)
    store = str(path)

    listed = _on_read_only_fs(path.parent, "runs", "--store", store, "--json")
    shown = _on_read_only_fs(path.parent, "show", "r1", "--store", store)
    exported = _on_read_only_fs(path.parent, "export", "r1", "--store", store)
    replayed = _on_read_only_fs(path.parent, "replay", "r1", "-q", "--store", store)
    recorded = _on_read_only_fs(path.parent, "run", str(GRAPHS / "loop.yaml"), "-t", "go", "-q",
                                "--store", store)

    for done in (listed, shown, exported, replayed):
        assert done.returncode == 0, done.stderr
    assert '"run_id": "r1"' in listed.stdout
    assert "run r1 graph loop: completed" in shown.stdout
    assert exported.stdout.startswith('{"type": "run"')
    assert "replay of run r1 matches the whole record" in replayed.stdout
    assert recorded.returncode == 1
    assert (f"error[FA400] {store}: cannot open the run store for writing: it is on a "
            "read-only filesystem") in recorded.stderr
    assert _snapshot(path) == before


def test_a_write_ahead_log_unreadable_on_a_read_only_filesystem_is_explained(
    tmp_path: Path,
) -> None:
    path = _recorded_store(tmp_path)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("UPDATE runs SET reason = 'changed'")
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("runs.db", "runs.db-wal"):  # as a crashed writer leaves them, minus -shm
        (copy / name).write_bytes((path.parent / name).read_bytes())
    db.close()

    done = _on_read_only_fs(copy, "runs", "--store", str(copy / "runs.db"))

    assert done.returncode == 1
    assert "cannot open the run store read-only: it is on a read-only filesystem with a " \
        "write-ahead log (runs.db-wal) but no runs.db-shm index" in done.stderr
