"""The opt-in LocalExecutor: not isolated, but limited and leaves nothing behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from execution_helpers import (
    assert_no_stray,
    assert_still_works,
    background_sleeper,
    new_marker,
    run,
)

from flowagents.execution import (
    CodeBlock,
    ExecutionLimits,
    LocalExecutor,
    UnsandboxedExecutionWarning,
)


def _local(work_dir: Path, **limits: float) -> LocalExecutor:
    with pytest.warns(UnsandboxedExecutionWarning):
        return LocalExecutor(work_dir, ExecutionLimits(**limits))


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    local = _local(tmp_path, timeout_s=2)
    marker = new_marker()
    result = run(
        local, background_sleeper(marker) + "print('looping', flush=True)\nwhile True: pass\n"
    )
    assert (result.exit_code, result.timed_out, result.output) == (124, True, "looping\n")
    assert_no_stray(marker, result.blocks[0].code_file or "?")
    assert_still_works(local)


def test_background_processes_do_not_outlive_a_successful_block(tmp_path: Path) -> None:
    local = _local(tmp_path)
    marker = new_marker()
    result = run(
        local, f"nohup sh -c 'sleep 300; : {marker}' >/dev/null 2>&1 &\necho started", "sh"
    )
    assert (result.exit_code, result.output) == (0, "started\n")
    assert_no_stray(marker)


def test_output_is_truncated_with_a_marker(tmp_path: Path) -> None:
    local = _local(tmp_path, max_output_bytes=1000)
    result = run(local, "import sys\nsys.stdout.write('y' * 5_000_000)")
    assert result.truncated
    assert result.output == "y" * 1000 + "\n... [output truncated: 5000000 bytes, kept first 1000]"


def test_file_size_limit_kills_a_shell_writer(tmp_path: Path) -> None:
    local = _local(tmp_path, max_file_bytes=1 << 20)
    result = run(local, "exec head -c 2G /dev/zero > big", "sh")
    assert (result.exit_code, result.signal) == (153, "SIGXFSZ")
    assert "killed by SIGXFSZ (file size limit exceeded)" in result.to_agent_message()
    assert (tmp_path / "big").stat().st_size == 1 << 20
    assert_still_works(local)


def test_cancelling_an_execution_kills_its_processes(tmp_path: Path) -> None:
    local = _local(tmp_path, timeout_s=30)
    marker = new_marker()
    code = background_sleeper(marker) + "while True: pass\n"

    async def cancel_soon() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(local.execute([CodeBlock(language="python", code=code)]), 1)

    asyncio.run(cancel_soon())
    assert_no_stray(marker)
