"""1,000 concurrent two-agent chats with 10 ms replies: wall time and peak RSS.

Each framework runs in a fresh child process (``python -m bench.concurrency FRAMEWORK``), so
its peak RSS (the child's VmHWM, which includes the interpreter and the imports; see
``_vm_hwm_mb``) is its own. A chat is 10 messages: the opening message and 9 generated
replies, each of which sleeps 10 ms, so the ideal wall time is 90 ms; the figure is
wall / 100 ms, as in issue #7.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Annotated, Any, TypedDict

from bench.autogen_api import EventSinkKind
from bench.harness import GcWatch, Measurement, measurement

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("flowagents", "autogen", "flowagents-counted", "flowagents-nosink", "langgraph")
# flowagents variants: who receives the events (see autogen_api.concurrent_chats)
_SINKS: dict[str, EventSinkKind] = {
    "flowagents": "list",
    "flowagents-counted": "count",
    "flowagents-nosink": "none",
}


class _Chat(TypedDict):
    messages: Annotated[list[str], lambda left, right: left + right]


async def _langgraph_chats(chats: int, messages: int, latency: float) -> dict[str, Any]:
    """The LangGraph equivalent: a two-node cycle b -> a -> b ... until ``messages``."""
    from langgraph.graph import END, START, StateGraph

    def speaker(name: str) -> Any:
        async def node(state: _Chat) -> dict[str, list[str]]:
            await asyncio.sleep(latency)
            return {"messages": [name]}

        return node

    def after(other: str) -> Any:
        def route(state: _Chat) -> str:
            return END if len(state["messages"]) >= messages else other

        return route

    graph = StateGraph(_Chat)
    graph.add_node("a", speaker("a"))
    graph.add_node("b", speaker("b"))
    graph.add_edge(START, "b")
    graph.add_conditional_edges("b", after("a"))
    graph.add_conditional_edges("a", after("b"))
    app = graph.compile()
    limit: Any = {"recursion_limit": messages + 5}
    with GcWatch() as watch:
        start = time.perf_counter()
        states = await asyncio.gather(
            *(app.ainvoke(_Chat(messages=["ping"]), limit) for _ in range(chats))
        )
        wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "messages_per_chat": sorted({len(s["messages"]) for s in states}),
        "events": 0,
        "gc": watch.summary(),
    }


def child(framework: str, chats: int, max_turns: int, latency: float) -> dict[str, Any]:
    """Run the workload in this process; return wall time and this process's peak RSS."""
    warnings.simplefilter("ignore")  # peers' deprecation warnings are not ours to judge
    if framework == "langgraph":
        result = asyncio.run(_langgraph_chats(chats, 2 * max_turns, latency))
    else:
        from bench.autogen_api import concurrent_chats

        module = "autogen" if framework == "autogen" else "flowagents"
        sink: EventSinkKind = _SINKS.get(framework, "none")
        result = asyncio.run(
            concurrent_chats(module, chats=chats, max_turns=max_turns, latency=latency, sink=sink)
        )
    result["peak_rss_mb"] = _vm_hwm_mb()
    result["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _vm_hwm_mb() -> float:
    """This process's peak RSS since exec (VmHWM), in MB.

    Not ``ru_maxrss`` alone: Linux carries the parent's RSS at fork into the child's
    ``ru_maxrss``, so a child started by a big benchmark process would report the parent's
    size. VmHWM belongs to the child's own address space; both are reported.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def concurrent(
    framework: str, *, chats: int = 1000, max_turns: int = 5, latency: float = 0.01
) -> Measurement:
    """Run ``child`` in a fresh interpreter and read its JSON report."""
    command = [
        sys.executable, "-m", "bench.concurrency", framework,
        "--chats", str(chats), "--max-turns", str(max_turns), "--latency", str(latency),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    nominal = 10 * latency  # issue #7 normalises by 10 x latency ("10 turns")
    return measurement(
        "concurrent",
        framework,
        {"wall_ratio": report["wall_s"] / nominal, "peak_rss_mb": report["peak_rss_mb"]},
        wall_ms=report["wall_s"] * 1e3,
        messages_per_chat=report["messages_per_chat"],
        events=report["events"],
        chats=chats,
        ru_maxrss_mb=report["ru_maxrss_mb"],
        child_gc=report["gc"],  # collections inside the child's timed window
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("framework", choices=FRAMEWORKS)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--max-turns", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.01)
    args = parser.parse_args(argv)
    print(json.dumps(child(args.framework, args.chats, args.max_turns, args.latency)))


if __name__ == "__main__":
    main()
