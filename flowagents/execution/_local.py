"""Running code as a plain child process: limited, but not isolated."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path

from flowagents.execution._limits import ExecutionLimits, count_processes, rlimit_setter
from flowagents.execution._process import ProcessOutcome, run_process
from flowagents.execution._run import SubprocessExecutor


class UnsandboxedExecutionWarning(UserWarning):
    """Code will run with the caller's rights, files, network and secrets."""


class LocalExecutor(SubprocessExecutor):
    """Run code blocks as child processes of this one, with rlimits and a timeout.

    Not isolated: the code sees the network, every file the caller can read (the caller's own
    environment in ``/proc/<pid>/environ`` too), and runs as the caller. The environment is
    scrubbed to ``PATH``, ``HOME``, ``LANG``, ``TMPDIR`` and the two ``PYTHON*`` settings
    (plus ``env``). Constructing one warns with :class:`UnsandboxedExecutionWarning`.
    """

    def __init__(
        self,
        work_dir: Path | str = "coding",
        limits: ExecutionLimits | None = None,
        *,
        python: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(work_dir=work_dir, limits=limits)
        self.python = python or sys.executable
        self.extra_env = dict(env or {})
        warnings.warn(
            "LocalExecutor runs model-written code without isolation (network, files and "
            "secrets of this user are reachable); use the sandbox executor unless you trust it",
            UnsandboxedExecutionWarning,
            stacklevel=2,
        )

    @property
    def name(self) -> str:
        """``local``."""
        return "local"

    def _env(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": os.environ.get("HOME", str(self.work_dir)),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update(self.extra_env)
        return env

    async def _run_file(self, language: str, path: Path, output_limit: int) -> ProcessOutcome:
        if language == "python":
            argv = [self.python, str(path)]
        else:
            argv = [shutil.which(language) or "/bin/sh", str(path)]
        uid = os.getuid()
        # RLIMIT_NPROC counts every process of the uid, so allow this many *more*; root
        # ignores the limit entirely (one reason this executor does not contain fork bombs).
        nproc = None
        if uid != 0:
            nproc = await asyncio.to_thread(count_processes, uid) + self.limits.max_processes
        return await run_process(
            argv,
            cwd=self.work_dir,
            env=self._env(),
            timeout_s=self.limits.timeout_s,
            output_limit=output_limit,
            preexec_fn=rlimit_setter(self.limits, nproc=nproc),
        )
