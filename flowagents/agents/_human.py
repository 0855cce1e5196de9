"""Human input providers: the console, and a scripted list for tests and pipelines."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from contextvars import ContextVar

from flowagents.errors import HumanInputError


class ConsoleInput:
    """Reads a line from standard input, without blocking the event loop."""

    async def get_input(self, prompt: str, *, agent: str) -> str:
        try:
            return await asyncio.to_thread(input, prompt)
        except EOFError as exc:
            raise HumanInputError(
                f"agent {agent!r} asked for human input but standard input is closed; "
                "pass input_provider=ScriptedInput([...]) or use human_input_mode='NEVER'",
                where=f"agent {agent}",
            ) from exc


class ScriptedInput:
    """Answers human input requests from a list, in order; ``prompts`` keeps what was asked."""

    def __init__(self, replies: Iterable[str]) -> None:
        self._replies = list(replies)
        self._position = 0
        self.prompts: list[tuple[str, str]] = []

    @property
    def remaining(self) -> int:
        """How many answers are left."""
        return len(self._replies) - self._position

    async def get_input(self, prompt: str, *, agent: str) -> str:
        self.prompts.append((agent, prompt))
        if self._position >= len(self._replies):
            raise HumanInputError(
                f"agent {agent!r} asked for human input ({prompt!r}) "
                f"but the script's {len(self._replies)} answers are used up",
                where=f"agent {agent}",
            )
        reply = self._replies[self._position]
        self._position += 1
        return reply


# Set in the worker thread (a copy of the run's context) that runs a replaced get_human_input.
_REPLACEMENT_ANSWERING: ContextVar[bool] = ContextVar("replacement_answering", default=False)


def answering_for_replacement() -> bool:
    """Whether this code runs inside a replaced ``get_human_input`` called by the run."""
    return _REPLACEMENT_ANSWERING.get()


class FunctionInput:
    """Answers with a synchronous ``prompt -> str`` function, run in a worker thread."""

    def __init__(self, function: Callable[[str], str]) -> None:
        self._function = function

    async def get_input(self, prompt: str, *, agent: str) -> str:
        # A thread, as AutoGen's a_get_human_input does: the function may block on input().
        return await asyncio.to_thread(self._answer, prompt)

    def _answer(self, prompt: str) -> str:
        _REPLACEMENT_ANSWERING.set(True)  # only in the thread's copy of the context
        return self._function(prompt)
