"""Compile + validate a 10,000-node, 50,000-edge graph spec; print the median of 5 runs.

The graph is layered so that every node is reachable and can reach the terminal sink; back
edges make big strongly connected components (bounded, so the graph is valid), and some
edges carry guards. Target: under 2 s median.

    .venv/bin/python bench/bench_compile.py
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from flowagents.graph import GraphSpec, compile_graph

NODES = 10_000
EDGES = 50_000
RUNS = 5


def make_spec_data(seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    names = [f"n{i}" for i in range(NODES)]
    pairs: set[tuple[int, int]] = {(i, i + 1) for i in range(NODES - 1)}  # a spine
    while len(pairs) < EDGES:
        a, b = rng.randrange(NODES), rng.randrange(NODES)
        if a != b:
            pairs.add((a, b))
    edges: list[dict[str, Any]] = []
    for a, b in sorted(pairs):
        edge: dict[str, Any] = {"from": names[a], "to": names[b]}
        if b < a:
            edge["max_traversals"] = 3  # back edges are bounded
        if rng.random() < 0.2:
            edge["guard"] = {"contains": f"go {b}"}
        edges.append(edge)
    return {
        "name": "big",
        "mode": "dynamic",
        "start": names[0],
        "models": {"pick": {"provider": "scripted", "model": "s"}},
        "agents": [{"name": n, "description": f"agent {n}"} for n in names],
        "edges": edges,
        "termination": {"terminal": [names[-1]], "max_turns": 1000},
        "selector": {"model": "pick"},
    }


def run_once(data: dict[str, Any]) -> tuple[float, float, int]:
    began = time.perf_counter()
    spec = GraphSpec.model_validate(data)
    compiled = compile_graph(spec)
    elapsed = time.perf_counter() - began
    assert len(compiled.content_hash) == 64  # computed lazily; timed apart
    hashed = time.perf_counter() - began
    return elapsed, hashed, len(compiled.findings)


def main() -> None:
    data = make_spec_data()
    times, with_hash = [], []
    for _ in range(RUNS):
        elapsed, hashed, warnings = run_once(data)
        times.append(elapsed)
        with_hash.append(hashed)
    print(
        f"compile+validate {NODES} nodes / {len(data['edges'])} edges: "
        f"median {statistics.median(times):.3f} s over {RUNS} runs "
        f"(min {min(times):.3f}, max {max(times):.3f}; {warnings} warnings); "
        f"with content_hash: median {statistics.median(with_hash):.3f} s"
    )


if __name__ == "__main__":
    main()
