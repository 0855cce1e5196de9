"""An in-process executor for tests: records blocks, returns scripted results."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from flowagents.execution._blocks import CodeBlock
from flowagents.execution._result import BlockResult, CodeResult


class FakeCodeExecutor:
    """Record every call and answer with the next scripted ``(exit_code, output)``.

    With no script left it answers ``exit_code=0`` and an empty output. Nothing is run.
    """

    def __init__(self, script: Iterable[tuple[int, str]] = ()) -> None:
        self.script = list(script)
        self.calls: list[tuple[CodeBlock, ...]] = []

    @property
    def name(self) -> str:
        """``fake``."""
        return "fake"

    async def execute(self, blocks: Sequence[CodeBlock]) -> CodeResult:
        """Record ``blocks`` and return the next scripted result."""
        self.calls.append(tuple(blocks))
        exit_code, output = self.script.pop(0) if self.script else (0, "")
        language = blocks[-1].language if blocks else "python"
        block = BlockResult(language=language, exit_code=exit_code, output=output)
        return CodeResult(
            exit_code=exit_code,
            output=output,
            executor=self.name,
            timeout_s=0.0,
            blocks=(block,) if blocks else (),
            blocks_total=len(blocks),
        )
