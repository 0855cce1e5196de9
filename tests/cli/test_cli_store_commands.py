"""The store commands' input handling, in real subprocesses: paths, flags, user text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

GRAPHS = Path(__file__).resolve().parents[2] / "graphs"


def flowagents(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWAGENTS_")}
    return subprocess.run(
        [sys.executable, "-c", "from flowagents.cli import main; main()", *args],
        cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )


def test_run_ids_and_paths_with_brackets_are_printed_as_they_are(tmp_path: Path) -> None:
    store = "proj[old]/x[/y]/runs.db"
    ran = flowagents("run", str(GRAPHS / "debate.yaml"), "-t", "x", "--store", store,
                     "--run-id", "a[/]b", cwd=tmp_path)
    forked = flowagents("replay", "a[/]b", "--from", "2", "--run-id", "[red]abc", "-q",
                        "--store", store, cwd=tmp_path)
    listed = flowagents("runs", "--store", store, cwd=tmp_path)
    shown = flowagents("show", "[red]abc", "--store", store, cwd=tmp_path)
    replayed = flowagents("replay", "a[/]b", "-q", "--store", store, cwd=tmp_path)

    for done in (ran, forked, listed, shown, replayed):
        assert done.returncode == 0, done.stderr
    assert f"recording run a[/]b in {store}" in ran.stdout
    assert "run a[/]b: completed" in ran.stdout
    assert "forked run [red]abc from a[/]b at step 2" in forked.stdout
    assert "run [red]abc: completed" in forked.stdout
    assert "a[/]b" in listed.stdout and "[red]abc" in listed.stdout
    assert "run [red]abc graph debate: completed" in shown.stdout
    assert "replay of run a[/]b matches the whole record" in replayed.stdout
    runs = json.loads(flowagents("runs", "--store", store, "--json", cwd=tmp_path).stdout)
    assert {run["run_id"] for run in runs} == {"a[/]b", "[red]abc"}
