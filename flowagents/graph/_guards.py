r"""Edge guards: plain data with ``evaluate(ctx) -> bool``, never ``eval`` of text from a file.

In a file a guard is a mapping whose one distinctive key names its kind::

    {contains: APPROVED}            {matches: "score: [89]\\d"}     {tool_call: search}
    {code: failed}                  {counter: "writer->executor", reached: 3}
    {not: {...}}    {all: [...]}    {any: [...]}    {python: "my_pkg.guards:is_done"}

``python`` is the one guard that runs user code; writing it is the opt-in, and the function
is imported only when the guard is first evaluated (never while a file is checked).
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal, Protocol, TypeAlias

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from flowagents.errors import SpecError
from flowagents.messages import Message

REFERENCE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"


class GuardContext(Protocol):
    """What a guard may look at: the last message, counters and the last code result."""

    @property
    def last_message(self) -> Message | None: ...

    @property
    def counters(self) -> Mapping[str, int]:
        """Visits per node name, and traversals per edge keyed ``"src->dst"``."""
        ...

    @property
    def last_code_exit_code(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class SimpleGuardContext:
    """A plain GuardContext, for tests and for callers without a runtime."""

    last_message: Message | None = None
    counters: Mapping[str, int] = field(default_factory=dict)
    last_code_exit_code: int | None = None


class _GuardBase(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )
    tag: ClassVar[str]

    def evaluate(self, ctx: GuardContext) -> bool:
        """Whether the guarded edge may be taken in this context."""
        raise NotImplementedError

    def counter_names(self) -> Iterator[str]:
        """Counter keys this guard reads (so the compiler can check they exist)."""
        return iter(())

    def __invert__(self) -> NotGuard:
        return NotGuard(not_=self)

    def __and__(self, other: _GuardBase) -> AllGuard:
        return AllGuard(all=[self, other])

    def __or__(self, other: _GuardBase) -> AnyGuard:
        return AnyGuard(any=[self, other])


def _text(ctx: GuardContext) -> str:
    return ctx.last_message.text if ctx.last_message is not None else ""


class ContainsGuard(_GuardBase):
    """The last message's text contains ``contains``."""

    tag = "contains"
    contains: str
    """Text to look for in the last message."""
    ignore_case: bool = False
    """Compare without regard to case."""

    def evaluate(self, ctx: GuardContext) -> bool:
        if self.ignore_case:
            return self.contains.casefold() in _text(ctx).casefold()
        return self.contains in _text(ctx)


class MatchesGuard(_GuardBase):
    """The last message's text matches the regular expression ``matches`` (re.search)."""

    tag = "matches"
    matches: str
    """A Python regular expression, searched anywhere in the text."""
    ignore_case: bool = False
    """Match without regard to case."""

    @field_validator("matches")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
        return value

    def evaluate(self, ctx: GuardContext) -> bool:
        flags = re.IGNORECASE if self.ignore_case else 0
        return re.search(self.matches, _text(ctx), flags) is not None


class ToolCallGuard(_GuardBase):
    """The last message asks for a tool call named ``tool_call``."""

    tag = "tool_call"
    tool_call: str
    """Name of the tool."""

    def evaluate(self, ctx: GuardContext) -> bool:
        message = ctx.last_message
        if message is None or not message.tool_calls:
            return False
        return any(call.name == self.tool_call for call in message.tool_calls)


class CodeGuard(_GuardBase):
    """The last code execution failed (exit code != 0) or succeeded (exit code 0)."""

    tag = "code"
    code: Literal["failed", "succeeded"]
    """Which outcome passes; with no code run yet, neither does."""

    def evaluate(self, ctx: GuardContext) -> bool:
        exit_code = ctx.last_code_exit_code
        if exit_code is None:
            return False
        return (exit_code == 0) == (self.code == "succeeded")


class CounterGuard(_GuardBase):
    """A counter (visits of a node, or traversals of an edge ``"src->dst"``) reached N."""

    tag = "counter"
    counter: str
    """A node name, or an edge as ``"src->dst"``."""
    reached: int = Field(ge=0)
    """Passes when the counter is at least this."""

    def evaluate(self, ctx: GuardContext) -> bool:
        return ctx.counters.get(self.counter, 0) >= self.reached

    def counter_names(self) -> Iterator[str]:
        yield self.counter


class NotGuard(_GuardBase):
    """Passes when the inner guard does not."""

    tag = "not"
    not_: Guard = Field(alias="not")
    """The guard to negate."""

    def evaluate(self, ctx: GuardContext) -> bool:
        return not self.not_.evaluate(ctx)

    def counter_names(self) -> Iterator[str]:
        return self.not_.counter_names()


class AllGuard(_GuardBase):
    """Passes when every inner guard passes (and when there is none)."""

    tag = "all"
    all: list[Guard]
    """The guards that must all pass."""

    def evaluate(self, ctx: GuardContext) -> bool:
        return all(guard.evaluate(ctx) for guard in self.all)

    def counter_names(self) -> Iterator[str]:
        for guard in self.all:
            yield from guard.counter_names()


class AnyGuard(_GuardBase):
    """Passes when at least one inner guard passes."""

    tag = "any"
    any: list[Guard]
    """The guards of which one must pass."""

    def evaluate(self, ctx: GuardContext) -> bool:
        return any(guard.evaluate(ctx) for guard in self.any)

    def counter_names(self) -> Iterator[str]:
        for guard in self.any:
            yield from guard.counter_names()


class PythonGuard(_GuardBase):
    """Calls the function ``module:function`` with the context; user code, opted into."""

    tag = "python"
    python: str = Field(pattern=REFERENCE_PATTERN)
    """Import path of a function ``(ctx) -> bool``, as ``package.module:function``."""

    def evaluate(self, ctx: GuardContext) -> bool:
        return bool(_resolve(self.python)(ctx))


@functools.lru_cache(maxsize=256)
def _resolve(reference: str) -> Callable[[GuardContext], Any]:
    module_name, _, attribute = reference.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"python guard {reference!r} cannot be imported: {exc}") from exc
    if not callable(function):
        raise SpecError(f"python guard {reference!r} is not callable")
    return function  # type: ignore[no-any-return]


_GUARD_TYPES: dict[str, type[_GuardBase]] = {
    cls.tag: cls
    for cls in (
        ContainsGuard,
        MatchesGuard,
        ToolCallGuard,
        CodeGuard,
        CounterGuard,
        NotGuard,
        AllGuard,
        AnyGuard,
        PythonGuard,
    )
}
_KEY_TAGS = {**{tag: tag for tag in _GUARD_TYPES}, "not_": "not"}


def _guard_tag(value: Any) -> str | None:
    """Pick the guard kind from its distinctive key (or from the instance)."""
    if isinstance(value, _GuardBase):
        return value.tag
    if isinstance(value, Mapping):
        for key in value:
            if key in _KEY_TAGS:
                return _KEY_TAGS[key]
    return None


Guard: TypeAlias = Annotated[
    Annotated[ContainsGuard, Tag("contains")]
    | Annotated[MatchesGuard, Tag("matches")]
    | Annotated[ToolCallGuard, Tag("tool_call")]
    | Annotated[CodeGuard, Tag("code")]
    | Annotated[CounterGuard, Tag("counter")]
    | Annotated[NotGuard, Tag("not")]
    | Annotated[AllGuard, Tag("all")]
    | Annotated[AnyGuard, Tag("any")]
    | Annotated[PythonGuard, Tag("python")],
    Discriminator(
        _guard_tag,
        custom_error_type="guard_kind",
        custom_error_message="a guard needs one of the keys: " + ", ".join(sorted(_GUARD_TYPES)),
    ),
]

for _cls in (NotGuard, AllGuard, AnyGuard):
    _cls.model_rebuild()
