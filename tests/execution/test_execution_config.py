from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from flowagents.errors import ConfigError, SandboxUnavailableError
from flowagents.execution import (
    CodeBlock,
    CodeExecutionConfig,
    CodeExecutor,
    ExecutionLimits,
    FakeCodeExecutor,
    LocalExecutor,
    SandboxExecutor,
    UnsandboxedExecutionWarning,
    executor_from_config,
    parse_code_execution_config,
)


def test_false_and_none_mean_no_execution() -> None:
    assert executor_from_config(False) is None
    assert executor_from_config(None) is None


def test_autogen_dict_defaults_to_the_sandbox(tmp_path: Path) -> None:
    executor = executor_from_config(
        {"work_dir": str(tmp_path), "timeout": 7, "last_n_messages": 2, "use_docker": False}
    )
    assert isinstance(executor, SandboxExecutor)
    assert isinstance(executor, CodeExecutor)
    assert executor.work_dir == tmp_path
    assert executor.limits.timeout_s == 7
    assert executor.limits.memory_bytes == 1 << 30


def test_typed_config_and_limits(tmp_path: Path) -> None:
    config = CodeExecutionConfig(
        work_dir=tmp_path, limits=ExecutionLimits(max_processes=8, max_output_bytes=100)
    )
    assert config.last_n_messages == "auto"
    assert config.effective_limits.timeout_s == 60
    executor = executor_from_config(config)
    assert isinstance(executor, SandboxExecutor)
    assert executor.limits.max_processes == 8
    assert parse_code_execution_config(True) == CodeExecutionConfig()


def test_local_must_be_asked_for_and_warns(tmp_path: Path) -> None:
    with pytest.warns(UnsandboxedExecutionWarning, match="without isolation"):
        executor = executor_from_config({"executor": "local", "work_dir": str(tmp_path)})
    assert isinstance(executor, LocalExecutor)
    assert executor.name == "local"


@pytest.mark.parametrize(
    "config",
    [
        {"executor": "docker"},
        {"timeout": -1},
        {"work_dirr": "typo"},
        {"limits": {"memory_bytes": 0}},
        {"limits": {"unknown_limit": 1}},
    ],
)
def test_bad_config_is_a_config_error(config: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="invalid code_execution_config"):
        executor_from_config(config)


def test_missing_bwrap_raises_with_install_hint(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailableError) as info:
        SandboxExecutor(tmp_path, bwrap=str(tmp_path / "no" / "bwrap"))
    message = str(info.value)
    assert "apt-get install bubblewrap" in message
    assert "'executor': 'local'" in message
    assert info.value.code == "FA201"


def test_bwrap_that_cannot_create_namespaces_raises_on_first_use(tmp_path: Path) -> None:
    """A real executable standing in for a bwrap that the kernel refuses namespaces to."""
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    executor = SandboxExecutor(tmp_path / "work", bwrap=str(fake))
    with pytest.raises(SandboxUnavailableError, match="No permissions to create new namespace"):
        asyncio.run(executor.execute([CodeBlock(language="python", code="print(1)")]))
    assert not any(p.suffix == ".py" for p in (tmp_path / "work").iterdir())


def test_fake_executor_records_and_answers() -> None:
    fake = FakeCodeExecutor([(1, "boom")])
    assert isinstance(fake, CodeExecutor)
    blocks = [CodeBlock(language="python", code="x")]
    first = asyncio.run(fake.execute(blocks))
    second = asyncio.run(fake.execute(blocks))
    assert (first.exit_code, first.output) == (1, "boom")
    assert (second.exit_code, second.output) == (0, "")
    assert fake.calls == [tuple(blocks), tuple(blocks)]
    assert os.environ  # the fake touches nothing
