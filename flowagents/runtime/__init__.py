"""The graph runtime: one asyncio engine for every conversation.

Layout: ``_runner`` starts a run and records how it ends (``Runner``, ``arun``/``run``/
``stream``); ``_engine`` takes the turns of the conversations inside it (selection, fan-out
and join, subgroups, termination) from a per-graph ``_plan``; ``_setup`` holds what a Runner
was given and builds each run's agents, model clients and selectors (``_selector``);
``_scope`` is one conversation's state; ``_context`` the run's event stream and its calls to
the outside world; ``_outcome`` the result and the final events; ``_console`` prints events.
"""

from flowagents.runtime._console import ConsolePrinter
from flowagents.runtime._context import (
    EventSink,
    InputProvider,
    Interceptor,
    RunContext,
    current_run,
    new_run_id,
    observe,
    request_hash,
)
from flowagents.runtime._outcome import RunResult, RunStatus
from flowagents.runtime._runner import Runner
from flowagents.runtime._selector import (
    SelectionFunction,
    SelectionMethod,
    SelectorPrompt,
    SpeakerSelector,
    forget_rejections,
    known_rejections,
    parse_choice,
)

__all__ = [
    "ConsolePrinter",
    "EventSink",
    "InputProvider",
    "Interceptor",
    "RunContext",
    "RunResult",
    "RunStatus",
    "Runner",
    "SelectionFunction",
    "SelectionMethod",
    "SelectorPrompt",
    "SpeakerSelector",
    "current_run",
    "forget_rejections",
    "known_rejections",
    "new_run_id",
    "observe",
    "parse_choice",
    "request_hash",
]
