"""Shared helpers for the execution tests: real processes, real bwrap."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Sequence

from flowagents.execution import CodeBlock, CodeExecutor, CodeResult


def processes_matching(*needles: str) -> list[int]:
    """Pids of live processes whose command line contains any of ``needles``."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(needle in cmdline for needle in needles):
            found.append(int(entry.name))
    return found


def assert_no_stray(*needles: str, within_s: float = 5.0) -> None:
    """Every process matching ``needles`` is gone (dying ones get ``within_s`` to finish)."""
    deadline = time.monotonic() + within_s
    while (left := processes_matching(*needles)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == [], f"stray processes survived: {left}"


def run(executor: CodeExecutor, code: str, language: str = "python") -> CodeResult:
    return asyncio.run(executor.execute([CodeBlock(language=language, code=code)]))


def run_blocks(executor: CodeExecutor, blocks: Sequence[tuple[str, str]]) -> CodeResult:
    return asyncio.run(executor.execute([CodeBlock(language=lang, code=c) for lang, c in blocks]))


def assert_still_works(executor: CodeExecutor) -> None:
    result = run(executor, "print('still', 'alive')")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "still alive"


def new_marker() -> str:
    """A string unique to one test, to find its processes in /proc."""
    return f"famarker{uuid.uuid4().hex}"


def background_sleeper(marker: str) -> str:
    """Python that starts a long-lived child whose command line carries ``marker``."""
    return f"import subprocess\nsubprocess.Popen(['/bin/sh', '-c', 'sleep 300; : {marker}'])\n"
