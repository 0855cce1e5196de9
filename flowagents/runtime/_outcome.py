"""How a run ends: its result, the internal outcome of a conversation, and the final events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from flowagents.errors import FlowAgentsError, RunError, RunLocation, describe_error
from flowagents.events import ErrorRaised, RunFinished, Terminated
from flowagents.messages import Message
from flowagents.runtime._context import CURRENT_STEP, RunContext

RunStatus = Literal["completed", "failed", "cancelled", "waiting_for_human"]


class RunResult(BaseModel):
    """How a run ended and what was said."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    run_id: str
    graph: str
    status: RunStatus
    reason: str
    detail: str = ""
    last_node: str | None = None
    messages: list[Message] = Field(default_factory=list)
    summary: str = ""
    cost: dict[str, Any] = Field(default_factory=dict)
    human_inputs: list[str] = Field(default_factory=list)


@dataclass(slots=True)
class Outcome:
    """How a conversation (or a branch of one) ended; ``join`` names the join it reached."""

    reason: str
    detail: str = ""
    node: str | None = None
    join: str | None = None


NO_TASK = Outcome("no_task")


def no_successor(node: str) -> Outcome:
    """The outcome of a turn after which no edge leads anywhere."""
    return Outcome("no_successor", f"{node} has no permitted successor", node=node)


def locate_error(exc: Exception, ctx: RunContext) -> None:
    """Attach to ``exc`` the run, step and node it came from (those of the step running now).

    Sets ``exc.run_location``, adds a note naming it, and fills in an empty ``where`` of a
    FlowAgentsError. An error already located in this run (in a branch, or in a run nested
    in this one) keeps its place: that is where it happened.
    """
    known = getattr(exc, "run_location", None)
    if isinstance(known, RunLocation) and known.run_id == ctx.run_id:
        return
    scope = CURRENT_STEP.get()
    location = RunLocation(ctx.run_id, scope.step or None, scope.node or None)
    exc.run_location = location  # type: ignore[attr-defined]
    exc.add_note(f"during {location}")
    if isinstance(exc, FlowAgentsError) and exc.where is None:
        exc.where = location


def emit_end(
    ctx: RunContext, outcome: Outcome, status: RunStatus, error: Exception | None = None
) -> None:
    """Emit how the run ended: the error if any, ``Terminated``, and at the top ``RunFinished``."""
    if not ctx.sinks:
        return
    current = CURRENT_STEP.get()
    step, node = current.step, current.node
    if error is not None:
        where = getattr(error, "run_location", None)
        if isinstance(where, RunLocation):  # a branch's step, not the fan-out's
            step, node = where.step or step, where.node or node
        ctx.emit(
            ErrorRaised(
                run_id=ctx.run_id,
                step=step,
                node=node,
                code=error.code if isinstance(error, FlowAgentsError) else RunError.code,
                error_type=type(error).__name__,
                message=describe_error(error),
            )
        )
    ctx.emit(
        Terminated(
            run_id=ctx.run_id,
            step=step,
            node=outcome.node or node,
            reason=outcome.reason,
            detail=outcome.detail,
        )
    )
    if ctx.parent is None:
        ctx.emit(RunFinished(run_id=ctx.run_id, step=step, status=status, reason=outcome.reason))
