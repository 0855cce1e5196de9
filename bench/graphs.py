"""Static graphs: a 20-node chain and a 50-branch fan-out, on flowagents and on LangGraph.

flowagents: ConversableAgents with reply functions, wired by ``GraphBuilder``, run by
``Runner(graph, sinks=[events.append]).arun(task)``. LangGraph: a ``StateGraph`` whose state
is a list of messages appended to by every node.
"""

from __future__ import annotations

import asyncio
import itertools
import operator
import time
from typing import Annotated, Any, TypedDict

from bench.harness import Measurement, measurement


def _reply(text: str) -> Any:
    def reply(recipient: Any, messages: Any, sender: Any, config: Any) -> tuple[bool, str]:
        return True, text

    return reply


def _slow_reply(text: str, latency: float) -> Any:
    async def reply(recipient: Any, messages: Any, sender: Any, config: Any) -> tuple[bool, str]:
        await asyncio.sleep(latency)
        return True, text

    return reply


def _fa_agent(name: str, reply: Any) -> Any:
    from flowagents import Agent, ConversableAgent

    agent = ConversableAgent(name, llm_config=False, human_input_mode="NEVER")
    agent.register_reply([Agent, None], reply)
    return agent


class _State(TypedDict):
    messages: Annotated[list[str], operator.add]


def _lg_node(text: str) -> Any:
    def node(state: _State) -> dict[str, list[str]]:
        return {"messages": [text]}

    return node


def _lg_slow_node(text: str, latency: float) -> Any:
    async def node(state: _State) -> dict[str, list[str]]:
        await asyncio.sleep(latency)
        return {"messages": [text]}

    return node


# -- 20-node chain -------------------------------------------------------------------------


def chain_flowagents(*, nodes: int = 20, runs: int = 50) -> Measurement:
    """``runs`` runs of a static chain of ``nodes`` agents; µs per node (each run timed)."""
    from flowagents.graph import GraphBuilder
    from flowagents.runtime import Runner

    agents = [_fa_agent(f"n{i}", _reply(f"step {i}")) for i in range(nodes)]
    builder = GraphBuilder("chain", mode="static")
    for agent in agents:
        builder.agent(agent)
    graph = builder.chain(*agents).start(agents[0]).terminate(
        keyword=None, terminal=[agents[-1]]
    ).compile()
    events: list[Any] = []
    runner = Runner(graph, sinks=[events.append])

    async def measure() -> tuple[float, int]:
        total = 0.0
        spoken = 0
        for _ in range(runs):
            for agent in agents:
                agent.clear_history()
            start = time.perf_counter()
            result = await runner.arun("go")
            total += time.perf_counter() - start
            spoken = len(result.messages) - 1
        return total, spoken

    total, spoken = asyncio.run(measure())
    return measurement(
        "chain",
        "flowagents",
        {"us_per_node": total / (runs * nodes) * 1e6},
        nodes_spoken=spoken,
        runs=runs,
        events=len(events),
    )


def chain_langgraph(*, nodes: int = 20, runs: int = 50) -> Measurement:
    """The same chain as a LangGraph StateGraph, run with ``invoke``."""
    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(_State)
    names = [f"n{i}" for i in range(nodes)]
    for index, name in enumerate(names):
        graph.add_node(name, _lg_node(f"step {index}"))
    graph.add_edge(START, names[0])
    for source, target in itertools.pairwise(names):
        graph.add_edge(source, target)
    graph.add_edge(names[-1], END)
    app = graph.compile()
    total = 0.0
    spoken = 0
    for _ in range(runs):
        start = time.perf_counter()
        state = app.invoke({"messages": ["go"]})
        total += time.perf_counter() - start
        spoken = len(state["messages"]) - 1
    return measurement(
        "chain",
        "langgraph",
        {"us_per_node": total / (runs * nodes) * 1e6},
        nodes_spoken=spoken,
        runs=runs,
    )


# -- fan-out of 50 branches ----------------------------------------------------------------


def fanout_flowagents(*, branches: int = 50, latency: float = 0.05) -> Measurement:
    """A source node fans out to ``branches`` agents that each sleep ``latency``.

    The makespan is the whole run (source, every branch, the merge), divided by ``latency``.
    """
    from flowagents.graph import GraphBuilder
    from flowagents.runtime import Runner

    source = _fa_agent("source", _reply("split"))
    workers = [_fa_agent(f"b{i}", _slow_reply(f"done {i}", latency)) for i in range(branches)]
    builder = GraphBuilder("fanout", mode="static")
    for agent in [source, *workers]:
        builder.agent(agent)
    graph = builder.fan_out(source, workers).start(source).terminate(keyword=None).compile()
    events: list[Any] = []
    runner = Runner(graph, sinks=[events.append])

    async def measure() -> tuple[float, int]:
        start = time.perf_counter()
        result = await runner.arun("go")
        return time.perf_counter() - start, len(result.messages)

    wall, spoken = asyncio.run(measure())
    return measurement(
        "fanout",
        "flowagents",
        {"makespan_ratio": wall / latency},
        wall_ms=wall * 1e3,
        messages=spoken,
        events=len(events),
    )


def fanout_langgraph(*, branches: int = 50, latency: float = 0.05) -> Measurement:
    """The same fan-out in LangGraph: START -> source -> 50 async nodes -> END, ``ainvoke``."""
    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(_State)
    graph.add_node("source", _lg_node("split"))
    graph.add_edge(START, "source")
    for index in range(branches):
        name = f"b{index}"
        graph.add_node(name, _lg_slow_node(f"done {index}", latency))
        graph.add_edge("source", name)
        graph.add_edge(name, END)
    app = graph.compile()

    async def measure() -> tuple[float, int]:
        start = time.perf_counter()
        state = await app.ainvoke({"messages": ["go"]})
        return time.perf_counter() - start, len(state["messages"])

    wall, spoken = asyncio.run(measure())
    return measurement(
        "fanout", "langgraph", {"makespan_ratio": wall / latency}, wall_ms=wall * 1e3,
        messages=spoken,
    )


def fanout_floor(*, branches: int = 50, latency: float = 0.05) -> Measurement:
    """The floor: ``asyncio.gather`` of ``branches`` bare sleeps, no framework at all."""

    async def measure() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(asyncio.sleep(latency) for _ in range(branches)))
        return time.perf_counter() - start

    wall = asyncio.run(measure())
    return measurement(
        "fanout", "asyncio-floor", {"makespan_ratio": wall / latency}, wall_ms=wall * 1e3
    )
