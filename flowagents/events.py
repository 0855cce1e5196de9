"""The closed set of typed events a run emits.

The runtime emits exactly one stream of these; the console, the run store, replay and the
pictures all consume it. Every event names its run, its ``step`` (a stable id such as
``"7"``, ``"7/review.2"`` inside subgroup ``review`` or ``"4/search.1"`` inside the parallel
branch that step 4 started at node ``search``, the same on every run of the same graph and
inputs) and the node path that produced it.

Events are plain slots dataclasses so that the hot loop stays cheap (a frozen dataclass costs
twice as much to build); treat them as immutable once emitted. ``EVENT_ADAPTER`` (pydantic)
validates and serialises them at the edges (store, export, replay).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import Field, TypeAdapter

from flowagents.messages import Message

__all__ = [
    "EVENT_ADAPTER",
    "BranchesJoined",
    "CodeExecuted",
    "ErrorRaised",
    "Event",
    "EventKind",
    "HumanInputReceived",
    "HumanInputRequested",
    "MessageSent",
    "ModelCalled",
    "NodeEntered",
    "NodeLeft",
    "RunFinished",
    "RunStarted",
    "SpeakerSelected",
    "Terminated",
    "ToolCalled",
    "ToolReturned",
]


@dataclass(slots=True, kw_only=True)
class _Header:
    run_id: str
    step: str
    node: str = ""
    seq: int = 0
    ts: float = 0.0


@dataclass(slots=True, kw_only=True)
class RunStarted(_Header):
    """A run began: which graph, with which inputs."""

    kind: Literal["run_started"] = "run_started"
    graph: str = ""
    task: str | None = None
    manifest: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class NodeEntered(_Header):
    """Control reached a node (an agent's turn or a subgroup)."""

    kind: Literal["node_entered"] = "node_entered"
    via: str | None = None


@dataclass(slots=True, kw_only=True)
class NodeLeft(_Header):
    """A node finished its turn."""

    kind: Literal["node_left"] = "node_left"


@dataclass(slots=True, kw_only=True)
class MessageSent(_Header):
    """A node produced a message; ``recipients`` are the nodes it was delivered to."""

    kind: Literal["message"] = "message"
    message: Message
    sender: str
    recipients: tuple[str, ...] = ()


@dataclass(slots=True, kw_only=True)
class SpeakerSelected(_Header):
    """The next node was chosen among ``candidates``."""

    kind: Literal["speaker_selected"] = "speaker_selected"
    candidates: tuple[str, ...]
    choice: str
    method: str
    raw_answers: tuple[str, ...] = ()
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(slots=True, kw_only=True)
class BranchesJoined(_Header):
    """The parallel branches that fanned out at this step came back.

    ``taken`` are the branches whose messages entered the conversation and ``dropped`` those
    cancelled or left out at a ``join: any``, each named by its first node, in declared order.
    ``join`` is the node that speaks next ("" when a branch ended the conversation). Replay,
    resume and forks follow ``taken`` instead of racing the branches again.
    """

    kind: Literal["branches_joined"] = "branches_joined"
    join: str = ""
    taken: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()


@dataclass(slots=True, kw_only=True)
class ModelCalled(_Header):
    """A model answered a request; ``request_hash`` identifies the request exactly.

    ``finish_reason`` is the server's (``stop``, ``tool_calls``, ``length``,
    ``content_filter``, ...; None when it sent none): an answer cut short says so here.
    """

    kind: Literal["model_called"] = "model_called"
    model: str
    request_hash: str
    response: Message
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    purpose: Literal["reply", "select", "summary"] = "reply"
    finish_reason: str | None = None


@dataclass(slots=True, kw_only=True)
class ToolCalled(_Header):
    """A tool call was started."""

    kind: Literal["tool_called"] = "tool_called"
    call_id: str
    tool: str
    arguments: str


@dataclass(slots=True, kw_only=True)
class ToolReturned(_Header):
    """A tool call finished; ``is_error`` when it raised or its arguments were invalid."""

    kind: Literal["tool_returned"] = "tool_returned"
    call_id: str
    tool: str
    content: str
    is_error: bool = False
    duration_s: float = 0.0


@dataclass(slots=True, kw_only=True)
class CodeExecuted(_Header):
    """A code block ran."""

    kind: Literal["code_executed"] = "code_executed"
    language: str
    code: str
    executor: str
    exit_code: int
    output: str
    timed_out: bool = False
    duration_s: float = 0.0


@dataclass(slots=True, kw_only=True)
class HumanInputRequested(_Header):
    """A human was asked for input."""

    kind: Literal["human_input_requested"] = "human_input_requested"
    prompt: str


@dataclass(slots=True, kw_only=True)
class HumanInputReceived(_Header):
    """A human answered (empty text means: let the agent auto-reply)."""

    kind: Literal["human_input_received"] = "human_input_received"
    text: str


@dataclass(slots=True, kw_only=True)
class ErrorRaised(_Header):
    """An error stopped a node or the run; ``code`` is the FlowAgentsError code."""

    kind: Literal["error"] = "error"
    code: str
    error_type: str
    message: str


@dataclass(slots=True, kw_only=True)
class Terminated(_Header):
    """The conversation ended; ``reason`` says why (see TerminationReason)."""

    kind: Literal["terminated"] = "terminated"
    reason: str
    detail: str = ""


@dataclass(slots=True, kw_only=True)
class RunFinished(_Header):
    """The run ended with ``status``: completed, failed, cancelled or waiting_for_human."""

    kind: Literal["run_finished"] = "run_finished"
    status: str
    reason: str = ""


Event: TypeAlias = Annotated[
    RunStarted
    | NodeEntered
    | NodeLeft
    | MessageSent
    | SpeakerSelected
    | BranchesJoined
    | ModelCalled
    | ToolCalled
    | ToolReturned
    | CodeExecuted
    | HumanInputRequested
    | HumanInputReceived
    | ErrorRaised
    | Terminated
    | RunFinished,
    Field(discriminator="kind"),
]

EventKind: TypeAlias = Literal[
    "run_started",
    "node_entered",
    "node_left",
    "message",
    "speaker_selected",
    "branches_joined",
    "model_called",
    "tool_called",
    "tool_returned",
    "code_executed",
    "human_input_requested",
    "human_input_received",
    "error",
    "terminated",
    "run_finished",
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
