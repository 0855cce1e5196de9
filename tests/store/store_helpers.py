"""Shared helpers for the store tests: running the CLI in a subprocess, comparing records."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowagents.events import EVENT_ADAPTER, Event, MessageSent
from flowagents.store._verify import event_keys

HERE = Path(__file__).parent
GRAPHS = HERE / "graphs"
FLOWAGENTS = [sys.executable, "-c", "from flowagents.cli import main; main()"]
_VOLATILE = {"seq", "ts", "run_id", "duration_s", "manifest"}


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWAGENTS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLOWAGENTS, *args], cwd=cwd, env=cli_env(**env), capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=60,
    )


def spawn(*args: str, cwd: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*FLOWAGENTS, *args], cwd=cwd, env=cli_env(**env), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    """Wait (30 s at most) until ``condition()`` holds while ``process`` is still running."""
    deadline = time.monotonic() + 30
    while not condition():
        assert process.poll() is None, f"the run ended before {what}: {process.communicate()[1]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def canonical(events: list[Event]) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Events by key, without what legitimately differs between executions."""
    out = {}
    for key, event in zip(event_keys(events), events, strict=True):
        data = EVENT_ADAPTER.dump_python(event, mode="json")
        out[key] = {k: v for k, v in data.items() if k not in _VOLATILE}
    return out


def transcript(events: list[Event]) -> list[tuple[str, str, str]]:
    return [(e.step, e.sender, e.message.text) for e in events if isinstance(e, MessageSent)]
