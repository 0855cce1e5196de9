"""Running the code a model wrote: safely by default.

General layout:

- ``_blocks``: :func:`extract_code_blocks` finds fenced blocks in model output.
- ``_protocol``: :class:`CodeExecutor`, the interface; ``_result``: :class:`CodeResult`.
- ``_limits``: :class:`ExecutionLimits` and how they become rlimits.
- ``_process``: one child process with bounded output, timeout and process-group kill.
- ``_run``: what subprocess executors share (blocks in order, code files).
- ``_sandbox``: :class:`SandboxExecutor` (bubblewrap), the default.
- ``_local``: :class:`LocalExecutor`, limited but not isolated, opt-in.
- ``_fake``: :class:`FakeCodeExecutor` for tests.
- ``_config``: ``code_execution_config`` and :func:`executor_from_config`.
"""

from flowagents.execution._blocks import CodeBlock, extract_code_blocks, infer_language
from flowagents.execution._config import (
    CodeExecutionConfig,
    executor_from_config,
    parse_code_execution_config,
)
from flowagents.execution._fake import FakeCodeExecutor
from flowagents.execution._limits import ExecutionLimits
from flowagents.execution._local import LocalExecutor, UnsandboxedExecutionWarning
from flowagents.execution._protocol import CodeExecutor
from flowagents.execution._result import TIMEOUT_EXIT_CODE, BlockResult, CodeResult
from flowagents.execution._sandbox import WORKSPACE, SandboxExecutor

__all__ = [
    "TIMEOUT_EXIT_CODE",
    "WORKSPACE",
    "BlockResult",
    "CodeBlock",
    "CodeExecutionConfig",
    "CodeExecutor",
    "CodeResult",
    "ExecutionLimits",
    "FakeCodeExecutor",
    "LocalExecutor",
    "SandboxExecutor",
    "UnsandboxedExecutionWarning",
    "executor_from_config",
    "extract_code_blocks",
    "infer_language",
    "parse_code_execution_config",
]
