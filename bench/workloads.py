"""The workloads of issue #7, with their sizes, peers and targets."""

from __future__ import annotations

from functools import partial

from bench import autogen_api, concurrency, graphs
from bench.harness import Metric, Target, Workload

PER_TURN = Metric("us_per_turn", "us", "per turn")
PER_ROUND = Metric("us_per_round", "us", "per round")

WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            name="pingpong",
            title="two-agent ping-pong, 200 turns (max_turns=100), zero-latency replies",
            metrics=(PER_TURN,),
            runners={
                "flowagents": partial(autogen_api.pingpong, "flowagents"),
                "autogen": partial(autogen_api.pingpong, "autogen"),
                "flowagents-nosink": partial(autogen_api.pingpong, "flowagents", sink=False),
            },
            default={"max_turns": 100, "chats": 20},
            smoke={"max_turns": 3, "chats": 1},
            targets=(Target("us_per_turn", 1.0, "autogen"),),
            needs={"autogen": "autogen"},
        ),
        Workload(
            name="chain",
            title="20-node static chain",
            metrics=(Metric("us_per_node", "us", "per node"),),
            runners={"flowagents": graphs.chain_flowagents, "langgraph": graphs.chain_langgraph},
            default={"nodes": 20, "runs": 50},
            smoke={"nodes": 3, "runs": 1},
            targets=(Target("us_per_node", 0.1, "langgraph"),),
            needs={"langgraph": "langgraph"},
        ),
        Workload(
            name="groupchat",
            title="GroupChat of 10 agents, 100 rounds, next speaker from a callable",
            metrics=(PER_ROUND,),
            runners={
                "flowagents": partial(autogen_api.groupchat, "flowagents"),
                "autogen": partial(autogen_api.groupchat, "autogen"),
                "flowagents-nosink": partial(autogen_api.groupchat, "flowagents", sink=False),
            },
            default={"agents": 10, "max_round": 100, "chats": 10},
            smoke={"agents": 3, "max_round": 4, "chats": 1},
            targets=(Target("us_per_round", 1.0, "autogen"),),
            needs={"autogen": "autogen"},
        ),
        Workload(
            name="groupchat_scripted",
            title="the same GroupChat, speaker_selection_method='auto', scripted selector model",
            metrics=(PER_ROUND,),
            runners={"flowagents": autogen_api.groupchat_scripted},
            default={"agents": 10, "max_round": 100, "chats": 10},
            smoke={"agents": 3, "max_round": 4, "chats": 1},
            note="flowagents only; compare with the groupchat row",
        ),
        Workload(
            name="fanout",
            title="fan-out of 50 branches, 50 ms latency each",
            metrics=(Metric("makespan_ratio", "x 50 ms", "makespan"),),
            runners={
                "flowagents": graphs.fanout_flowagents,
                "langgraph": graphs.fanout_langgraph,
                "asyncio-floor": graphs.fanout_floor,
            },
            default={"branches": 50, "latency": 0.05},
            smoke={"branches": 3, "latency": 0.001},
            targets=(Target("makespan_ratio", 1.05),),
            needs={"langgraph": "langgraph"},
        ),
        Workload(
            name="concurrent",
            title="1,000 concurrent two-agent chats, max_turns=5 (10 messages), 10 ms replies",
            metrics=(
                Metric("wall_ratio", "x 100 ms", "wall"),
                Metric("peak_rss_mb", "MB", "peak RSS"),
            ),
            runners={
                fw: partial(concurrency.concurrent, fw) for fw in concurrency.FRAMEWORKS
            },
            default={"chats": 1000, "max_turns": 5, "latency": 0.01},
            smoke={"chats": 3, "max_turns": 2, "latency": 0.001},
            targets=(Target("wall_ratio", 1.5), Target("peak_rss_mb", 100.0)),
            needs={"autogen": "autogen", "langgraph": "langgraph"},
            note=(
                "each framework in a fresh child process; RSS is the child's peak (VmHWM); "
                "flowagents keeps every event in a list, -counted only counts them, "
                "-nosink builds none"
            ),
        ),
    )
}
