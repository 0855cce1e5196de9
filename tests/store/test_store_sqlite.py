"""The SQLite backend: format version, foreign and damaged files, concurrent writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from store_helpers import GRAPHS, cli, spawn

from flowagents.errors import StoreCorruptError, StoreError
from flowagents.events import MessageSent, RunStarted
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
            store.append_event(RunStarted(run_id=f"r{i}", step="0", graph="g", ts=i), 0)
            for j in range(20):
                store.append_event(
                    MessageSent(run_id=f"r{i}", step=str(j), sender="a",
                                message=Message(role="assistant", content="x" * 200)), 0)
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
    db.execute("UPDATE events SET body = '{\"kind\": \"nonsense\"}' WHERE step = '3'")
    db.commit()
    db.close()
    with SQLiteRunStore(path) as store, pytest.raises(StoreCorruptError, match="run r0"):
        store.events("r0")


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
store.append_event(RunStarted(run_id=run, step="0", graph="g"), 0)
for i in range(300):
    store.append_event(MessageSent(run_id=run, step=str(i), sender="a",
                                   message=Message(role="assistant", content=str(i))), 0)
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
