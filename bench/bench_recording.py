"""What recording costs per turn: a two-agent ping-pong at zero model latency.

Each agent answers with a reply function (no model), 200 turns a run. Three ways:

- ``off``: no sinks at all (the engine builds no events): the engine's own per-turn cost;
- ``null sink``: events built and handed to a sink that drops them;
- ``recorded``: ``record_run`` into a SQLite store (WAL, the recorder interceptor in front),
  as ``flowagents run`` does. No step calls the outside world, so the sink group-commits:
  one transaction at the start of the run (the run row) and one at its end.

Prints the median over 21 runs of each (the three ways alternate, so that a slow moment of
the machine hits all of them), and the ratios measured in the same process (the machine may
be shared: compare ratios, not absolute figures). Issue #5's target: the overhead that
recording adds per turn, ``recorded - off``, under 2x the engine's own per-turn cost ``off``
(that is, ``recorded`` under 3x ``off``); ``recorded / off`` is printed too.

    .venv/bin/python bench/bench_recording.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowagents.agents import ConversableAgent
from flowagents.agents._chat import pair_graph
from flowagents.runtime import Runner
from flowagents.store import SQLiteRunStore, record_run

#: Turns per run: 200, or ``$TURNS`` (e.g. ``TURNS=1000`` for longer runs).
TURNS = int(os.environ.get("TURNS", "200"))
RUNS = 21


def agents() -> dict[str, ConversableAgent]:
    made = {}
    for name in ("ping", "pong"):
        agent = ConversableAgent(name, llm_config=False, human_input_mode="NEVER")

        def reply(recipient: Any, messages: Any, sender: Any, config: Any) -> tuple[bool, str]:
            return True, f"{recipient.name} {len(messages or [])}"

        agent.register_reply([ConversableAgent, None], reply)
        made[name] = agent
    return made


def timed(run: Callable[[], int]) -> float:
    start = time.perf_counter()
    messages = run()
    elapsed = time.perf_counter() - start
    assert messages == TURNS, messages
    return elapsed / TURNS


def main() -> None:
    graph = pair_graph("ping", "pong")
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteRunStore(Path(tmp) / "runs.db")

        def off() -> int:
            result = Runner(graph, agents=agents(), max_turns=TURNS).run("start")
            return len(result.messages)

        def null_sink() -> int:
            runner = Runner(graph, agents=agents(), max_turns=TURNS, sinks=[lambda e: None])
            return len(runner.run("start").messages)

        def recorded() -> int:
            result = record_run(store, graph, "start", agents=agents(), max_turns=TURNS)
            return len(result.messages)

        modes = (("off", off), ("null sink", null_sink), ("recorded", recorded))
        for _, run in modes:
            run()  # warm up
        samples: dict[str, list[float]] = {label: [] for label, _ in modes}
        for _ in range(RUNS):  # alternate, so that a slow moment of the machine hits all modes
            for label, run in modes:
                samples[label].append(timed(run))
        results = {label: statistics.median(times) for label, times in samples.items()}
        events = len(store.events(store.list_runs(limit=1)[0].run_id))
        store.close()
    for label, per_turn in results.items():
        ratio = per_turn / results["off"]
        print(f"{label:>10}: {per_turn * 1e6:8.1f} us/turn  ({ratio:.2f}x off)")
    print(f"({events} events recorded per run of {TURNS} turns, median of {RUNS} runs)")
    overhead = (results["recorded"] - results["off"]) / results["off"]
    print(f"overhead recording adds per turn: {overhead:.2f}x the engine's own per-turn cost")
    verdict = "met" if overhead < 2 else "MISSED"
    print(f"target: overhead under 2x the engine's per-turn cost: {verdict}")


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
