"""Test-only agents for the store tests: deterministic replies, optional latency or a hang.

Graphs under ``graphs/`` build their agents with ``factory: store_agents:agent`` (the tests put
this directory on ``PYTHONPATH``). A reply is a pure function of the request, so it is the
same on every execution. ``FLOWAGENTS_TEST_DELAY`` (seconds) slows every model call;
``FLOWAGENTS_TEST_HANG_AT=N`` makes the N-th model call of the process hang forever after
touching the file ``FLOWAGENTS_TEST_MARKER``, so a test can SIGKILL the run at that point.
``FLOWAGENTS_TEST_CALL_LOG`` names a file that gets one line per answered model call.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from flowagents.agents import ConversableAgent
from flowagents.models import ModelRequest
from flowagents.testing import ScriptedModel

CALLS = 0


def _own_turns(request: ModelRequest) -> int:
    return sum(1 for m in request.messages if m.get("role") == "assistant")


def reply_for(name: str, request: ModelRequest, *, revise: int = 0, finish: str = "") -> str:
    """The deterministic reply of agent ``name`` to ``request``."""
    turn = _own_turns(request) + 1
    heard = str(request.messages[-1].get("content") or "")[:24] if request.messages else ""
    if revise and turn <= revise:
        return f"{name} turn {turn}: REVISE ({heard})"
    text = f"{name} turn {turn} after {len(request.messages)} messages ({heard})"
    return f"{text} {finish}".strip()


def _write(path: Path, text: str, *, append: bool = False) -> None:
    # A few bytes on a local disk: blocking briefly is what a test helper may do.
    with path.open("a" if append else "w") as handle:
        handle.write(text)


async def _pace() -> None:
    global CALLS
    CALLS += 1
    hang_at = os.environ.get("FLOWAGENTS_TEST_HANG_AT")
    if hang_at and int(hang_at) == CALLS:
        _write(Path(os.environ["FLOWAGENTS_TEST_MARKER"]), str(CALLS))
        await asyncio.Event().wait()
    delay = float(os.environ.get("FLOWAGENTS_TEST_DELAY", "0"))
    if delay:
        await asyncio.sleep(delay)


def agent(name: str, revise: int = 0, finish: str = "", **options: Any) -> ConversableAgent:
    """A ConversableAgent whose model answers with ``reply_for``."""

    async def answer(request: ModelRequest) -> str:
        await _pace()
        text = reply_for(name, request, revise=revise, finish=finish)
        log = os.environ.get("FLOWAGENTS_TEST_CALL_LOG")
        if log:
            _write(Path(log), text[:40] + "\n", append=True)
        return text

    model = ScriptedModel(answer, model="store-test")
    return ConversableAgent(name, llm_config=model, **options)


def tool_caller(name: str) -> ConversableAgent:
    """Calls the tool ``ask_expert`` on its first turn, then passes on what it returned."""

    def answer(request: ModelRequest) -> str | dict[str, Any]:
        if not any(m.get("role") == "tool" for m in request.messages):
            arguments = '{"question": "what is 2+2?"}'
            return {"content": None, "tool_calls": [{"name": "ask_expert", "arguments": arguments}]}
        return f"the expert says: {request.messages[-1].get('content')} TERMINATE"

    return ConversableAgent(
        name, llm_config=ScriptedModel(answer, model="store-test"), human_input_mode="NEVER"
    )


def tool_runner(name: str, human: bool = False) -> ConversableAgent:
    """Runs the caller's tool calls; ``ask_expert`` consults an agent (a chat of its own).

    The expert is a model, or with ``human`` a person (asked on every turn).
    """
    from flowagents.agents import UserProxyAgent

    async def ask_expert(question: str) -> str:
        student = agent("student", human_input_mode="NEVER")
        expert = (
            UserProxyAgent("expert", human_input_mode="ALWAYS", code_execution_config=False)
            if human
            else agent("expert", human_input_mode="NEVER")
        )
        result = await student.a_initiate_chat(expert, message=question, max_turns=1, silent=True)
        return result.summary

    return UserProxyAgent(
        name,
        human_input_mode="NEVER",
        code_execution_config=False,
        function_map={"ask_expert": ask_expert},
    )


def raiser(name: str, message: str = "boom in reply") -> ConversableAgent:
    """An agent whose reply function raises ``ValueError(message)``."""
    made = ConversableAgent(name, llm_config=False, human_input_mode="NEVER")

    def reply(recipient: Any, messages: Any, sender: Any, config: Any) -> tuple[bool, str]:
        raise ValueError(message)

    made.register_reply([ConversableAgent, None], reply)
    return made


def broken(name: str, **options: Any) -> ConversableAgent:
    """A factory that fails, as one missing a credential would."""
    raise RuntimeError(f"no credentials for {name}")


def pausing(name: str, seconds: float) -> ConversableAgent:
    """Replies after ``seconds`` of its own (a reply function: never answered from a record)."""
    from flowagents.agents import Agent

    made = ConversableAgent(name, llm_config=False, human_input_mode="NEVER")

    async def reply(recipient: Any, messages: Any, sender: Any, config: Any) -> tuple[bool, str]:
        await asyncio.sleep(seconds)
        return True, f"{name} waited {seconds}s after {len(messages)} messages"

    made.register_reply([Agent, None], reply)  # in a graph, the peer is the group's hub
    return made
