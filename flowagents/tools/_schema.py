"""Turn a Python signature into a pydantic arguments model and its JSON Schema.

pydantic does all the type work: each parameter becomes one field of a model built with
``create_model``; the JSON Schema a model sees is that model's schema. Fields get private
names (``p0``, ``p1``, ...) and the parameter name as alias, so parameters called ``schema``,
``json`` or ``model_name`` neither shadow ``BaseModel`` attributes nor hit pydantic's
protected namespaces.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue

from flowagents.errors import ConfigError

__all__ = ["ArgumentsPlan", "build_arguments_plan", "describe_callable", "function_location"]


@dataclass(frozen=True, slots=True)
class ArgumentsPlan:
    """How validated arguments map back onto a call of the function.

    ``fields`` pairs each private field name with its parameter name, in signature order;
    the first ``positional_only`` of them must be passed by position. ``extra_kwargs`` when
    the function takes ``**kwargs`` (unknown arguments are then passed through).
    """

    model: type[BaseModel]
    parameters: dict[str, Any]
    fields: tuple[tuple[str, str], ...]
    positional_only: int
    extra_kwargs: bool

    def to_call(self, validated: BaseModel) -> tuple[list[Any], dict[str, Any]]:
        """Return the positional and keyword arguments for the function."""
        # getattr keeps nested pydantic models as instances (model_dump would flatten them).
        values = [(param, getattr(validated, field)) for field, param in self.fields]
        args = [value for _, value in values[: self.positional_only]]
        kwargs = dict(values[self.positional_only :])
        if self.extra_kwargs and validated.model_extra:
            kwargs.update(validated.model_extra)
        return args, kwargs


class _ToolJsonSchema(GenerateJsonSchema):
    """Leaves out per-field titles: they repeat the property name and cost tokens."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def function_location(func: Callable[..., Any]) -> str:
    """``module.qualname (file:line)`` for error messages about a tool's definition."""
    target = inspect.unwrap(func)
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    label = f"{getattr(target, '__module__', None) or '?'}.{qualname}"
    code = getattr(target, "__code__", None)
    if code is not None:
        return f"{label} ({code.co_filename}:{code.co_firstlineno})"
    return label


def describe_callable(func: Callable[..., Any]) -> str:
    """Return the first paragraph of the callable's docstring (empty when it has none)."""
    if isinstance(func, functools.partial):
        return describe_callable(func.func)
    if inspect.isroutine(func) or inspect.isclass(func):
        doc = inspect.getdoc(func)
    else:  # a callable object: its class says what it does
        doc = inspect.getdoc(type(func))
    if not doc:
        return ""
    return doc.split("\n\n", 1)[0].strip()


def _split_annotation(annotation: Any) -> tuple[Any, list[Any], str | None]:
    """Split into base type, non-string metadata and the first string (the description)."""
    if typing.get_origin(annotation) is not Annotated:
        return annotation, [], None
    base, *metadata = typing.get_args(annotation)
    description = next((m for m in metadata if isinstance(m, str)), None)
    return base, [m for m in metadata if not isinstance(m, str)], description


def _resolve_hints(func: Callable[..., Any], where: str) -> dict[str, Any]:
    target: Any = func
    while isinstance(target, functools.partial):  # the signature already drops bound args
        target = target.func
    if not (inspect.isroutine(target) or inspect.isclass(target)):
        target = type(target).__call__  # a callable object: its __call__ has the hints
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception as exc:  # NameError for unresolvable forward refs, TypeError for others
        raise ConfigError(
            f"cannot resolve the type hints of the tool function: {type(exc).__name__}: {exc}",
            where=where,
        ) from exc


def build_arguments_plan(func: Callable[..., Any], name: str) -> ArgumentsPlan:
    """Build the arguments model of ``func``; raise ConfigError if it cannot be described.

    Unannotated parameters accept any JSON value; ``*args`` is left out (a JSON object has no
    positional part); ``**kwargs`` lets unknown arguments through.
    """
    where = f"tool {name!r} ({function_location(func)})"
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cannot read the signature: {exc}", where=where) from exc
    hints = _resolve_hints(func, where)
    definitions: dict[str, Any] = {}
    fields: list[tuple[str, str]] = []
    positional_only = 0
    extra_kwargs = False
    for index, parameter in enumerate(signature.parameters.values()):
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            extra_kwargs = True
            continue
        if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            positional_only += 1
        base, metadata, description = _split_annotation(hints.get(parameter.name, Any))
        field_name = f"p{index}"
        # Order matters: later metadata wins, so an explicit Field(description=...) beats
        # the plain string, and the alias always applies.
        described = [Field(description=description)] if description is not None else []
        alias = Field(alias=parameter.name)
        annotation = Annotated[(base, *described, *metadata, alias)]  # type: ignore[valid-type]
        default = parameter.default
        info: Any = ... if default is inspect.Parameter.empty else default
        definitions[field_name] = (annotation, info)  # a FieldInfo default is merged
        fields.append((field_name, parameter.name))
    config = ConfigDict(
        extra="allow" if extra_kwargs else "forbid",
    )
    try:
        model = create_model(f"{name}_arguments", __config__=config, **definitions)
        parameters = model.model_json_schema(by_alias=True, schema_generator=_ToolJsonSchema)
    except Exception as exc:  # pydantic raises several types for unsupported annotations
        raise ConfigError(
            f"cannot build a JSON schema for the parameters: {type(exc).__name__}: {exc}",
            where=where,
        ) from exc
    return ArgumentsPlan(
        model=model,
        parameters=_clean_schema(parameters),
        fields=tuple(fields),
        positional_only=positional_only,
        extra_kwargs=extra_kwargs,
    )


def _clean_schema(schema: JsonSchemaValue) -> dict[str, Any]:
    schema = dict(schema)
    schema.pop("title", None)
    schema.setdefault("properties", {})
    return schema
