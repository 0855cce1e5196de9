"""A function a model may call: its schema, argument checking, and a call that never crashes.

Everything a model can get wrong (arguments that are not JSON, of the wrong types, missing or
unknown; a tool that raises or hangs) comes back as a ``ToolOutcome`` with ``is_error`` set
and a message the model can act on. Only cancellation of the caller and the run's own control
flow (``RUN_CONTROL``: a pause for human input, a replay divergence) propagate.

Timeouts: an async tool is cancelled. A sync tool runs in its own daemon thread, which
cannot be stopped: after the timeout it is abandoned and may keep running (and keep its side
effects going) until it returns by itself. Daemon threads rather than ``asyncio.to_thread``
so that abandoned calls neither fill the default executor nor hold up ``asyncio.run`` on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticSerializationError, to_json

from flowagents.errors import ConfigError, HumanInputNeeded, ReplayDivergenceError
from flowagents.tools._schema import (
    ArgumentsPlan,
    build_arguments_plan,
    describe_callable,
    function_location,
)

__all__ = ["Tool", "ToolErrorKind", "ToolOutcome", "serialize_result"]

ToolErrorKind = Literal["invalid_arguments", "raised", "timeout", "unknown_tool"]

# What the Chat Completions API accepts as a function name.
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_INPUT_REPR = 80

#: What a tool raises that is the run's control flow, not the tool's failure: a chat inside the
#: tool (an agent consulted as a tool) asking a human while the run is non-interactive, which
#: parks the run, and a replay that stopped matching its record. They pass through a call.
RUN_CONTROL: tuple[type[Exception], ...] = (HumanInputNeeded, ReplayDivergenceError)


class ToolOutcome(BaseModel):
    """The result of one tool call as the model will read it.

    ``error_kind`` says which way the call failed when ``is_error`` is set.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    content: str
    is_error: bool = False
    duration_s: float = 0.0
    error_kind: ToolErrorKind | None = None


def serialize_result(value: object) -> str:
    """Render a return value as text: str as is, models and containers as JSON, else ``str``."""
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, dict | list | tuple):
        try:
            return to_json(value).decode()
        except PydanticSerializationError:
            return str(value)
    return str(value)


class Tool:
    """A Python function (sync or async) exposed to a model via OpenAI function calling.

    Build one with ``Tool.from_function``. The parameters' JSON Schema comes from the type
    hints through pydantic; ``Annotated[T, "text"]`` or ``Field(description=...)`` describe a
    parameter.
    """

    __slots__ = ("_plan", "description", "function", "is_async", "name", "timeout")

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str,
        description: str,
        plan: ArgumentsPlan,
        timeout: float | None = None,
    ) -> None:
        self.function = function
        self.name = name
        self.description = description
        self.is_async = _is_async_callable(function)
        self._plan = plan
        self.timeout = timeout

    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> Tool:
        """Wrap ``function``; ``name`` defaults to its ``__name__``, ``description`` to its doc.

        ``timeout`` (seconds) bounds every call of the tool, also where the caller gives
        none (a run's tool calls). Raises ConfigError when the name is not a valid OpenAI
        function name, the timeout is not positive, or the signature cannot be turned into
        a JSON Schema.
        """
        if not callable(function):
            raise ConfigError(f"a tool must be callable, got {type(function).__name__}")
        tool_name = name if name is not None else _default_name(function)
        if not _NAME_RE.match(tool_name):
            raise ConfigError(
                f"invalid tool name {tool_name!r}: use 1-64 letters, digits, '_' or '-'",
                where=function_location(function),
            )
        if timeout is not None and not timeout > 0:
            raise ConfigError(
                f"tool {tool_name!r}: timeout must be a positive number of seconds, "
                f"got {timeout!r}",
                where=function_location(function),
            )
        plan = build_arguments_plan(function, tool_name)
        text = description if description is not None else describe_callable(function)
        return cls(function, name=tool_name, description=text, plan=plan, timeout=timeout)

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON Schema of the arguments object (a fresh copy)."""
        return json.loads(json.dumps(self._plan.parameters))  # type: ignore[no-any-return]

    @property
    def arguments_model(self) -> type[BaseModel]:
        """The pydantic model that validates the arguments."""
        return self._plan.model

    def to_openai(self) -> dict[str, Any]:
        """Return the Chat Completions ``tools`` entry for this tool."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def __repr__(self) -> str:
        kind = "async" if self.is_async else "sync"
        return f"Tool(name={self.name!r}, {kind}, function={function_location(self.function)})"

    async def call(
        self,
        arguments_json: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a scope cannot abandon a sync thread
    ) -> ToolOutcome:
        """Validate ``arguments_json`` and run the function; failures become error outcomes.

        The call is bounded by ``timeout`` and the tool's own, whichever is shorter.
        """
        started = time.perf_counter()
        limits = [limit for limit in (timeout, self.timeout) if limit is not None]
        outcome = await self._call(arguments_json, min(limits) if limits else None)
        return outcome.model_copy(update={"duration_s": time.perf_counter() - started})

    async def _call(self, arguments_json: str, limit: float | None) -> ToolOutcome:
        parsed = self._parse(arguments_json)
        if isinstance(parsed, ToolOutcome):
            return parsed
        args, kwargs = parsed
        try:
            if self.is_async:
                return await self._run_async(args, kwargs, limit)
            return await self._run_sync(args, kwargs, limit)
        except RUN_CONTROL:
            raise
        except Exception as exc:
            return self._error("raised", f"tool {self.name!r} raised {_describe(exc)}")

    def _parse(self, arguments_json: str) -> ToolOutcome | tuple[list[Any], dict[str, Any]]:
        # Models send "" (and sometimes null) for functions without parameters.
        text = arguments_json.strip() if isinstance(arguments_json, str) else arguments_json
        try:
            data = json.loads(text) if text else {}
        except (TypeError, ValueError) as exc:
            return self._invalid(f"the arguments are not valid JSON ({exc})")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            return self._invalid(f"the arguments must be a JSON object, got {_json_type(data)}")
        try:
            validated = self._plan.model.model_validate(data)
        except ValidationError as exc:
            return self._invalid("; ".join(_format_error(e) for e in exc.errors()))
        return self._plan.to_call(validated)

    async def _run_async(
        self, args: list[Any], kwargs: dict[str, Any], limit: float | None
    ) -> ToolOutcome:
        return await self._finish(self.function(*args, **kwargs), limit)

    async def _run_sync(
        self, args: list[Any], kwargs: dict[str, Any], limit: float | None
    ) -> ToolOutcome:
        started = time.perf_counter()
        future = _start_in_thread(self.function, args, kwargs)
        try:
            # shield: on timeout the future must stay pending so that we can tell our
            # timeout from a TimeoutError the tool raised itself.
            result = await asyncio.wait_for(asyncio.shield(future), limit)
        except TimeoutError:
            if not future.done():
                return self._timed_out(limit, "its worker thread was abandoned and may still run")
            result = future.result()  # the tool's own TimeoutError: reported as raised
        finally:
            future.cancel()  # no-op once settled; otherwise drops the abandoned thread's result
        if inspect.isawaitable(result):  # a sync callable that handed back a coroutine
            remaining = None if limit is None else limit - (time.perf_counter() - started)
            return await self._finish(
                result, max(remaining, 0.0) if remaining is not None else None
            )
        return ToolOutcome(content=serialize_result(result))

    async def _finish(self, awaitable: Awaitable[Any], limit: float | None) -> ToolOutcome:
        try:
            async with asyncio.timeout(limit) as scope:
                result = await awaitable
        except TimeoutError:
            if not scope.expired():
                raise  # the tool's own TimeoutError: reported as raised
            return self._timed_out(limit, "the call was cancelled")
        return ToolOutcome(content=serialize_result(result))

    def _timed_out(self, limit: float | None, what: str) -> ToolOutcome:
        return self._error(
            "timeout", f"tool {self.name!r} timed out after {limit or 0:g} s; {what}"
        )

    def _invalid(self, detail: str) -> ToolOutcome:
        schema = json.dumps(self._plan.parameters, separators=(",", ":"))
        return self._error(
            "invalid_arguments",
            f"invalid arguments for tool {self.name!r}: {detail}. Expected schema: {schema}",
        )

    @staticmethod
    def _error(kind: ToolErrorKind, message: str) -> ToolOutcome:
        return ToolOutcome(content=f"Error: {message}", is_error=True, error_kind=kind)


def _start_in_thread(
    function: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]
) -> asyncio.Future[Any]:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(outcome: BaseException | None, value: Any) -> None:
        if future.done():
            return
        if outcome is None:
            future.set_result(value)
        else:
            future.set_exception(outcome)

    def work() -> None:
        try:
            value = context.run(function, *args, **kwargs)
        except BaseException as exc:  # handed to the awaiting task, which decides
            outcome: BaseException | None = exc
            value = None
        else:
            outcome = None
        with contextlib.suppress(RuntimeError):  # loop closed: the call was abandoned long ago
            loop.call_soon_threadsafe(settle, outcome, value)

    threading.Thread(target=work, name="flowagents-tool", daemon=True).start()
    return future


def _is_async_callable(function: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(function):
        return True
    call = getattr(function, "__call__", None)  # noqa: B004 - async __call__ on objects
    return call is not None and inspect.iscoroutinefunction(call)


def _default_name(function: Callable[..., Any]) -> str:
    target = function.func if isinstance(function, functools.partial) else function
    name = getattr(target, "__name__", None)
    return name if isinstance(name, str) else type(function).__name__


def _describe(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _json_type(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number"}
    return names.get(type(value), "a number")  # json.loads gives nothing else here


def _format_error(error: Any) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid"))
    text = f"field {location!r}: {message}" if location else message
    if error.get("type") not in {"missing", "extra_forbidden"} and "input" in error:
        shown = repr(error["input"])
        if len(shown) > _MAX_INPUT_REPR:
            shown = shown[: _MAX_INPUT_REPR - 3] + "..."
        text += f" (got {shown})"
    elif error.get("type") == "extra_forbidden":
        text += " (unknown argument)"
    return text
