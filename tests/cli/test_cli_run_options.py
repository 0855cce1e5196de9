"""``flowagents run`` option checks, in a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GRAPHS = Path(__file__).resolve().parents[2] / "graphs"


@pytest.mark.parametrize("value", ["0", "-3"])
def test_max_turns_below_one_is_a_usage_error(value: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from flowagents.cli import main; main()", "run",
         str(GRAPHS / "debate.yaml"), "--task", "x", "--max-turns", value, "--no-record", "-q"],
        cwd=tmp_path, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )

    assert done.returncode == 2, done.stdout
    assert "--max-turns" in done.stderr
    assert not done.stdout


@pytest.mark.parametrize("cache", [["--cache"], ["--cache-seed", "7"]])
def test_the_cache_without_recording_is_a_usage_error(cache: list[str], tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from flowagents.cli import main; main()", "run",
         str(GRAPHS / "debate.yaml"), "--task", "x", "--no-record", *cache, "-q"],
        cwd=tmp_path, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )

    assert done.returncode == 2, done.stdout
    assert "--no-record" in done.stderr and "--cache" in done.stderr
    assert not done.stdout
    assert not (tmp_path / ".flowagents").exists()
