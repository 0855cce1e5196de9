"""Pass 1, load: YAML text -> GraphSpec, keeping the file:line:col of every spec path.

PyYAML's ``compose`` gives nodes that carry ``start_mark``; we walk them once to map each
path (``("edges", 2, "from")``) to its position, then construct plain data and validate it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import yaml
from pydantic import ValidationError

from flowagents.errors import GraphLoadError, SourceLocation
from flowagents.graph._findings import Finding
from flowagents.graph._spec import GraphSpec

SpecPath: TypeAlias = tuple[str | int, ...]


class SourceMap:
    """Where each spec path was written; ``locate`` falls back to the nearest parent.

    ``positions`` are where values start; ``keys`` where the key of a mapping entry is
    written (a file's map has both, a builder's only positions).
    """

    __slots__ = ("_keys", "_positions", "_prefix", "file")

    def __init__(
        self,
        file: str | None,
        positions: Mapping[SpecPath, SourceLocation] | None = None,
        prefix: SpecPath = (),
        keys: Mapping[SpecPath, SourceLocation] | None = None,
    ) -> None:
        self.file = file
        self._positions: Mapping[SpecPath, SourceLocation] = positions or {}
        self._prefix = prefix
        self._keys: Mapping[SpecPath, SourceLocation] = keys or {}

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
        return SourceMap(self.file, self._positions, self._prefix + tuple(prefix), self._keys)

    def _written(self, loc: SpecPath, path: SpecPath) -> SpecPath:
        """The longest written path made of ``loc``'s parts in order (union tags skipped).

        Between equally long ones, the one that ends with the last part: a union tag may
        also be a key (``contains`` in ``guard: {contains: X, matches: Y}``).
        """
        if not loc:
            return path
        part, rest = loc[0], loc[1:]
        skipped = self._written(rest, path)
        if (*self._prefix, *path, part) not in self._positions:
            return skipped
        taken = self._written(rest, (*path, part))
        last = loc[-1]
        return max(taken, skipped, key=lambda p: (len(p), bool(p) and p[-1] == last))

    def resolve_loc(
        self, loc: Sequence[str | int], *, at_key: bool = False
    ) -> SourceLocation | None:
        """Map a pydantic error ``loc`` (with union tags in it) to a position.

        With ``at_key``, an error about a mapping entry (an unknown key) is located at its
        key rather than at its value, where the key's position is known.
        """
        path = self._written(tuple(loc), ())
        if at_key and loc and path and path[-1] == loc[-1]:
            key = self._keys.get((*self._prefix, *path))
            if key is not None:
                return key
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
    keys: dict[SpecPath, SourceLocation] = {}
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise GraphLoadError("the file is empty", where=SourceLocation(file, 1, 1))
        _walk(node, (), _Marks(file, positions, keys), set())
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
    smap = SourceMap(file, positions, keys=keys)
    return validate_spec(data, smap), smap


def validate_spec(data: Mapping[str, Any], smap: SourceMap) -> GraphSpec:
    """Validate plain data against the schema, reporting every violation with its position.

    The GraphLoadError holds one finding per violation (``findings``), in file order; its
    message lists them all, and its ``where`` is the first one's.
    """
    try:
        return GraphSpec.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        findings = [
            Finding(
                code=GraphLoadError.code,
                severity="error",
                message="schema violation: {}: {}".format(
                    _dotted(error["loc"]), error["msg"].removeprefix("Value error, ")
                ),
                location=smap.resolve_loc(error["loc"], at_key=error["type"] == "extra_forbidden"),
            )
            for error in errors
            if not _other_branch_fits(error["loc"], errors)
        ]
        findings.sort(key=_position)
        first, *more = findings
        message = first.message + "".join(f"\n  {f}" for f in more)
        raise GraphLoadError(message, where=first.location, findings=tuple(findings)) from None


def _other_branch_fits(loc: Sequence[str | int], errors: Sequence[Any]) -> bool:
    """A union branch's type mismatch, when another branch's errors lie deeper: noise.

    ``graph: {start: 1}`` fails ``str`` only because it is a mapping, and ``GraphSpec`` for
    what is wrong inside it; only the latter is a violation to report.
    """
    if not loc or loc[-1] not in _UNION_TAGS:
        return False
    parent = tuple(loc[:-1])
    return any(
        len(other) > len(loc) and tuple(other[: len(parent)]) == parent
        and other[len(parent)] != loc[-1]
        for other in (error["loc"] for error in errors)
    )


def _position(finding: Finding) -> tuple[int, int]:
    location = finding.location
    return (location.line, location.column) if location is not None else (0, 0)


def _dotted(loc: Sequence[str | int]) -> str:
    """Join an error ``loc`` for people, leaving out pydantic's union tags."""
    parts = [
        str(part)
        for index, part in enumerate(loc)
        if part not in _UNION_TAGS and (index + 1 == len(loc) or loc[index + 1] != part)
    ]
    return ".".join(parts) or "(top level)"


_UNION_TAGS = frozenset({"GraphSpec", "str", "bool", "dict[str,any]"})


@dataclass(frozen=True, slots=True)
class _Marks:
    """What ``_walk`` collects: where each value, and each mapping key, starts."""

    file: str
    values: dict[SpecPath, SourceLocation]
    keys: dict[SpecPath, SourceLocation]

    def at(self, mark: yaml.Mark) -> SourceLocation:
        return SourceLocation(self.file, mark.line + 1, mark.column + 1)


def _walk(node: yaml.Node, path: SpecPath, marks: _Marks, active: set[int]) -> None:
    marks.values.setdefault(path, marks.at(node.start_mark))
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
            marks.keys.setdefault((*path, key), marks.at(key_node.start_mark))
            _walk(value_node, (*path, key), marks, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), marks, active)
    active.discard(id(node))
