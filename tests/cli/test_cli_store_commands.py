"""The store commands' input handling, in real subprocesses: paths, flags, user text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GRAPHS = Path(__file__).resolve().parents[2] / "graphs"


def flowagents(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWAGENTS_")}
    return subprocess.run(
        [sys.executable, "-c", "from flowagents.cli import main; main()", *args],
        cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "runs.db"
    done = flowagents("run", str(GRAPHS / "debate.yaml"), "-t", "x", "-q", "--store", str(path),
                      "--run-id", "r", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return path


def test_replay_run_id_without_from_is_a_usage_error(store: Path, tmp_path: Path) -> None:
    done = flowagents("replay", "r", "--store", str(store), "--run-id", "fork1", "-q",
                      cwd=tmp_path)

    assert done.returncode == 2, done.stdout
    assert "--run-id" in done.stderr and "--from" in done.stderr
    assert not done.stdout


@pytest.mark.parametrize(
    "command",
    [["runs"], ["show", "r"], ["export", "r"], ["replay", "r"], ["replay", "r", "--from", "2"],
     ["resume", "r"]],
)
def test_a_mistyped_store_is_an_error_and_is_not_created(
    command: list[str], tmp_path: Path
) -> None:
    done = flowagents(*command, "--store", "typo/dir/runs.db", cwd=tmp_path)

    assert done.returncode == 1, done.stdout
    assert "error[FA400] typo/dir/runs.db: there is no run store here" in done.stderr
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("target", ["missing/x.jsonl", "a_directory"])
def test_export_to_a_place_it_cannot_write_is_an_error(
    target: str, store: Path, tmp_path: Path
) -> None:
    (tmp_path / "a_directory").mkdir()

    done = flowagents("export", "r", "--store", str(store), "-o", target, cwd=tmp_path)

    assert done.returncode == 1
    assert f"error[FA400] cannot write {target}: " in done.stderr
    assert "Traceback" not in done.stderr


def test_import_of_a_file_that_is_not_utf8_is_an_error_naming_it(
    store: Path, tmp_path: Path
) -> None:
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00bin")

    done = flowagents("import", "bin.jsonl", "--store", str(store), cwd=tmp_path)

    assert done.returncode == 1
    assert "error[FA400] cannot read bin.jsonl: it is not UTF-8 text" in done.stderr
    assert "Traceback" not in done.stderr


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


def test_emoji_codes_in_run_ids_and_messages_are_printed_as_they_are(tmp_path: Path) -> None:
    ran = flowagents("run", str(GRAPHS / "debate.yaml"), "-t", "say :smile: please",
                     "--run-id", ":smile:", cwd=tmp_path)
    listed = flowagents("runs", cwd=tmp_path)

    assert ran.returncode == 0, ran.stderr
    assert "recording run :smile:" in ran.stdout
    assert "say :smile: please" in ran.stdout  # the task, printed as a message
    assert ":smile:" in listed.stdout
    assert "\N{SMILING FACE WITH SMILING EYES}" not in ran.stdout + listed.stdout
    assert "\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}" not in ran.stdout + listed.stdout
