"""The conformance suite every RunStore backend passes (one parametrized fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flowagents.errors import StoreError
from flowagents.events import Event, MessageSent, NodeEntered, RunFinished, RunStarted
from flowagents.messages import Message
from flowagents.store import CallRecord, MemoryRunStore, RunRecord, RunStore, SQLiteRunStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunStore]:
    backend: RunStore = (
        MemoryRunStore() if request.param == "memory" else SQLiteRunStore(tmp_path / "runs.db")
    )
    with backend:
        yield backend


def started(run_id: str = "r1", ts: float = 10.0, graph: str = "g") -> RunStarted:
    return RunStarted(run_id=run_id, step="0", seq=1, ts=ts, graph=graph, task="t",
                      manifest={"seed": 3})


def message(run_id: str, step: str, text: str, seq: int) -> MessageSent:
    return MessageSent(run_id=run_id, step=step, node="a", seq=seq, ts=11.0, sender="a",
                       message=Message(role="assistant", name="a", content=text))


def test_run_started_creates_the_run_row(store: RunStore) -> None:
    store.append_events([started()])
    run = store.get_run("r1")
    assert (run.graph, run.status, run.task, run.started_at) == ("g", "running", "t", 10.0)
    assert run.manifest == {"seed": 3}
    assert run.events == 1


def test_events_round_trip_in_order(store: RunStore) -> None:
    events: list[Event] = [
        started(),
        message("r1", "1", "hello", 2),
        message("r1", "2", "world", 3),
        NodeEntered(run_id="r1", step="2", node="b", seq=4, ts=12.0, via="a"),
    ]
    store.append_events(events[:1])
    store.append_events(events[1:])
    assert store.events("r1") == events


def test_runs_interleaved_in_one_batch_keep_their_own_order(store: RunStore) -> None:
    store.append_events([started("a"), message("a", "1", "a1", 2)])
    store.append_events(
        [started("b"), message("a", "2", "a2", 3), message("b", "1", "b1", 2)]
    )
    store.append_events([message("b", "2", "b2", 3), message("a", "3", "a3", 4)])

    def texts(run_id: str) -> list[str]:
        return [e.message.text for e in store.events(run_id) if isinstance(e, MessageSent)]

    assert texts("a") == ["a1", "a2", "a3"]
    assert texts("b") == ["b1", "b2"]
    assert (store.get_run("a").events, store.get_run("b").events) == (4, 3)


def test_appending_stores_what_it_is_given_even_twice(store: RunStore) -> None:
    # Deciding what is new is the recorder's job (RecordingSink's ``recorded`` keys).
    store.append_events([started(), message("r1", "1", "same", 2)])
    store.append_events([message("r1", "1", "same", 2)])
    texts = [e.message.text for e in store.events("r1") if isinstance(e, MessageSent)]
    assert texts == ["same", "same"]


def test_a_run_started_under_a_taken_id_is_refused_and_nothing_is_written(
    store: RunStore,
) -> None:
    store.append_events([started(), message("r1", "1", "first run", 2)])

    with pytest.raises(StoreError, match="run r1 already exists") as info:
        store.append_events([started(graph="other"), message("r1", "1", "second run", 2)])

    assert store.location in str(info.value)
    run = store.get_run("r1")
    assert (run.graph, run.events) == ("g", 2)
    texts = [e.message.text for e in store.events("r1") if isinstance(e, MessageSent)]
    assert texts == ["first run"]
    # A row that create_run made (an import) is filled in by its run's first events.
    store.create_run(RunRecord(run_id="imported", graph="g2"))
    store.append_events([started("imported", graph="g2")])
    assert store.get_run("imported").events == 1


def test_run_finished_sets_status_reason_and_end(store: RunStore) -> None:
    store.append_events([started()])
    store.append_events([RunFinished(run_id="r1", step="3", seq=9, ts=20.0, status="completed",
                                     reason="keyword")])
    run = store.get_run("r1")
    assert (run.status, run.reason, run.ended_at) == ("completed", "keyword", 20.0)


def test_runs_are_listed_newest_first_and_filtered(store: RunStore) -> None:
    store.append_events([started("a", 1.0, "g1"), started("b", 2.0, "g2")])
    store.append_events([started("c", 3.0, "g1")])
    store.append_events([RunFinished(run_id="c", step="1", status="failed", reason="error")])
    assert [r.run_id for r in store.list_runs()] == ["c", "b", "a"]
    assert [r.run_id for r in store.list_runs(graph="g1")] == ["c", "a"]
    assert [r.run_id for r in store.list_runs(status="running")] == ["b", "a"]
    assert [r.run_id for r in store.list_runs(limit=1)] == ["c"]


def test_missing_run_is_a_store_error(store: RunStore) -> None:
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.get_run("nope")
    with pytest.raises(StoreError):
        store.update_run(RunRecord(run_id="nope", graph="g"))
    assert store.events("nope") == []


def test_create_update_and_duplicate_runs(store: RunStore) -> None:
    record = RunRecord(run_id="x", graph="g", started_at=5.0, manifest={"k": [1, 2]})
    store.create_run(record)
    with pytest.raises(StoreError, match="already exists"):
        store.create_run(record)
    store.update_run(record.model_copy(update={"status": "cancelled", "reason": "stop"}))
    run = store.get_run("x")
    assert (run.status, run.reason, run.manifest) == ("cancelled", "stop", {"k": [1, 2]})


def test_truncate_events_keeps_the_first_ones(store: RunStore) -> None:
    store.append_events([started(), message("r1", "1", "keep", 2)])
    store.append_events([message("r1", "2", "drop", 3), message("r1", "3", "drop", 4)])
    store.append_events([started("other")])
    assert store.truncate_events("r1", 5) == 0
    assert store.truncate_events("r1", 2) == 2
    assert [e.kind for e in store.events("r1")] == ["run_started", "message"]
    store.append_events([message("r1", "2", "again", 5)])
    assert store.truncate_events("r1", 3) == 0  # positions after a truncation have gaps
    texts = [e.message.text for e in store.events("r1") if isinstance(e, MessageSent)]
    assert texts == ["keep", "again"]
    assert store.truncate_events("r1", 0) == 3
    assert store.events("r1") == []
    assert store.truncate_events("missing", 0) == 0
    assert [e.kind for e in store.events("other")] == ["run_started"]


def test_truncate_inside_one_commit_keeps_its_first_events(store: RunStore) -> None:
    store.append_events([started(), message("r1", "1", "a", 2), message("r1", "2", "b", 3)])
    assert store.truncate_events("r1", 2) == 1
    store.append_events([message("r1", "2", "c", 4)])
    texts = [e.message.text for e in store.events("r1") if isinstance(e, MessageSent)]
    assert texts == ["a", "c"]
    assert store.get_run("r1").events == 3


def test_calls_round_trip_and_dedupe(store: RunStore) -> None:
    first = CallRecord(run_id="r1", step="2", kind="model", ordinal=0, node="a",
                       request_hash="abc", model="m", answer={"message": {"content": "hi"}})
    second = CallRecord(run_id="r1", step="2", kind="human", ordinal=0, node="h",
                        answer={"text": "yes"})
    assert store.put_call(first)
    assert store.put_call(second)
    assert not store.put_call(first.model_copy(update={"answer": {"other": 1}}))
    assert store.calls("r1") == [first, second]
    assert store.calls("r2") == []


def test_cache_first_write_wins(store: RunStore) -> None:
    assert store.cache_get("k") is None
    store.cache_put("k", "m", {"message": {"content": "one"}})
    store.cache_put("k", "m", {"message": {"content": "two"}})
    assert store.cache_get("k") == {"message": {"content": "one"}}
