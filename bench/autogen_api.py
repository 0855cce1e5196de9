"""Workloads written once in the AutoGen 0.2 API, run on ``autogen`` or on ``flowagents``.

Only the imported module differs (``api = importlib.import_module(name)``). On flowagents the
event stream is on: a ``list.append`` sink receives every event (see ``event_stream``); the
``-nosink`` variants build no events at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any, Literal

from bench.harness import GcWatch, Measurement, measurement

AUTOGEN = "autogen"
FLOWAGENTS = "flowagents"


def event_stream(
    api: ModuleType, sink: Callable[[Any], None] | None
) -> contextlib.AbstractContextManager[None]:
    """On flowagents, send every event of the chats started inside this block to ``sink``.

    The public ``flowagents.observe`` itself (no wrapper around it). With ``sink=None``, or
    on AutoGen, nothing is observed: flowagents builds no events at all.
    """
    if sink is None or api.__name__ != FLOWAGENTS:
        return contextlib.nullcontext()
    from flowagents import observe

    return observe(sink)


class EventCounter:
    """A sink that counts the events it receives and keeps none of them."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, event: Any) -> None:
        self.count += 1


def _agent(api: ModuleType, name: str, reply: Any) -> Any:
    agent = api.ConversableAgent(name, llm_config=False, human_input_mode="NEVER")
    agent.register_reply([api.Agent, None], reply)
    return agent


def _echo(recipient: Any, messages: Any, sender: Any, config: Any) -> tuple[bool, str]:
    return True, "pong"


def _a_echo_after(delay: float) -> Any:
    async def reply(recipient: Any, messages: Any, sender: Any, config: Any) -> tuple[bool, str]:
        await asyncio.sleep(delay)
        return True, "pong"

    return reply


# -- two-agent ping-pong -------------------------------------------------------------------


def pingpong(
    module: str, *, max_turns: int = 100, chats: int = 20, sink: bool = True
) -> Measurement:
    """``chats`` chats of ``2 * max_turns`` messages; µs per message (a "turn")."""
    api = importlib.import_module(module)
    ping = _agent(api, "ping", _echo)
    pong = _agent(api, "pong", _echo)
    events: list[Any] = []
    lengths: list[int] = []
    with event_stream(api, events.append if sink else None):
        start = time.perf_counter()
        for _ in range(chats):
            result = ping.initiate_chat(pong, message="ping", max_turns=max_turns, silent=True)
            lengths.append(len(result.chat_history))
        elapsed = time.perf_counter() - start
    turns = sum(lengths)
    return measurement(
        "pingpong",
        module if sink else f"{module}-nosink",
        {"us_per_turn": elapsed / turns * 1e6},
        turns_per_chat=lengths[0],
        chats=chats,
        events=len(events),
    )


# -- GroupChat -----------------------------------------------------------------------------


def _round_robin(last_speaker: Any, groupchat: Any) -> Any:
    agents = groupchat.agents
    return agents[(agents.index(last_speaker) + 1) % len(agents)]


def _group(api: ModuleType, size: int, max_round: int, **manager: Any) -> tuple[Any, Any]:
    agents = [_agent(api, f"agent{i}", _echo) for i in range(size)]
    selection = manager.pop("speaker_selection_method", _round_robin)
    groupchat = api.GroupChat(
        agents, messages=[], max_round=max_round, speaker_selection_method=selection
    )
    chief = api.GroupChatManager(groupchat, silent=True, **manager)
    return agents[0], chief


def _run_group(
    api: ModuleType, workload: str, framework: str, starter: Any, chief: Any, chats: int, sink: bool
) -> Measurement:
    events: list[Any] = []
    rounds: list[int] = []
    with event_stream(api, events.append if sink else None):
        start = time.perf_counter()
        for _ in range(chats):
            starter.initiate_chat(chief, message="hello group", max_turns=1, silent=True)
            rounds.append(len(chief.groupchat.messages))
        elapsed = time.perf_counter() - start
    return measurement(
        workload,
        framework,
        {"us_per_round": elapsed / sum(rounds) * 1e6},
        rounds_per_chat=rounds[0],
        chats=chats,
        events=len(events),
    )


def groupchat(
    module: str, *, agents: int = 10, max_round: int = 100, chats: int = 10, sink: bool = True
) -> Measurement:
    """A GroupChat whose next speaker comes from a callable (round robin); µs per round."""
    api = importlib.import_module(module)
    starter, chief = _group(api, agents, max_round, llm_config=False, human_input_mode="NEVER")
    framework = module if sink else f"{module}-nosink"
    return _run_group(api, "groupchat", framework, starter, chief, chats, sink)


def groupchat_scripted(
    module: str = FLOWAGENTS, *, agents: int = 10, max_round: int = 100, chats: int = 10
) -> Measurement:
    """The same GroupChat with speaker_selection_method="auto" and a scripted selector model.

    The manager's model answers the next name in turn; flowagents builds the selection prompt,
    parses the answer and checks it is a permitted candidate. flowagents only.
    """
    from flowagents.models import ModelRequest, ScriptedModel

    api = importlib.import_module(module)
    names = [f"agent{i}" for i in range(agents)]
    turn = iter(range(1 << 62))

    def answer(request: ModelRequest) -> str:
        return names[(next(turn) + 1) % agents]

    starter, chief = _group(
        api,
        agents,
        max_round,
        llm_config=ScriptedModel(answer),
        human_input_mode="NEVER",
        speaker_selection_method="auto",
    )
    return _run_group(api, "groupchat_scripted", module, starter, chief, chats, True)


# -- 1,000 concurrent two-agent chats (the body run in a child process) ---------------------


EventSinkKind = Literal["list", "count", "none"]


async def concurrent_chats(
    module: str,
    *,
    chats: int = 1000,
    max_turns: int = 5,
    latency: float = 0.01,
    sink: EventSinkKind = "list",
) -> dict[str, Any]:
    """``chats`` concurrent ``a_initiate_chat``s; every reply sleeps ``latency`` seconds.

    ``max_turns=5`` gives 10 messages per chat: the opening message and 9 generated replies,
    each sleeping ``latency``; so a chat cannot take less than 9 x latency. On flowagents,
    ``sink`` says who receives the events: a list per chat that keeps them all (``list``), an
    ``EventCounter`` that keeps none (``count``), or nobody (``none``: no events are built).
    """
    api = importlib.import_module(module)
    reply = _a_echo_after(latency)
    pairs = [(_agent(api, f"a{i}", reply), _agent(api, f"b{i}", reply)) for i in range(chats)]
    sinks: list[list[Any]] = [[] for _ in range(chats)]
    counter = EventCounter()

    def sink_of(index: int) -> Callable[[Any], None] | None:
        if sink == "list":
            return sinks[index].append
        return counter if sink == "count" else None

    async def one(index: int) -> int:
        first, second = pairs[index]
        with event_stream(api, sink_of(index)):
            result = await first.a_initiate_chat(
                second, message="ping", max_turns=max_turns, silent=True
            )
        return len(result.chat_history)

    with GcWatch() as watch:  # the collections inside the timed window only
        start = time.perf_counter()
        lengths = await asyncio.gather(*(one(i) for i in range(chats)))
        wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "messages_per_chat": sorted(set(lengths)),
        "events": sum(len(s) for s in sinks) + counter.count,
        "gc": watch.summary(),
    }
