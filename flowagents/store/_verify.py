"""Checking a re-execution against its record, event by event.

The verifier is an event sink for replay: each event the replay emits is compared with the
recorded event at the same ``(step, kind, ordinal)`` on what decides the conversation (who
spoke and what, which node was entered, which speaker was chosen, which request a model got,
why it ended). The first difference raises ``ReplayDivergenceError`` naming the step, the
node, and what was expected against what came.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from flowagents.errors import ReplayDivergenceError, RunLocation
from flowagents.events import (
    BranchesJoined,
    CodeExecuted,
    ErrorRaised,
    Event,
    HumanInputReceived,
    MessageSent,
    ModelCalled,
    NodeEntered,
    RunFinished,
    SpeakerSelected,
    Terminated,
    ToolCalled,
    ToolReturned,
)
from flowagents.models._protocol import CUT_SHORT

#: Event kinds that end an execution rather than belong to the conversation.
ENDING_KINDS = frozenset({"error", "terminated", "run_finished"})

#: How a conversation or a run ended: a record that stops early may say otherwise here.
_END_OF_RUN_KINDS = frozenset({"terminated", "run_finished"})


class EventKeys:
    """Gives each event of one execution its ``(step, kind, ordinal)`` key, as they come."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}

    def __call__(self, event: Event) -> tuple[str, str, int]:
        ordinal = self._counts.get((event.step, event.kind), 0)
        self._counts[(event.step, event.kind)] = ordinal + 1
        return (event.step, event.kind, ordinal)


def event_keys(events: Sequence[Event]) -> list[tuple[str, str, int]]:
    """The ``(step, kind, ordinal)`` key of each event, in order."""
    key = EventKeys()
    return [key(event) for event in events]


def recorded_joins(events: Iterable[Event]) -> dict[str, BranchesJoined]:
    """How a record's fan-outs came back, by the step of the fan-out."""
    return {event.step: event for event in events if isinstance(event, BranchesJoined)}


def dropped_branches(joins: Mapping[str, BranchesJoined]) -> tuple[str, ...]:
    """The step prefixes (``"4/search."``) of the branches a record dropped at a join."""
    return tuple(f"{step}/{name}." for step, join in joins.items() for name in join.dropped)


_TURN = re.compile(r"\d+(?:/|$)")


def in_branches(step: str, prefixes: tuple[str, ...]) -> bool:
    """Whether ``step`` is a turn (or inside one) of a branch with one of these prefixes.

    The turn number must follow the prefix: node names may hold dots, and ``"4/a."`` is not
    a prefix of branch ``a.b``'s step ``"4/a.b.1"``.
    """
    return step.startswith(prefixes) and any(
        step.startswith(prefix) and _TURN.match(step, len(prefix)) for prefix in prefixes
    )


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def fingerprint(event: Event) -> tuple[Any, ...]:
    """What must be equal for a replayed event to match its record."""
    if isinstance(event, MessageSent):
        calls = tuple((c.name, c.arguments) for c in event.message.tool_calls or ())
        return (event.sender, event.message.text, calls)
    if isinstance(event, NodeEntered):
        return (event.node,)
    if isinstance(event, SpeakerSelected):
        return (event.node, event.choice)
    if isinstance(event, BranchesJoined):
        return (event.node, event.join, event.taken)
    if isinstance(event, ModelCalled):
        return (event.node, event.request_hash)
    if isinstance(event, HumanInputReceived):
        return (event.node, event.text)
    if isinstance(event, CodeExecuted):
        return (event.node, event.code, event.exit_code)
    if isinstance(event, ToolCalled):
        return (event.node, event.tool, event.arguments)
    if isinstance(event, ToolReturned):
        return (event.node, event.tool, event.content, event.is_error)
    if isinstance(event, Terminated):
        return (event.reason,)
    if isinstance(event, RunFinished):
        return (event.status, event.reason)
    if isinstance(event, ErrorRaised):
        return (event.code, event.error_type, event.message)
    return (event.node,)


def describe(event: Event) -> str:
    """A short readable account of an event, for divergence messages."""
    if isinstance(event, MessageSent):
        return f"a message from {event.sender}: {_short(event.message.text)}"
    if isinstance(event, NodeEntered):
        return f"node {event.node} speaking"
    if isinstance(event, SpeakerSelected):
        return f"{event.choice or 'nobody'} chosen to speak next"
    if isinstance(event, BranchesJoined):
        taken = ", ".join(event.taken) or "none"
        return f"the branches from {event.node} joining (taken: {taken})"
    if isinstance(event, ModelCalled):
        cut = f", cut short ({event.finish_reason})" if event.finish_reason in CUT_SHORT else ""
        return f"a model call by {event.node} with request {event.request_hash[:12]}{cut}"
    if isinstance(event, HumanInputReceived):
        return f"human input {_short(event.text)} for {event.node}"
    if isinstance(event, CodeExecuted):
        return f"code run by {event.node} (exit code {event.exit_code})"
    if isinstance(event, ToolCalled | ToolReturned):
        return f"{event.kind} {event.tool} by {event.node}"
    if isinstance(event, Terminated):
        return f"the end of the conversation ({event.reason})"
    if isinstance(event, RunFinished):
        return f"the run finishing {event.status} ({event.reason})"
    if isinstance(event, ErrorRaised):
        return f"error {event.code}: {_short(event.message, 140)}"
    return f"{event.kind} at {event.node or 'the run'}"


class ReplayVerifier:
    """Event sink: raise ReplayDivergenceError at the first event unlike its record."""

    def __init__(self, recorded: Sequence[Event]) -> None:
        keys = event_keys(recorded)
        self._recorded = dict(zip(keys, recorded, strict=True))
        self._order = keys
        self._key = EventKeys()
        self._seen: set[tuple[str, str, int]] = set()
        # A branch dropped at a join ran until it was cancelled: how far it gets is a race,
        # so its events are checked where both have them, and neither side needs the rest.
        self._dropped = dropped_branches(recorded_joins(recorded))
        self.divergence: ReplayDivergenceError | None = None
        self.checked = 0
        """How many events matched their record."""
        self.contradicted = False
        """Whether an event differed from its record (not: the record had none there), other
        than how the conversation ended: never a record that merely stops early."""
        self.error_matched = False
        """Whether the replay raised the error the record ends with, at the same step."""

    def __call__(self, event: Event) -> None:
        if self.divergence is not None:
            return  # the run is unwinding from the first difference; the rest is noise
        if isinstance(event, ErrorRaised) and event.code == ReplayDivergenceError.code:
            self.divergence = ReplayDivergenceError(event.message)
            return
        key = self._key(event)
        expected = self._recorded.get(key)
        where = RunLocation(event.run_id, event.step, event.node or None)
        if expected is None:
            if in_branches(event.step, self._dropped):
                return
            self._fail(f"expected nothing more here, got {describe(event)}", where)
        elif fingerprint(expected) != fingerprint(event):
            self.contradicted = event.kind not in _END_OF_RUN_KINDS
            self._fail(f"expected {describe(expected)}, got {describe(event)}", where)
        elif isinstance(event, ErrorRaised):
            self.error_matched = True
        self._seen.add(key)
        self.checked += 1

    def _fail(self, message: str, where: RunLocation) -> None:
        self.divergence = ReplayDivergenceError(
            f"the replay diverged from the record: {message}", where=where
        )
        raise self.divergence

    def missing(
        self, *, ignore_ending: bool = False, tools_not_run: Collection[str] = ()
    ) -> tuple[str, str, int] | None:
        """The first recorded key the replay has not produced (None: all of them).

        The events recorded inside the steps of ``tools_not_run`` (a chat a tool ran: steps
        ``S/...`` under the tool call's step ``S``) are not expected: those tools were answered
        from the record, not run. Nor are those of branches dropped at a join.
        """
        inside = tuple(f"{step}/" for step in tools_not_run)
        for key in self._order:
            if key in self._seen or (ignore_ending and key[1] in ENDING_KINDS):
                continue
            if (inside and key[0].startswith(inside)) or in_branches(key[0], self._dropped):
                continue
            return key
        return None

    def finish(self, *, tools_not_run: Collection[str] = ()) -> None:
        """Raise ReplayDivergenceError when the replay ended before the record did."""
        key = self.missing(tools_not_run=tools_not_run)
        if key is not None and self.divergence is None:
            event = self._recorded[key]
            self.divergence = ReplayDivergenceError(
                f"the replay ended, but the record continues with {describe(event)}",
                where=RunLocation(event.run_id, event.step, event.node or None),
            )
            raise self.divergence
