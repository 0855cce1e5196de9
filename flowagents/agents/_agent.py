"""Agent: the name and description every participant of a conversation has."""

from __future__ import annotations

from flowagents.errors import ConfigError


class Agent:
    """Base class of everything that can take part in a conversation."""

    def __init__(self, name: str, description: str = "") -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"an agent needs a non-empty name, got {name!r}")
        self._name = name
        self._description = description

    @property
    def name(self) -> str:
        """The agent's unique name in a conversation."""
        return self._name

    @property
    def description(self) -> str:
        """What the agent does, as shown to a speaker selector."""
        return self._description

    @description.setter
    def description(self, value: str) -> None:
        self._description = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r})"
