"""``code_execution_config`` (AutoGen's keys) and the executor it asks for."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flowagents.errors import ConfigError
from flowagents.execution._limits import ExecutionLimits
from flowagents.execution._local import LocalExecutor
from flowagents.execution._protocol import CodeExecutor
from flowagents.execution._sandbox import SandboxExecutor


class CodeExecutionConfig(BaseModel):
    """How an agent runs the code a model writes.

    ``work_dir``, ``timeout`` and ``last_n_messages`` mean what they mean in AutoGen;
    ``use_docker`` is accepted so AutoGen configs load, but isolation is chosen by
    ``executor`` alone (``sandbox`` unless you ask for ``local``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    work_dir: Path = Path("coding")
    timeout: float | None = Field(default=None, gt=0, description="Overrides limits.timeout_s.")
    last_n_messages: int | Literal["auto"] = "auto"
    use_docker: bool | str | list[str] | None = None
    executor: Literal["sandbox", "local"] = "sandbox"
    limits: ExecutionLimits = ExecutionLimits()
    python: str | None = Field(default=None, description="Interpreter for python blocks.")
    env: dict[str, str] = Field(
        default_factory=dict, description="Variables passed to the code; nothing else is."
    )

    @property
    def effective_limits(self) -> ExecutionLimits:
        """``limits`` with AutoGen's ``timeout`` applied."""
        if self.timeout is None:
            return self.limits
        return self.limits.model_copy(update={"timeout_s": self.timeout})


def parse_code_execution_config(
    config: bool | Mapping[str, Any] | CodeExecutionConfig | None,
) -> CodeExecutionConfig | None:
    """Validate ``config``; ``False``/``None`` mean no code execution, ``True`` the defaults."""
    if config is None or config is False:
        return None
    if config is True:
        return CodeExecutionConfig()
    if isinstance(config, CodeExecutionConfig):
        return config
    try:
        return CodeExecutionConfig.model_validate(dict(config))
    except ValidationError as exc:
        raise ConfigError(
            f"invalid code_execution_config: {exc}", where="code_execution_config"
        ) from exc


def executor_from_config(
    config: bool | Mapping[str, Any] | CodeExecutionConfig | None,
) -> CodeExecutor | None:
    """Build the executor ``config`` asks for, or None when code execution is off.

    Raises ``SandboxUnavailableError`` when the sandbox is asked for (the default) and
    bubblewrap is missing: it never falls back to unisolated execution.
    """
    parsed = parse_code_execution_config(config)
    if parsed is None:
        return None
    if parsed.executor == "local":
        return LocalExecutor(
            parsed.work_dir, parsed.effective_limits, python=parsed.python, env=parsed.env
        )
    return SandboxExecutor(
        parsed.work_dir, parsed.effective_limits, python=parsed.python, env=parsed.env
    )
