"""What every real executor does the same way (sandbox and local)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from execution_helpers import run, run_blocks

from flowagents.execution import (
    CodeBlock,
    CodeExecutor,
    ExecutionLimits,
    LocalExecutor,
    SandboxExecutor,
    UnsandboxedExecutionWarning,
    extract_code_blocks,
)


@pytest.fixture(params=["sandbox", "local"])
def executor(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CodeExecutor]:
    limits = ExecutionLimits(timeout_s=10)
    if request.param == "sandbox":
        yield SandboxExecutor(tmp_path / "work", limits)
    else:
        with pytest.warns(UnsandboxedExecutionWarning):
            yield LocalExecutor(tmp_path / "work", limits)


def test_blocks_run_in_order_and_stop_at_the_first_failure(executor: CodeExecutor) -> None:
    result = run_blocks(
        executor,
        [("python", "print('one')"), ("sh", "echo two; exit 5"), ("python", "print('three')")],
    )
    assert (result.exit_code, result.blocks_total, len(result.blocks)) == (5, 3, 2)
    assert result.output == "one\n\ntwo\n"
    assert result.executor == executor.name
    assert "stopped at code block 2 of 3" in result.to_agent_message()


def test_stdout_and_stderr_interleave_in_order(executor: CodeExecutor) -> None:
    result = run(
        executor,
        "import sys\nprint('a')\nprint('b', file=sys.stderr)\nprint('c')\nraise SystemExit(2)",
    )
    assert (result.exit_code, result.output) == (2, "a\nb\nc\n")
    assert result.to_agent_message() == "exitcode: 2 (execution failed)\nCode output: a\nb\nc\n"


def test_unknown_language_is_a_result_not_an_exception(executor: CodeExecutor) -> None:
    result = run_blocks(executor, [("python", "print(1)"), ("cobol", "DISPLAY 'X'."), ("sh", "x")])
    assert result.exit_code == 1
    assert result.blocks[-1].output.startswith("unknown language 'cobol'")
    assert len(result.blocks) == 2


def test_the_work_dir_persists_and_holds_the_code_files(executor: CodeExecutor) -> None:
    assert run(executor, "open('state.txt', 'w').write('kept')").exit_code == 0
    again = run(executor, "print(open('state.txt').read())")
    assert again.output == "kept\n"
    assert isinstance(executor, (SandboxExecutor, LocalExecutor))
    name = again.blocks[0].code_file
    assert name is not None and name.startswith("tmp_code_") and name.endswith(".py")
    assert (executor.work_dir / name).read_text() == "print(open('state.txt').read())\n"


def test_model_output_runs_end_to_end(executor: CodeExecutor) -> None:
    reply = (
        "Let me compute.\n```python\nprint(sum(range(10)))\n```\nand\n```bash\necho $((6*7))\n```"
    )
    result = asyncio.run(executor.execute(extract_code_blocks(reply)))
    assert result.succeeded
    assert result.output == "45\n\n42\n"


def test_garbage_code_fails_cleanly(executor: CodeExecutor) -> None:
    blocks = [CodeBlock(language="python", code="\x00\x01 def (((")]
    result = asyncio.run(executor.execute(blocks))
    assert result.exit_code == 1
    assert "Error" in result.output
    assert asyncio.run(executor.execute([])).exit_code == 0
