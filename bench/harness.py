"""The benchmark harness: workloads, alternating repetitions, medians, ratios, a table, JSON.

A workload runs on several frameworks; each repetition runs every framework once, in turn
(flowagents, peer, flowagents, peer, ...), so that drifting machine load hits them alike.
Targets are checked on the medians: a ratio to a peer measured in the same run, or an
absolute bound.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict


class Measurement(TypedDict):
    """One repetition of one workload on one framework."""

    workload: str
    framework: str
    metrics: dict[str, float]
    details: dict[str, Any]


Runner = Callable[..., Measurement]


@dataclass(frozen=True)
class Metric:
    """A figure a workload reports; lower is better."""

    name: str
    unit: str
    label: str


@dataclass(frozen=True)
class Target:
    """A bound on flowagents' median: ``limit`` times a peer's median, or ``limit`` itself."""

    metric: str
    limit: float
    peer: str | None = None

    def describe(self) -> str:
        return f"<= {self.limit:g}x {self.peer}" if self.peer else f"<= {self.limit:g}"


@dataclass(frozen=True)
class Workload:
    """A named benchmark: how to run it on each framework, at full and at smoke size."""

    name: str
    title: str
    metrics: tuple[Metric, ...]
    runners: dict[str, Runner]
    default: dict[str, Any] = field(default_factory=dict)
    smoke: dict[str, Any] = field(default_factory=dict)
    targets: tuple[Target, ...] = ()
    needs: dict[str, str] = field(default_factory=dict)
    """Framework -> module it needs; frameworks whose module is missing are skipped."""
    note: str = ""


def measurement(
    workload: str, framework: str, metrics: dict[str, float], **details: Any
) -> Measurement:
    """Build a Measurement."""
    return {"workload": workload, "framework": framework, "metrics": metrics, "details": details}


def available(workload: Workload, only: Sequence[str] | None = None) -> list[str]:
    """The workload's frameworks that can run here (peer packages installed), in order."""
    names = [name for name in workload.runners if only is None or name in only]
    return [
        name
        for name in names
        if name not in workload.needs or importlib.util.find_spec(workload.needs[name]) is not None
    ]


class GcWatch:
    """Counts the garbage collections (per generation) and their time during a block.

    The block starts from a collected heap: garbage and allocation counts left by the set-up
    (or by the previous framework) are not collected on the block's clock.
    """

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._start = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            generation = info["generation"]
            self.counts[generation] += 1
            self.seconds[generation] += time.perf_counter() - self._start

    def __enter__(self) -> GcWatch:
        gc.collect()
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def summary(self) -> dict[str, Any]:
        return {
            "collections": list(self.counts),
            "ms": [round(s * 1e3, 2) for s in self.seconds],
        }


@dataclass
class Outcome:
    """Every repetition of a workload, and the medians and target verdicts."""

    workload: Workload
    runs: dict[str, list[Measurement]]

    def median(self, framework: str, metric: str) -> float | None:
        values = [m["metrics"][metric] for m in self.runs.get(framework, [])]
        return statistics.median(values) if values else None

    def verdicts(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for target in self.workload.targets:
            ours = self.median("flowagents", target.metric)
            if target.peer is None:
                value = ours
            else:
                theirs = self.median(target.peer, target.metric)
                value = None if ours is None or not theirs else ours / theirs
            status: Literal["met", "missed", "not measured"] = (
                "not measured" if value is None else "met" if value <= target.limit else "missed"
            )
            out.append(
                {
                    "metric": target.metric,
                    "target": target.describe(),
                    "value": value,
                    "status": status,
                }
            )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload.name,
            "title": self.workload.title,
            "note": self.workload.note,
            "metrics": {m.name: {"unit": m.unit, "label": m.label} for m in self.workload.metrics},
            "medians": {
                fw: {m.name: self.median(fw, m.name) for m in self.workload.metrics}
                for fw in self.runs
            },
            "targets": self.verdicts(),
            "runs": self.runs,
        }


def run_workload(
    workload: Workload,
    *,
    repeat: int,
    frameworks: Sequence[str] | None = None,
    size: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Outcome:
    """Run every available framework ``repeat`` times, alternating; keep every measurement."""
    names = available(workload, frameworks)
    params = {**workload.default, **(size or {})}
    runs: dict[str, list[Measurement]] = {name: [] for name in names}
    for index in range(repeat):
        for name in names:
            with GcWatch() as watch:
                result = workload.runners[name](**params)
            result["details"]["gc"] = watch.summary()
            runs[name].append(result)
            if progress is not None:
                shown = ", ".join(f"{k}={v:.4g}" for k, v in result["metrics"].items())
                progress(f"  {workload.name} [{index + 1}/{repeat}] {name}: {shown}")
    return Outcome(workload, runs)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def table(outcomes: Sequence[Outcome]) -> str:
    """The medians side by side, one row per workload metric, with ratios and targets."""
    frameworks: list[str] = []
    for outcome in outcomes:
        frameworks += [fw for fw in outcome.runs if fw not in frameworks]
    header = ["workload", "metric", *frameworks, "target", "flowagents", "status"]
    rows: list[list[str]] = []
    for outcome in outcomes:
        verdicts = {v["metric"]: v for v in outcome.verdicts()}
        for metric in outcome.workload.metrics:
            verdict = verdicts.get(metric.name)
            rows.append(
                [
                    outcome.workload.name,
                    f"{metric.label} ({metric.unit})",
                    *(_fmt(outcome.median(fw, metric.name)) for fw in frameworks),
                    verdict["target"] if verdict else "(report only)",
                    _fmt(verdict["value"]) if verdict else "",
                    verdict["status"] if verdict else "",
                ]
            )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
             for row in [header, *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    """Versions of Python and of every framework measured."""
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for package in ("flowagents", "pyautogen", "langgraph", "pydantic", "openai"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return {"python": sys.version.split()[0], "packages": versions}


def write_json(path: str, outcomes: Sequence[Outcome], command: str) -> None:
    """Write every measurement, median and verdict to ``path``."""
    data = {
        "command": command,
        "environment": environment(),
        "workloads": [outcome.to_json() for outcome in outcomes],
    }
    with open(path, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2, default=str)
        out.write("\n")
