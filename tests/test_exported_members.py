"""The public surface: ``flowagents.__all__`` is sorted, complete and importable."""

from __future__ import annotations

import flowagents


def test_all_is_sorted_and_importable() -> None:
    names = flowagents.__all__

    # isort style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    def group(name: str) -> tuple[int, str]:
        bare = name.strip("_")
        rank = 0 if bare.isupper() else 1 if bare[:1].isupper() else 2
        return rank, name

    assert names == sorted(names, key=group)
    for name in names:
        assert hasattr(flowagents, name), name


def test_every_public_attribute_is_exported() -> None:
    public = {
        name
        for name, value in vars(flowagents).items()
        if not name.startswith("_") and not isinstance(value, type(flowagents))
    }
    # Everything public is exported (the lazily imported OpenAIChatModel is not yet in vars).
    assert public <= set(flowagents.__all__)
    assert set(flowagents.__all__) - public <= {"__version__", "OpenAIChatModel"}
