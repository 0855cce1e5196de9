"""Resource limits for code execution, and how they become rlimits in the child."""

from __future__ import annotations

import os
import resource
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

GIB = 1 << 30
MIB = 1 << 20


class ExecutionLimits(BaseModel):
    """What one code block may use; every limit is enforced by the kernel or the executor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_seconds: int = Field(default=60, gt=0, description="CPU time per process (RLIMIT_CPU).")
    memory_bytes: int = Field(
        default=GIB, gt=0, description="Address space per process (RLIMIT_AS)."
    )
    max_processes: int = Field(
        default=64, gt=0, description="Processes the code may add (RLIMIT_NPROC over the uid)."
    )
    max_file_bytes: int = Field(
        default=64 * MIB, gt=0, description="Largest file the code may write (RLIMIT_FSIZE)."
    )
    max_open_files: int = Field(default=256, gt=0, description="Open descriptors (RLIMIT_NOFILE).")
    tmp_bytes: int = Field(
        default=GIB, gt=0, description="Size of the sandbox's private /tmp (a tmpfs, in memory)."
    )
    timeout_s: float = Field(
        default=60.0, gt=0, description="Wall clock per block; then the process group is killed."
    )
    max_output_bytes: int = Field(
        default=MIB, gt=0, description="Output kept per execution; the rest is drained and counted."
    )


def count_processes(uid: int) -> int:
    """Count the processes whose real uid is ``uid`` (RLIMIT_NPROC counts these)."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"Uid:"):
                        count += int(line.split()[1]) == uid
                        break
        except OSError:
            continue  # the process ended while we looked
    return count


def rlimit_setter(limits: ExecutionLimits, *, nproc: int | None) -> Callable[[], None]:
    """Return a ``preexec_fn`` that applies ``limits`` in the forked child before exec.

    ``nproc`` is the absolute RLIMIT_NPROC to set (None: leave it); the caller computes it
    because the limit counts every process of the uid, not only the child's.
    """
    pairs: list[tuple[int, int, int]] = [
        # A hard CPU limit one second above the soft one lets SIGXCPU arrive before SIGKILL.
        (resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1),
        (resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes),
        (resource.RLIMIT_FSIZE, limits.max_file_bytes, limits.max_file_bytes),
        (resource.RLIMIT_NOFILE, limits.max_open_files, limits.max_open_files),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    if nproc is not None:
        pairs.append((resource.RLIMIT_NPROC, nproc, nproc))

    def apply() -> None:
        # Runs between fork and exec: no imports, no allocation-heavy work.
        for which, soft, hard in pairs:
            _, current_hard = resource.getrlimit(which)
            if current_hard != resource.RLIM_INFINITY and os.geteuid() != 0:
                hard = min(hard, current_hard)
                soft = min(soft, hard)
            resource.setrlimit(which, (soft, hard))

    return apply
