"""The part every subprocess executor shares: blocks in order, results, code files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from flowagents.errors import CodeExecutionError
from flowagents.execution._blocks import CodeBlock, normalize_language
from flowagents.execution._limits import ExecutionLimits
from flowagents.execution._process import ProcessOutcome
from flowagents.execution._result import TIMEOUT_EXIT_CODE, BlockResult, CodeResult, signal_name

SUPPORTED_LANGUAGES = ("python", "sh", "bash")
_EXTENSIONS = {"python": "py", "sh": "sh", "bash": "sh"}


def code_file_name(language: str, code: str) -> str:
    """Name the file for ``code``: ``tmp_code_<hash>.<ext>``, stable for the same code."""
    digest = hashlib.sha256(code.encode()).hexdigest()[:32]
    return f"tmp_code_{digest}.{_EXTENSIONS[language]}"


def write_code_file(work_dir: Path, language: str, code: str) -> Path:
    """Write ``code`` into ``work_dir`` and return its path.

    The file is created under a fresh name and renamed over ``path``, which replaces whatever
    is there without opening or following it.
    """
    path = work_dir / code_file_name(language, code)
    # Earlier code could write to the work dir and knows this name: opening it would follow a
    # symlink it left there (the caller writing and chmodding a host file) or block on a FIFO.
    try:
        fd, temp = tempfile.mkstemp(prefix=".tmp_code_", dir=work_dir)
    except OSError as exc:
        raise CodeExecutionError(f"cannot write the code file: {exc}", where=str(path)) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), 0o644)  # the sandbox may run as another uid: read only
            file.write(code if code.endswith("\n") else code + "\n")
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise CodeExecutionError(f"cannot write the code file: {exc}", where=str(path)) from exc
    return path


def render_output(outcome: ProcessOutcome) -> str:
    """Decode the kept output and mark a truncation with what was dropped."""
    text = outcome.output.decode("utf-8", errors="replace")
    if outcome.truncated:
        text += (
            f"\n... [output truncated: {outcome.total_bytes} bytes, "
            f"kept first {len(outcome.output)}]"
        )
    return text


class SubprocessExecutor(ABC):
    """Run blocks in order as child processes; stop at the first failing block."""

    def __init__(self, *, work_dir: Path | str, limits: ExecutionLimits | None) -> None:
        self.work_dir = Path(work_dir).absolute()
        self.limits = limits if limits is not None else ExecutionLimits()

    @property
    @abstractmethod
    def name(self) -> str:
        """The executor's name as results report it."""

    @abstractmethod
    async def _run_file(self, language: str, path: Path, output_limit: int) -> ProcessOutcome:
        """Run the code file ``path`` written for ``language``."""

    async def _prepare(self) -> None:
        """Check, once, that the executor can run anything at all."""
        return None

    def _decode_returncode(self, returncode: int) -> tuple[int, str | None]:
        """Split a raw return code into (exit code, signal name)."""
        if returncode < 0:
            return 128 - returncode, signal_name(-returncode)
        return returncode, None

    def _ensure_work_dir(self) -> None:
        try:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CodeExecutionError(
                f"cannot create the work dir: {exc}", where=str(self.work_dir)
            ) from exc

    async def execute(self, blocks: Sequence[CodeBlock]) -> CodeResult:
        """Run ``blocks`` in order and stop at the first that fails."""
        started = time.monotonic()
        budget = self.limits.max_output_bytes
        results: list[BlockResult] = []
        if blocks:
            self._ensure_work_dir()
            await self._prepare()
        for block in blocks:
            result = await self._run_block(block, budget)
            budget = max(0, budget - len(result.output.encode()))
            results.append(result)
            if result.exit_code != 0:
                break
        last = results[-1] if results else None
        return CodeResult(
            exit_code=last.exit_code if last else 0,
            output="\n".join(r.output for r in results),
            timed_out=last.timed_out if last else False,
            signal=last.signal if last else None,
            truncated=any(r.truncated for r in results),
            duration_s=time.monotonic() - started,
            executor=self.name,
            timeout_s=self.limits.timeout_s,
            blocks=tuple(results),
            blocks_total=len(blocks),
        )

    async def _run_block(self, block: CodeBlock, budget: int) -> BlockResult:
        language = normalize_language(block.language)
        if language not in SUPPORTED_LANGUAGES:
            return BlockResult(
                language=block.language,
                exit_code=1,
                output=f"unknown language {block.language!r} "
                f"(this executor runs: {', '.join(SUPPORTED_LANGUAGES)})",
            )
        try:
            path = write_code_file(self.work_dir, language, block.code)
        except CodeExecutionError as exc:
            # Earlier code can break the work dir (a directory at this name, a full disk):
            # that is the code's failure, for the model to read, not the conversation's. The
            # reason alone: the OS's message would show the model the host's path.
            cause = exc.__cause__
            reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else exc
            return BlockResult(
                language=language,
                exit_code=1,
                output=f"cannot write the code file {code_file_name(language, block.code)}: "
                f"{reason}",
            )
        outcome = await self._run_file(language, path, budget)
        if outcome.timed_out:
            exit_code, signal = TIMEOUT_EXIT_CODE, None
        else:
            exit_code, signal = self._decode_returncode(outcome.returncode)
        return BlockResult(
            language=language,
            exit_code=exit_code,
            output=render_output(outcome),
            timed_out=outcome.timed_out,
            signal=signal,
            truncated=outcome.truncated,
            duration_s=outcome.duration_s,
            code_file=path.name,
        )
