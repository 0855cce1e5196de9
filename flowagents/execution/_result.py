"""What an execution returns, and how a model is told about it."""

from __future__ import annotations

import signal as _signal

from pydantic import BaseModel, ConfigDict

#: Exit code reported for a wall-clock timeout (as ``timeout(1)`` and AutoGen report it).
TIMEOUT_EXIT_CODE = 124

# Why the kernel most likely sent a signal, given the limits we set.
_SIGNAL_HINTS: dict[str, str] = {
    "SIGKILL": "memory limit or killed from outside?",
    "SIGXCPU": "CPU time limit exceeded",
    "SIGXFSZ": "file size limit exceeded",
    "SIGSEGV": "segmentation fault; memory limit?",
    "SIGABRT": "aborted",
}


def signal_name(number: int) -> str | None:
    """Return ``SIGKILL`` for 9, or None for a number that is no signal."""
    try:
        return _signal.Signals(number).name
    except ValueError:
        return None


def describe_exit(exit_code: int, *, timed_out: bool, signal: str | None, timeout_s: float) -> str:
    """Say in a few words why a block ended, for a model to read."""
    if timed_out:
        return f"timeout after {timeout_s:g} s; the process group was killed"
    if signal is not None:
        hint = _SIGNAL_HINTS.get(signal)
        return f"killed by {signal} ({hint})" if hint else f"killed by {signal}"
    return "execution succeeded" if exit_code == 0 else "execution failed"


class BlockResult(BaseModel):
    """How one code block ended."""

    model_config = ConfigDict(frozen=True)

    language: str
    exit_code: int
    output: str
    timed_out: bool = False
    signal: str | None = None
    truncated: bool = False
    duration_s: float = 0.0
    code_file: str | None = None


class CodeResult(BaseModel):
    """The outcome of running a list of blocks in order, stopping at the first failure.

    ``exit_code``/``timed_out``/``signal`` are those of the last block run; ``output`` joins
    every block's output (stdout and stderr interleaved as written).
    """

    model_config = ConfigDict(frozen=True)

    exit_code: int
    output: str
    timed_out: bool = False
    signal: str | None = None
    truncated: bool = False
    duration_s: float = 0.0
    executor: str
    timeout_s: float
    blocks: tuple[BlockResult, ...] = ()
    blocks_total: int = 0

    @property
    def succeeded(self) -> bool:
        """True when every block ran and exited 0."""
        return self.exit_code == 0 and len(self.blocks) == self.blocks_total

    def to_agent_message(self) -> str:
        """Render the result the way a model can act on (AutoGen's ``exitcode: ...`` form)."""
        why = describe_exit(
            self.exit_code, timed_out=self.timed_out, signal=self.signal, timeout_s=self.timeout_s
        )
        head = f"exitcode: {self.exit_code} ({why})"
        if self.exit_code != 0 and self.blocks_total > 1:
            head += f"\nstopped at code block {len(self.blocks)} of {self.blocks_total}"
        return f"{head}\nCode output: {self.output}"
