"""Parallel fan-out, the event stream, and cancelling a run."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from runtime_helpers import agent, ending, of_kind, pair, speakers

from flowagents import ConversableAgent, GraphBuilder, Runner, ScriptedModel
from flowagents.events import Event, MessageSent, ModelCalled, NodeEntered, NodeLeft, RunFinished
from flowagents.graph import CompiledGraph
from flowagents.models import ModelRequest

BRANCHES = 20


def _slow_worker(name: str) -> ConversableAgent:
    async def answer(request: ModelRequest) -> str:
        await asyncio.sleep(0.1)
        return f"{name} found {len(request.messages)}"

    return agent(name, ScriptedModel(answer, model="slow"))


def _fan_out_graph() -> tuple[CompiledGraph, ConversableAgent]:
    planner = agent("planner", ["split the work"])
    workers = [_slow_worker(f"w{i:02d}") for i in range(BRANCHES)]
    merger = agent("merger", ["merged"])
    builder = GraphBuilder("wide").agent(planner).agent(merger, join="all")
    for worker in workers:
        builder.agent(worker)
    builder.fan_out(planner, workers)
    for worker in workers:
        builder.edge(worker, merger)
    graph = builder.start(planner).terminate(keyword=None, terminal=[merger]).compile()
    return graph, merger


def test_fan_out_of_twenty_slow_branches_overlaps() -> None:
    graph, merger = _fan_out_graph()
    events: list[Event] = []

    result = Runner(graph, sinks=[events.append]).run("research")

    workers = {f"w{i:02d}" for i in range(BRANCHES)}
    entered = {e.node: e for e in of_kind(events, NodeEntered) if e.node in workers}
    left = {e.node: e for e in of_kind(events, NodeLeft) if e.node in workers}
    assert set(entered) == workers
    assert set(left) == workers
    # Every branch started before any branch finished: all twenty were in flight together.
    assert max(e.seq for e in entered.values()) < min(e.seq for e in left.values())
    assert max(e.ts for e in entered.values()) <= min(e.ts for e in left.values())
    for name in workers:
        assert entered[name].step.count("/") == 1  # the branch step names its parent step
    calls = [e for e in of_kind(events, ModelCalled) if e.node in workers]
    assert len(calls) == BRANCHES
    # The join ran once, after every branch, and heard all of them.
    merger_entered = [e for e in of_kind(events, NodeEntered) if e.node == "merger"]
    assert len(merger_entered) == 1
    assert merger_entered[0].seq > max(e.seq for e in left.values())
    assert merger.client is not None
    heard = [m["content"] for m in merger.client.requests[0].messages[1:]]  # type: ignore[attr-defined]
    assert heard[:2] == ["research", "split the work"]
    assert sorted(heard[2:]) == sorted(f"{name} found 3" for name in workers)
    assert [m.name for m in result.messages][-1] == "merger"
    assert len(result.messages) == 2 + BRANCHES + 1
    assert ending(events) == ("terminal_node", "completed")
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_fan_out_join_any_cancels_the_slower_branches() -> None:
    fast = agent("fast", ["fast answer"])
    slow = _slow_worker("slow")
    planner = agent("planner", ["go"])
    first = agent("first", ["took the first"])
    graph = (
        GraphBuilder("race")
        .agent(planner)
        .agent(fast)
        .agent(slow)
        .agent(first, join="any")
        .fan_out(planner, [fast, slow])
        .edge(fast, first)
        .edge(slow, first)
        .start(planner)
        .terminate(keyword=None, terminal=[first])
        .compile()
    )
    events: list[Event] = []

    result = Runner(graph, sinks=[events.append]).run("race")

    assert [m.name for m in result.messages] == ["user", "planner", "fast", "first"]
    assert "slow" not in speakers(events)
    assert ending(events) == ("terminal_node", "completed")


def _pair_graph() -> CompiledGraph:
    return pair(agent("a", ["a0", "a1"]), agent("b", ["b0", "b1"]), max_turns=4)


def test_stream_yields_the_same_events_as_a_sink() -> None:
    async def collect() -> tuple[list[Event], list[Event]]:
        recorded: list[Event] = []
        runner = Runner(_pair_graph(), sinks=[recorded.append])
        streamed = [event async for event in runner.stream("hello")]
        return streamed, recorded

    streamed, recorded = asyncio.run(collect())

    assert streamed == recorded
    assert streamed[0].kind == "run_started"
    assert isinstance(streamed[-1], RunFinished)
    assert streamed[-1].status == "completed"
    assert speakers(streamed) == ["user", "a", "b", "a"]
    assert [e.seq for e in streamed] == list(range(1, len(streamed) + 1))
    assert all(e.run_id == streamed[0].run_id for e in streamed)


def test_stream_arrives_while_the_run_is_still_going() -> None:
    async def main() -> list[str]:
        gate = asyncio.Event()

        async def waits(request: ModelRequest) -> str:
            await gate.wait()
            return "after the gate"

        a = agent("a", ["a0"])
        b = agent("b", ScriptedModel(waits))
        graph = (
            GraphBuilder("gated")
            .agent(a)
            .agent(b)
            .chain(a, b)
            .start(a)
            .terminate(keyword=None, terminal=[b])
            .compile()
        )
        seen: list[str] = []
        async for event in Runner(graph).stream("go"):
            seen.append(event.kind)
            if isinstance(event, MessageSent) and event.sender == "a":
                # The consumer sees a's message before b has answered: open the gate.
                assert not gate.is_set()
                gate.set()
        return seen

    kinds = asyncio.run(main())

    assert kinds[-1] == "run_finished"
    assert kinds.count("message") == 3


def test_stream_reraises_the_run_error() -> None:
    async def main() -> list[Event]:
        a = agent("a", [RuntimeError("model exploded")])
        b = agent("b", ["b0"])
        graph = (
            GraphBuilder("boom")
            .agent(a)
            .agent(b)
            .chain(a, b)
            .start(a)
            .terminate(keyword=None, terminal=[b])
            .compile()
        )
        seen: list[Event] = []
        with pytest.raises(Exception, match="model exploded"):
            async for event in Runner(graph).stream("go"):
                seen.append(event)
        return seen

    seen = asyncio.run(main())

    assert [e.kind for e in seen][-3:] == ["error", "terminated", "run_finished"]
    assert ending(seen) == ("error", "failed")


def _cancel_when_blocked(graph_for: Any) -> tuple[list[Event], Any]:
    events: list[Event] = []

    async def main() -> Any:
        started = asyncio.Event()

        async def blocks(request: ModelRequest) -> str:
            started.set()
            await asyncio.Event().wait()  # never answers
            return "unreachable"

        graph, agents = graph_for(ScriptedModel(blocks))
        task = asyncio.ensure_future(Runner(graph, sinks=[events.append]).arun("go"))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return agents

    agents = asyncio.run(main())
    return events, agents


def test_cancelling_a_run_records_the_ending() -> None:
    def graph_for(model: ScriptedModel) -> tuple[CompiledGraph, dict[str, ConversableAgent]]:
        a = agent("a", ["a0"])
        b = agent("b", model)
        graph = (
            GraphBuilder("cancel")
            .agent(a)
            .agent(b)
            .edge(a, b)
            .edge(b, a)
            .start(a)
            .terminate(keyword=None, max_turns=10)
            .compile()
        )
        return graph, {"a": a, "b": b}

    events, agents = _cancel_when_blocked(graph_for)

    assert speakers(events) == ["user", "a"]
    assert [e.kind for e in events][-2:] == ["terminated", "run_finished"]
    assert ending(events) == ("cancelled", "cancelled")
    assert events[-2].node == "b"
    # What was said before the cancellation stays with the agents.
    assert [m["content"] for m in agents["b"].chat_messages[agents["a"]]] == ["go", "a0"]


def test_cancelling_a_fan_out_cancels_every_branch() -> None:
    def graph_for(model: ScriptedModel) -> tuple[CompiledGraph, dict[str, ConversableAgent]]:
        planner = agent("planner", ["split"])
        workers = [agent(f"w{i}", model) for i in range(3)]
        merger = agent("merger", ["merged"])
        builder = GraphBuilder("cancel_wide").agent(planner).agent(merger, join="all")
        for worker in workers:
            builder.agent(worker).edge(worker, merger)
        builder.fan_out(planner, workers)
        graph = builder.start(planner).terminate(keyword=None, terminal=[merger]).compile()
        return graph, {"planner": planner}

    events, _ = _cancel_when_blocked(graph_for)

    assert ending(events) == ("cancelled", "cancelled")
    assert "merger" not in speakers(events)
    assert [e.kind for e in events].count("run_finished") == 1


def test_events_serialise_through_the_event_adapter() -> None:
    from flowagents import EVENT_ADAPTER

    events: list[Event] = []
    Runner(_pair_graph(), sinks=[events.append]).run("hello")

    for event in events:
        data = EVENT_ADAPTER.dump_json(event)
        again = EVENT_ADAPTER.validate_json(data)
        assert dataclasses.asdict(again) == dataclasses.asdict(event)


def test_concurrent_runs_of_one_runner_keep_their_own_run_ids() -> None:
    def slow(name: str, delay: float) -> ConversableAgent:
        async def answer(request: ModelRequest) -> str:
            await asyncio.sleep(delay)
            return f"{name} says"

        return agent(name, ScriptedModel(answer))

    graph = pair(slow("a", 0.02), slow("b", 0.03), max_turns=6)
    events: list[Event] = []
    runner = Runner(graph, sinks=[events.append])

    async def both() -> None:
        await asyncio.gather(runner.arun("t1", run_id="A"), runner.arun("t2", run_id="B"))

    asyncio.run(both())

    for run_id in ("A", "B"):
        own = [e for e in events if e.run_id == run_id]
        assert len(of_kind(own, MessageSent)) == 6
        assert [e.kind for e in own if e.kind in ("terminated", "run_finished")] == [
            "terminated",
            "run_finished",
        ]
        assert [e.seq for e in own] == list(range(1, len(own) + 1))


def test_concurrent_streams_of_one_runner_get_only_their_own_runs_events() -> None:
    async def answer(request: ModelRequest) -> str:
        await asyncio.sleep(0.01)
        return "said"

    graph = pair(agent("a", ScriptedModel(answer)), agent("b", ScriptedModel(answer)), max_turns=4)
    shared: list[Event] = []
    runner = Runner(graph, sinks=[shared.append])

    async def collect(task: str) -> list[Event]:
        return [event async for event in runner.stream(task)]

    async def both() -> list[list[Event]]:
        return list(await asyncio.gather(collect("t1"), collect("t2")))

    streams = asyncio.run(both())

    for streamed, task in zip(streams, ("t1", "t2"), strict=True):
        assert streamed[0].task == task  # type: ignore[attr-defined]
        assert streamed == [e for e in shared if e.run_id == streamed[0].run_id]
    assert streams[0][0].run_id != streams[1][0].run_id
    assert runner.sinks == [shared.append]


def test_arun_sinks_see_only_their_runs_events() -> None:
    async def answer(request: ModelRequest) -> str:
        await asyncio.sleep(0.01)
        return "said"

    runner = Runner(
        pair(agent("a", ScriptedModel(answer)), agent("b", ScriptedModel(answer)), max_turns=4)
    )
    first: list[Event] = []
    second: list[Event] = []

    async def both() -> None:
        await asyncio.gather(
            runner.arun("t1", run_id="A", sinks=[first.append]),
            runner.arun("t2", run_id="B", sinks=[second.append]),
        )

    asyncio.run(both())

    assert {e.run_id for e in first} == {"A"} and {e.run_id for e in second} == {"B"}
    assert isinstance(first[-1], RunFinished) and isinstance(second[-1], RunFinished)
    assert runner.sinks == []


def test_concurrent_runs_of_a_group_of_live_agents_hear_only_themselves() -> None:
    # More than two live agents and no hub: each run is a fresh peer of theirs (as the docs
    # say), so runs in flight at once do not hear each other's messages.
    def heard(name: str) -> ConversableAgent:
        async def answer(request: ModelRequest) -> str:
            await asyncio.sleep(0)  # let the other runs take turns in between
            return f"{name} heard {[m['content'] for m in request.messages[1:]]}"

        return agent(name, ScriptedModel(answer), max_consecutive_auto_reply=3)

    a, b, c = heard("a"), heard("b"), heard("c")
    graph = (
        GraphBuilder("trio")
        .agent(a)
        .agent(b)
        .agent(c)
        .chain(a, b, c)
        .edge(c, a)
        .start(a)
        .terminate(keyword=None, max_turns=8)
        .compile()
    )
    runner = Runner(graph)

    async def batch() -> list[list[str]]:
        results = await asyncio.gather(*(runner.arun(f"task {i}") for i in range(4)))
        return [[m.text for m in result.messages] for result in results]

    transcripts = asyncio.run(batch())

    alone = [m.text for m in runner.run("task 0").messages]
    assert transcripts[0] == alone
    for i, transcript in enumerate(transcripts):
        assert transcript == [text.replace("task 0", f"task {i}") for text in alone]
        assert all(f"task {j}" not in "".join(transcript) for j in range(4) if j != i)
