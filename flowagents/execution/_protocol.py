"""The one interface every code executor implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from flowagents.execution._blocks import CodeBlock
from flowagents.execution._result import CodeResult


@runtime_checkable
class CodeExecutor(Protocol):
    """Runs code blocks in order and reports how they ended.

    Code that fails is a result (non-zero ``exit_code``), never an exception; an executor
    raises only when it cannot run code at all (``CodeExecutionError``,
    ``SandboxUnavailableError``).
    """

    @property
    def name(self) -> str:
        """A short name results carry (``sandbox``, ``local``, ...)."""
        ...

    async def execute(self, blocks: Sequence[CodeBlock]) -> CodeResult:
        """Run ``blocks`` in order, stopping at the first that fails."""
        ...
