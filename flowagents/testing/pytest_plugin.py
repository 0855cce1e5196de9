"""pytest plugin: the ``loopback_server`` fixture.

Enable it with ``pytest_plugins = ["flowagents.testing.pytest_plugin"]`` in ``conftest.py``.
Options for the server come from the ``loopback`` marker, e.g.
``@pytest.mark.loopback(replies=["hi"], profile="no_json_schema", api_key="k")``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flowagents.testing._loopback import LoopbackServer


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``loopback`` marker."""
    config.addinivalue_line(
        "markers", "loopback(**options): options for the loopback_server fixture"
    )


@pytest.fixture
def loopback_server(request: pytest.FixtureRequest) -> Iterator[LoopbackServer]:
    """Start a LoopbackServer for the test and stop it after; see the ``loopback`` marker."""
    marker = request.node.get_closest_marker("loopback")
    options = dict(marker.kwargs) if marker is not None else {}
    with LoopbackServer(**options) as server:
        yield server
