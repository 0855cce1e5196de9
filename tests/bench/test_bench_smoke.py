"""Every benchmark workload runs on flowagents at a tiny size and reports its figures.

No timing is asserted: only that each workload does the work it claims (message counts,
events recorded) and returns a result with the expected keys.
"""

from __future__ import annotations

import gc
import json
import sys
import weakref
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.harness import GcWatch, run_workload, table  # noqa: E402
from bench.run import main  # noqa: E402
from bench.workloads import WORKLOADS  # noqa: E402


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_workload_runs_on_flowagents(name: str) -> None:
    workload = WORKLOADS[name]
    outcome = run_workload(workload, repeat=1, frameworks=["flowagents"], size=workload.smoke)
    [result] = outcome.runs["flowagents"]
    assert set(result) == {"workload", "framework", "metrics", "details"}
    assert result["workload"] == name
    assert result["framework"] == "flowagents"
    assert set(result["metrics"]) == {metric.name for metric in workload.metrics}
    assert all(value > 0 for value in result["metrics"].values())
    # the event stream was on: a sink received the run's events
    assert result["details"]["events"] > 0
    for verdict in outcome.verdicts():
        assert verdict["status"] in {"met", "missed", "not measured"}


def test_workloads_do_the_work_they_claim() -> None:
    def details(name: str) -> dict[str, object]:
        workload = WORKLOADS[name]
        outcome = run_workload(workload, repeat=1, frameworks=["flowagents"], size=workload.smoke)
        return outcome.runs["flowagents"][0]["details"]

    assert details("pingpong")["turns_per_chat"] == 6  # max_turns=3: 2 messages per turn
    assert details("chain")["nodes_spoken"] == 3
    assert details("groupchat")["rounds_per_chat"] == 4
    assert details("groupchat_scripted")["rounds_per_chat"] == 4
    assert details("fanout")["messages"] == 5  # task, source, 3 branches
    concurrent = details("concurrent")
    assert concurrent["messages_per_chat"] == [4]  # max_turns=2
    # the child reports the collections inside its timed window, per generation
    child_gc = concurrent["child_gc"]
    assert isinstance(child_gc, dict)
    assert len(child_gc["collections"]) == len(child_gc["ms"]) == 3


@pytest.mark.parametrize(
    ("workload", "framework", "has_events"),
    [
        ("pingpong", "flowagents-nosink", False),
        ("groupchat", "flowagents-nosink", False),
        ("concurrent", "flowagents-counted", True),
        ("concurrent", "flowagents-nosink", False),
    ],
)
def test_sink_variants_build_events_only_when_someone_listens(
    workload: str, framework: str, has_events: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flowagents

    observed: list[object] = []
    observe = flowagents.observe

    def spy(*sinks: object) -> object:
        observed.extend(sinks)
        return observe(*sinks)  # type: ignore[arg-type]

    monkeypatch.setattr(flowagents, "observe", spy)
    spec = WORKLOADS[workload]
    outcome = run_workload(spec, repeat=1, frameworks=[framework], size=spec.smoke)
    [result] = outcome.runs[framework]
    assert result["framework"] == framework
    assert (result["details"]["events"] > 0) is has_events
    if workload != "concurrent":  # the concurrent workload runs in a child process
        assert observed == []  # no sink at all, so the engine builds no events


def test_cli_prints_a_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    argv = ["--workload", "chain", "--workload", "pingpong", "--repeat", "2", "--smoke",
            "--flowagents-only", "--quiet", "--json", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "chain" in printed and "pingpong" in printed and "<= 0.1x langgraph" in printed
    data = json.loads(out.read_text())
    assert [w["workload"] for w in data["workloads"]] == ["chain", "pingpong"]
    chain = data["workloads"][0]
    assert len(chain["runs"]["flowagents"]) == 2
    assert chain["medians"]["flowagents"]["us_per_node"] > 0
    # the peer was not run, so its ratio target is reported as not measured
    assert chain["targets"][0]["status"] == "not measured"


def test_table_lists_every_metric() -> None:
    workload = WORKLOADS["concurrent"]
    outcome = run_workload(workload, repeat=1, frameworks=["flowagents"], size=workload.smoke)
    lines = table([outcome]).splitlines()
    assert len(lines) == 2 + len(workload.metrics)
    assert "peak RSS (MB)" in lines[3]


def test_gc_watch_starts_from_a_collected_heap_and_counts_collections_inside() -> None:
    class Node:
        def __init__(self) -> None:
            self.other: Node = self  # a cycle: only the collector frees it

    gc.disable()  # no automatic collection may free the cycle before the block
    try:
        leftover = weakref.ref(Node())  # garbage made before the block
        assert leftover() is not None
        with GcWatch() as watch:
            assert leftover() is None  # collected on entry, outside the block's clock
            gc.collect(1)
    finally:
        gc.enable()
    assert watch.summary()["collections"] == [0, 1, 0]
