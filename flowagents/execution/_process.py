"""Running one child process: bounded output, wall-clock timeout, whole-group kill."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from flowagents.errors import CodeExecutionError

# After the child exits or is killed, how long to wait for the pipe to reach EOF; a process
# that escaped the group (only possible without the sandbox) may hold it open forever.
_DRAIN_GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    """What one child process did."""

    returncode: int
    output: bytes
    total_bytes: int
    timed_out: bool
    duration_s: float

    @property
    def truncated(self) -> bool:
        return self.total_bytes > len(self.output)


class _Sink(asyncio.Protocol):
    """Keep the first ``limit`` bytes of a pipe, count and drop the rest."""

    def __init__(self, limit: int, done: asyncio.Future[None]) -> None:
        self.limit = limit
        self.done = done
        self.chunks: list[bytes] = []
        self.kept = 0
        self.total = 0

    def data_received(self, data: bytes) -> None:
        self.total += len(data)
        room = self.limit - self.kept
        if room > 0:
            piece = data[:room]
            self.chunks.append(piece)
            self.kept += len(piece)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


def kill_group(pgid: int) -> None:
    """SIGKILL the process group ``pgid``; a group that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout_s: float,
    output_limit: int,
    preexec_fn: Callable[[], None] | None = None,
    pass_fds: Sequence[int] = (),
) -> ProcessOutcome:
    """Run ``argv`` in a new session; stdout and stderr share one pipe, so they interleave.

    The pipe is always drained (only the first ``output_limit`` bytes are kept) so the child
    never blocks on a full pipe. At the timeout, or if this coroutine is cancelled, the whole
    process group is SIGKILLed; the group is killed after a normal exit too, so a background
    process the code started does not outlive it.
    """
    loop = asyncio.get_running_loop()
    read_fd, write_fd = os.pipe()
    done: asyncio.Future[None] = loop.create_future()
    sink = _Sink(output_limit, done)
    started = time.monotonic()
    try:
        transport, _ = await loop.connect_read_pipe(lambda: sink, os.fdopen(read_fd, "rb", 0))
    except BaseException:
        os.close(read_fd)
        os.close(write_fd)
        raise
    try:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                start_new_session=True,
                preexec_fn=preexec_fn,
                pass_fds=tuple(pass_fds),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            # SubprocessError: preexec_fn failed (its exception does not cross the fork).
            raise CodeExecutionError(f"cannot start {argv[0]!r}: {exc}", where=str(cwd)) from exc
        finally:
            os.close(write_fd)
        timed_out = False
        try:
            returncode = await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            timed_out = True
            kill_group(proc.pid)
            returncode = await proc.wait()
        except BaseException:
            # Cancelled: kill, and reap the child so no transport outlives the loop.
            kill_group(proc.pid)
            await asyncio.shield(proc.wait())
            raise
        # After a normal exit too: nothing the code started in the background may survive it.
        kill_group(proc.pid)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(done), _DRAIN_GRACE_S)
    finally:
        transport.close()
    return ProcessOutcome(
        returncode=returncode,
        output=b"".join(sink.chunks),
        total_bytes=sink.total,
        timed_out=timed_out,
        duration_s=time.monotonic() - started,
    )
