"""Profile flowagents on one workload with cProfile and print the top functions.

    python -m bench.profile pingpong [--sort tottime|cumulative] [--top 25]

The concurrent workload is profiled in this process (not in a child).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import warnings
from typing import Any

from bench import autogen_api, graphs
from bench.workloads import WORKLOADS

TARGETS: dict[str, Any] = {
    "pingpong": lambda: autogen_api.pingpong("flowagents"),
    "groupchat": lambda: autogen_api.groupchat("flowagents"),
    "groupchat_scripted": lambda: autogen_api.groupchat_scripted("flowagents"),
    "chain": graphs.chain_flowagents,
    "fanout": graphs.fanout_flowagents,
    "concurrent": lambda: asyncio.run(autogen_api.concurrent_chats("flowagents")),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workload", choices=sorted(TARGETS))
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    assert args.workload in WORKLOADS
    TARGETS[args.workload]()  # warm up: imports, caches
    profiler = cProfile.Profile()
    profiler.runcall(TARGETS[args.workload])
    stats = pstats.Stats(profiler)
    stats.strip_dirs().sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
