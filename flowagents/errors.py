"""The one error tree of flowagents.

Every error carries a stable ``code`` and ``where`` it happened: a source position
(``file:line:col``) for specs, ``run/step/node`` for runs, the endpoint and model for model
calls. Cancellation (``asyncio.CancelledError``, ``KeyboardInterrupt``) is never turned into a
``FlowAgentsError``. An error raised by user code (a reply function, a guard, a selection
function) leaves a run as it is, with ``run_location`` attached (see ``describe_error``).

    FlowAgentsError
    ├── SpecError                   a conversation spec is wrong before anything runs
    │   ├── GraphLoadError          the file cannot be read or parsed, or fails the schema
    │   └── GraphCompileError       the compiler found error-level findings
    ├── ConfigError                 a configuration value is wrong (llm_config, executor, ...)
    │   └── SandboxUnavailableError the sandbox was asked for but cannot be started
    ├── RunError                    something failed while a graph was running
    │   ├── ModelError              a model call failed
    │   │   ├── ModelAuthError      401/403 from the endpoint
    │   │   ├── ModelRequestError   4xx the server rejected (e.g. unsupported response_format)
    │   │   ├── ModelTimeoutError   no answer within the timeout
    │   │   ├── ModelUnavailableError  5xx / 429 / connection failures after retries
    │   │   └── ModelResponseError  the answer is malformed or unusable
    │   ├── SelectorError           the next speaker could not be chosen
    │   ├── ToolError               a tool could not be found or called
    │   ├── CodeExecutionError      code could not be executed (not: code that failed)
    │   └── HumanInputError         human input was needed but could not be had
    └── StoreError                  the run store cannot be read or written
        ├── StoreCorruptError       the database file is damaged or not ours
        └── ReplayDivergenceError   a replay stopped matching its record
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CodeExecutionError",
    "ConfigError",
    "FlowAgentsError",
    "GraphCompileError",
    "GraphLoadError",
    "HumanInputError",
    "HumanInputNeeded",
    "ModelAuthError",
    "ModelError",
    "ModelRequestError",
    "ModelResponseError",
    "ModelTimeoutError",
    "ModelUnavailableError",
    "ReplayDivergenceError",
    "RunError",
    "RunLocation",
    "SandboxUnavailableError",
    "SelectorError",
    "SourceLocation",
    "SpecError",
    "StoreCorruptError",
    "StoreError",
    "ToolError",
    "describe_error",
]


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """A position in a spec file; line and column are 1-based, 0 where unknown.

    Shown as ``file:line:col``, ``file:line`` when the column is unknown, or ``file``.
    """

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        if not self.column:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class RunLocation:
    """Where in a run something happened."""

    run_id: str | None = None
    step: str | None = None
    node: str | None = None

    def __str__(self) -> str:
        parts = [
            f"{label}={value}"
            for label, value in (("run", self.run_id), ("step", self.step), ("node", self.node))
            if value is not None
        ]
        return " ".join(parts)


class FlowAgentsError(Exception):
    """Root of every error flowagents raises on purpose."""

    code: str = "FA000"

    def __init__(self, message: str, *, where: object = None) -> None:
        self.message = message
        self.where = where
        super().__init__(message)

    def __str__(self) -> str:
        where = str(self.where) if self.where is not None else ""
        return f"{where}: {self.message}" if where else self.message


class SpecError(FlowAgentsError):
    """A conversation spec is wrong; ``where`` is a SourceLocation.

    ``findings`` holds each problem on its own (``flowagents.graph.Finding``s, each with its
    position) when there are several; ``where`` is the first one's.
    """

    code = "FA100"

    def __init__(self, message: str, *, where: object = None, findings: tuple[object, ...] = ()):
        super().__init__(message, where=where)
        self.findings = findings


class GraphLoadError(SpecError):
    """A graph file cannot be read, parsed, or fails the schema (a finding per violation)."""

    code = "FA101"


class GraphCompileError(SpecError):
    """The compiler found error-level findings; ``findings`` holds all of them."""

    code = "FA102"


class ConfigError(FlowAgentsError):
    """A configuration value is wrong or missing."""

    code = "FA200"


class SandboxUnavailableError(ConfigError):
    """The code sandbox was requested but cannot run here."""

    code = "FA201"


class RunError(FlowAgentsError):
    """Something failed during a run; ``where`` is a RunLocation when known."""

    code = "FA300"


class ModelError(RunError):
    """A model call failed; ``endpoint`` and ``model`` name which one."""

    code = "FA310"

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        model: str | None = None,
        status: int | None = None,
        where: object = None,
    ) -> None:
        self.endpoint = endpoint
        self.model = model
        self.status = status
        if where is None and (endpoint or model):
            where = f"model {model or '?'} at {endpoint or '?'}"
        super().__init__(message, where=where)


class ModelAuthError(ModelError):
    """The endpoint refused the credentials (401/403)."""

    code = "FA311"


class ModelRequestError(ModelError):
    """The endpoint rejected the request (400/404/422): often an unsupported feature."""

    code = "FA312"


class ModelTimeoutError(ModelError):
    """The endpoint did not answer within the timeout."""

    code = "FA313"


class ModelUnavailableError(ModelError):
    """The endpoint kept failing (5xx, 429, connection errors) after all retries."""

    code = "FA314"


class ModelResponseError(ModelError):
    """The endpoint answered with something that is not a usable completion."""

    code = "FA315"


class SelectorError(RunError):
    """The next speaker could not be chosen."""

    code = "FA320"


class ToolError(RunError):
    """A tool could not be found or called."""

    code = "FA330"


class CodeExecutionError(RunError):
    """Code could not be executed at all (distinct from code that ran and failed)."""

    code = "FA340"


class HumanInputError(RunError):
    """Human input was needed but none could be obtained."""

    code = "FA350"


class HumanInputNeeded(Exception):
    """Raised by a non-interactive input provider: park the run until a human answers.

    Not a FlowAgentsError: it is control flow, and the engine turns it into the run status
    ``waiting_for_human`` instead of a failure.
    """

    def __init__(self, prompt: str, *, agent: str) -> None:
        super().__init__(f"{agent} is waiting for human input: {prompt}")
        self.prompt = prompt
        self.agent = agent


class StoreError(FlowAgentsError):
    """The run store cannot be read or written."""

    code = "FA400"


class StoreCorruptError(StoreError):
    """The store file is damaged or was not written by flowagents."""

    code = "FA401"


class ReplayDivergenceError(StoreError):
    """A replay produced something other than what was recorded."""

    code = "FA402"


def describe_error(error: BaseException) -> str:
    """How flowagents reports ``error``: its own text, or ``location: Type: message``.

    A FlowAgentsError says where it happened itself; any other error is named by its type,
    after the run location it carries when it ended a run.
    """
    if isinstance(error, FlowAgentsError):
        return str(error)
    text = f"{type(error).__name__}: {error}"
    location = getattr(error, "run_location", None)
    return f"{location}: {text}" if isinstance(location, RunLocation) else text
