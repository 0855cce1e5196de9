"""The graph runtime: one asyncio engine for every conversation."""

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
    "new_run_id",
    "observe",
    "parse_choice",
    "request_hash",
]
