"""What the compiler reports: findings with a stable code, a severity and a source position."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from flowagents.errors import SourceLocation

Severity = Literal["error", "warning"]

#: Every finding code, its severity and one line on its rule (the checks' docstrings say more).
CODES: dict[str, tuple[Severity, str]] = {
    "FG001": ("error", "a name (edge end, start, terminal) is not a declared node"),
    "FG002": ("error", "two nodes share a name"),
    "FG003": ("error", "the graph has no start node"),
    "FG004": ("warning", "a node cannot be reached from the start"),
    "FG005": ("error", "a node cannot reach any end (trap)"),
    "FG006": ("warning", "a cycle has no unconditional exit and no bound"),
    "FG007": ("error", "an out-edge can never be taken: an earlier unconditional edge decides"),
    "FG008": ("error", "a join node is fed by no parallel fan-out"),
    "FG009": ("error", "a subgroup includes itself (file include cycle)"),
    "FG010": ("error", "a self-loop on a node that does not allow repeats"),
    "FG011": ("warning", "a node has no edges at all"),
    "FG012": ("error", "dynamic choice without a selector model or a non-model fallback"),
    "FG013": ("error", "a model name is not declared in models"),
    "FG014": ("error", "the same edge is declared twice"),
    "FG015": ("warning", "a counter guard names no node or edge of the graph"),
    "FG016": ("error", "a subgroup graph file cannot be found"),
    "FG017": ("warning", "the graph has no end: only keyword, max_turns or budget stop it"),
    "FG018": ("warning", "a fan-out branch can never reach a join node"),
    "FG019": ("error", "a reflection summary has no model (summary_model or selector.model)"),
}


class Finding(BaseModel):
    """One thing the compiler noticed about a graph."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    code: str
    severity: Severity
    message: str
    location: SourceLocation | None = None
    graph: str = ""
    node: str | None = None

    def __str__(self) -> str:
        where = str(self.location) if self.location is not None else f"<{self.graph or 'graph'}>"
        return f"{where}: {self.severity} {self.code} {self.message}"

    def to_json(self) -> dict[str, Any]:
        """Return a plain dict for ``--format json``."""
        loc = self.location
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": loc.file if loc else None,
            "line": loc.line or None if loc else None,  # None: not known
            "column": loc.column or None if loc else None,
            "graph": self.graph,
            "node": self.node,
        }
