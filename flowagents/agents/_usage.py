"""What an agent's model has cost: AutoGen's per-agent usage summaries.

Counted by the agent's replies and by the summaries its model writes, in every run, kept on
the agent (``UsageTotals``) from its first model call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowagents.runtime._context import UsageTotals

_MODES = ("actual", "total")


def summaries(totals: UsageTotals | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(actual, total): usage without and with cache hits; None where nothing was spent."""
    if totals is None:
        return None, None
    cost = totals.to_cost()
    actual = cost["usage_excluding_cached_inference"]
    return (actual if len(actual) > 1 else None), cost["usage_including_cached_inference"]


def usage_report(totals: UsageTotals | None, mode: str | list[str]) -> str:
    """The text of ``print_usage_summary``, as AutoGen prints it."""
    modes = [mode] if isinstance(mode, str) else list(mode)
    if not modes or len(modes) > 2 or any(one not in _MODES for one in modes):
        choices = '"actual", "total", ["actual", "total"]'
        raise ValueError(f"Invalid mode: {mode}, choose from {choices}")
    actual, total = summaries(totals)
    if total is None:
        return 'No usage summary. Please call "create" first.'
    lines = ["-" * 100]
    if "actual" in modes:
        lines += _block(actual, "excluding")
    if "total" in modes:
        if "actual" in modes:
            lines.append("")
        if "actual" in modes and actual == total:
            lines.append(
                "All completions are non-cached: the total cost with cached completions is the "
                "same as actual cost."
            )
        else:
            lines += _block(total, "including")
    lines.append("-" * 100)
    return "\n".join(lines)


def _block(summary: dict[str, Any] | None, word: str) -> list[str]:
    if summary is None:
        return ["No actual cost incurred (all completions are using cache)."]
    lines = [
        f"Usage summary {word} cached usage: ",
        f"Total cost: {round(summary['total_cost'], 5)}",
    ]
    for model, counts in summary.items():
        if model != "total_cost":
            lines.append(
                f"* Model '{model}': cost: {round(counts['cost'], 5)}, prompt_tokens: "
                f"{counts['prompt_tokens']}, completion_tokens: {counts['completion_tokens']}, "
                f"total_tokens: {counts['total_tokens']}"
            )
    return lines
