"""A ``join: any`` race decided by time, recorded over the wire, then replayed and resumed.

In the record the branch declared first (``slow``) loses: its second call is still waiting on
the server when the other branch, whose first agent thinks for 0.3 s, reaches the join; so
it is cancelled and the record has no answer for it. Re-executions answer from the record at
once; they must take the branch the record took, hold the loser at the call the record lacks,
and call nothing live for it. Resume and fork then let the server answer the loser at once:
racing again, it would win.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from flowagents.events import BranchesJoined, MessageSent, ModelCalled, NodeEntered
from flowagents.graph import compile_graph
from flowagents.store import (
    NonInteractiveInput,
    SQLiteRunStore,
    fork_run,
    record_run,
    replay_run,
    resume_run,
)
from flowagents.store._verify import in_branches
from flowagents.testing import LoopbackServer

GRAPH = """
name: race
mode: static
start: planner
models:
  chat: {{provider: openai, model: chat-model, base_url: "{base_url}", temperature: 0}}
agents:
  - {{name: planner, model: chat, system_message: You are planner.}}
  - {{name: slow_1, model: chat, system_message: You are slow_1.}}
  - {{name: slow_2, model: chat, system_message: You are slow_2.}}
  - {{name: fast_1, factory: "store_agents:pausing", kwargs: {{name: fast_1, seconds: 0.3}}}}
  - {{name: fast_2, model: chat, system_message: You are fast_2.}}
  - {{name: pick, model: chat, system_message: You are pick., join: any}}
  - name: human
    type: user_proxy
    human_input_mode: ALWAYS
  - {{name: closer, model: chat, system_message: You are closer.}}
edges:
  - {{from: planner, to: slow_1, parallel: true}}
  - {{from: planner, to: fast_1, parallel: true}}
  - {{from: slow_1, to: slow_2}}
  - {{from: slow_2, to: pick}}
  - {{from: fast_1, to: fast_2}}
  - {{from: fast_2, to: pick}}
  - {{from: pick, to: human}}
  - {{from: human, to: closer}}
termination:
  terminal: [closer]
"""


class RaceServer:
    """Answers by speaker; ``slow_2`` waits until released (or the server stops)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.server = LoopbackServer(self.answer)

    def answer(self, body: dict[str, Any]) -> str:
        speaker = str(body["messages"][0]["content"]).removeprefix("You are ").rstrip(".")
        if speaker == "slow_2":
            self.release.wait(10)
        return f"{speaker} says {len(body['messages'])}"

    def speakers(self) -> list[str]:
        """Who the requests so far were for, in order."""
        return [
            str(request.body["messages"][0]["content"]).removeprefix("You are ").rstrip(".")
            for request in self.server.requests
            if request.body is not None
        ]


@pytest.fixture
def race() -> Any:
    running = RaceServer()
    with running.server:
        yield running
        running.release.set()


def recorded(tmp_path: Path, race: RaceServer) -> tuple[Path, Path]:
    graph = tmp_path / "race.yaml"
    graph.write_text(GRAPH.format(base_url=race.server.base_url))
    store = tmp_path / "runs.db"
    with SQLiteRunStore(store) as opened:
        result = record_run(
            opened, compile_graph(graph), "go", graph_file=graph, run_id="race",
            input_provider=NonInteractiveInput(),
        )
    assert result.status == "waiting_for_human"
    return graph, store


def test_the_record_says_which_branch_won_and_what_the_loser_did(
    tmp_path: Path, race: RaceServer
) -> None:
    _, store = recorded(tmp_path, race)
    with SQLiteRunStore(store) as opened:
        events = opened.events("race")
    joined = [e for e in events if isinstance(e, BranchesJoined)]
    assert [(j.step, j.node, j.join, j.taken, j.dropped) for j in joined] == [
        ("2", "planner", "pick", ("fast_1",), ("slow_1",))
    ]
    # The loser spoke once and was cancelled while its second call was on the wire.
    senders = sorted(e.sender for e in events if isinstance(e, MessageSent))
    assert senders == sorted(["user", "planner", "slow_1", "fast_1", "fast_2", "pick"])
    assert any(isinstance(e, NodeEntered) and e.node == "slow_2" for e in events)
    assert not any(isinstance(e, ModelCalled) and e.node == "slow_2" for e in events)
    assert "slow_2" in race.speakers()


def test_replay_takes_the_recorded_winner_and_holds_the_loser(
    tmp_path: Path, race: RaceServer
) -> None:
    _, store = recorded(tmp_path, race)
    before = len(race.server.requests)
    with SQLiteRunStore(store) as opened:
        recorded_texts = [
            (e.sender, e.message.text) for e in opened.events("race") if isinstance(e, MessageSent)
        ]
        seen: list[Any] = []
        report = replay_run(opened, "race", sinks=[seen.append])
    assert len(race.server.requests) == before  # nothing live
    # The record stops waiting for the human: the replay matches up to there.
    replayed = [(e.sender, e.message.text) for e in seen if isinstance(e, MessageSent)]
    assert sorted(replayed) == sorted(recorded_texts)
    assert [e.taken for e in seen if isinstance(e, BranchesJoined)] == [("fast_1",)]
    assert report.events_checked > 0


def test_resume_follows_the_record_and_calls_nothing_for_the_loser(
    tmp_path: Path, race: RaceServer
) -> None:
    _, store = recorded(tmp_path, race)
    before = race.speakers()
    race.release.set()  # were slow_2 asked now, it would answer at once and win
    with SQLiteRunStore(store) as opened:
        result = resume_run(opened, "race", reply="carry on")
        events = opened.events("race")
    assert result.status == "completed"
    assert race.speakers()[len(before):] == ["closer"]
    assert [m.name for m in result.messages] == [
        "user", "planner", "fast_1", "fast_2", "pick", "human", "closer",
    ]
    assert [(e.step, e.taken) for e in events if isinstance(e, BranchesJoined)] == [
        ("2", ("fast_1",))
    ]


def test_a_fork_after_the_join_keeps_the_recorded_winner(
    tmp_path: Path, race: RaceServer
) -> None:
    _, store = recorded(tmp_path, race)
    before = race.speakers()
    race.release.set()
    with SQLiteRunStore(store) as opened:
        human_step = next(
            e.step for e in opened.events("race") if isinstance(e, NodeEntered)
            and e.node == "human"
        )
        forked = fork_run(
            opened, "race", human_step, new_run_id="fork",
            input_provider=NonInteractiveInput(),
        )
    assert forked.status == "waiting_for_human"
    assert race.speakers()[len(before):] == []  # the prefix is the record's
    assert [m.name for m in forked.messages] == ["user", "planner", "fast_1", "fast_2", "pick"]


def test_a_dropped_branch_is_told_apart_from_a_node_whose_name_extends_it() -> None:
    dropped = ("4/a.",)
    assert in_branches("4/a.1", dropped)
    assert in_branches("4/a.12/team.3", dropped)
    assert not in_branches("4/a.b.1", dropped)  # branch "a.b", a node name with a dot
    assert not in_branches("14/a.1", dropped)
    assert in_branches("4/a.b.1", ("4/a.b.",))
