"""Pass 1, load: YAML text -> GraphSpec, keeping the file:line:col of every spec path.

PyYAML's ``compose`` gives nodes that carry ``start_mark``; we walk them once to map each
path (``("edges", 2, "from")``) to its position, then construct plain data and validate it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import yaml
from pydantic import ValidationError

from flowagents.errors import GraphLoadError, SourceLocation
from flowagents.graph._spec import GraphSpec

SpecPath: TypeAlias = tuple[str | int, ...]


class SourceMap:
    """Where each spec path was written; ``locate`` falls back to the nearest parent."""

    __slots__ = ("_positions", "_prefix", "file")

    def __init__(
        self,
        file: str | None,
        positions: Mapping[SpecPath, SourceLocation] | None = None,
        prefix: SpecPath = (),
    ) -> None:
        self.file = file
        self._positions: Mapping[SpecPath, SourceLocation] = positions or {}
        self._prefix = prefix

    def locate(self, path: SpecPath) -> SourceLocation | None:
        """Return the position of ``path``, or of its nearest written parent."""
        full = self._prefix + tuple(path)
        for end in range(len(full), -1, -1):
            found = self._positions.get(full[:end])
            if found is not None:
                return found
        return SourceLocation(self.file) if self.file else None

    def sub(self, prefix: SpecPath) -> SourceMap:
        """Return a view for a nested inline graph written at ``prefix``."""
        return SourceMap(self.file, self._positions, self._prefix + tuple(prefix))

    def resolve_loc(self, loc: Sequence[str | int]) -> SourceLocation | None:
        """Map a pydantic error ``loc`` (with union tags in it) to a position."""
        path: SpecPath = ()
        for part in loc:
            if (*self._prefix, *path, part) in self._positions:
                path = (*path, part)
        return self.locate(path)


def display_path(path: Path) -> str:
    """Show a path as a user would type it: relative to the working directory when shorter."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return relative if len(relative) < len(str(path)) else str(path)


def load_spec_file(path: str | os.PathLike[str]) -> tuple[GraphSpec, SourceMap]:
    """Read and validate one graph file, with its source map."""
    file = display_path(Path(path))
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GraphLoadError(f"cannot read graph file: {exc}", where=SourceLocation(file)) from exc
    return load_spec_text(text, file)


def load_spec_text(text: str, file: str = "<string>") -> tuple[GraphSpec, SourceMap]:
    """Parse and validate YAML text; every error names ``file:line:col``."""
    positions: dict[SpecPath, SourceLocation] = {}
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise GraphLoadError("the file is empty", where=SourceLocation(file, 1, 1))
        _walk(node, (), positions, file, set())
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = SourceLocation(file)
        if mark is not None:
            where = SourceLocation(file, mark.line + 1, mark.column + 1)
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise GraphLoadError(f"malformed YAML: {problem}", where=where) from None
    except yaml.YAMLError as exc:
        raise GraphLoadError(f"malformed YAML: {exc}", where=SourceLocation(file)) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise GraphLoadError(
            "a graph file must hold a mapping (name:, agents:, edges:, ...)",
            where=positions.get((), SourceLocation(file)),
        )
    smap = SourceMap(file, positions)
    return validate_spec(data, smap), smap


def validate_spec(data: Mapping[str, Any], smap: SourceMap) -> GraphSpec:
    """Validate plain data against the schema, reporting every violation with its position."""
    try:
        return GraphSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            where = smap.resolve_loc(error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            problems.append((where, f"{_dotted(error['loc'])}: {message}"))
        first_where, first_message = problems[0]
        more = "".join(f"\n  {where}: {message}" for where, message in problems[1:])
        message = f"schema violation: {first_message}{more}"
        raise GraphLoadError(message, where=first_where) from None


def _dotted(loc: Sequence[str | int]) -> str:
    """Join an error ``loc`` for people, leaving out pydantic's union tags."""
    parts = [
        str(part)
        for index, part in enumerate(loc)
        if part not in _UNION_TAGS and (index + 1 == len(loc) or loc[index + 1] != part)
    ]
    return ".".join(parts) or "(top level)"


_UNION_TAGS = frozenset({"GraphSpec", "str", "bool", "dict[str,any]"})


def _walk(
    node: yaml.Node,
    path: SpecPath,
    out: dict[SpecPath, SourceLocation],
    file: str,
    active: set[int],
) -> None:
    mark = node.start_mark
    out.setdefault(path, SourceLocation(file, mark.line + 1, mark.column + 1))
    if id(node) in active:  # a recursive alias: positions below are already known
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key == "<<":
                continue
            if key in seen:
                first = seen[key].start_mark
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key {key!r} (first at line {first.line + 1})",
                    problem_mark=key_node.start_mark,
                )
            seen[key] = key_node
            _walk(value_node, (*path, key), out, file, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), out, file, active)
    active.discard(id(node))
