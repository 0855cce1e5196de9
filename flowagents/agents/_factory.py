"""Building live agents and model clients from the data in a graph spec."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowagents.agents._assistant import AssistantAgent
from flowagents.agents._conversable import ConversableAgent
from flowagents.agents._user_proxy import UserProxyAgent
from flowagents.errors import ConfigError
from flowagents.models import ModelClient, ScriptedModel

if TYPE_CHECKING:
    from flowagents.graph import AgentSpec, ModelSpec


def import_reference(reference: str) -> Any:
    """Import ``package.module:attribute``; errors name the reference."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"{reference!r} is not of the form 'package.module:name'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import module {module_name!r} for {reference!r}: {exc}") from exc
    try:
        return getattr(module, attribute)
    except AttributeError as exc:
        raise ConfigError(f"module {module_name!r} has no attribute {attribute!r}") from exc


def client_from_spec(spec: ModelSpec) -> ModelClient:
    """The model client a graph's model config describes."""
    if spec.provider == "scripted":
        return ScriptedModel(spec.replies, model=spec.model, repeat_last=True)
    from flowagents.models import OpenAIChatModel

    api_key = os.environ.get(spec.api_key_env) if spec.api_key_env else None
    params = dict(spec.params)
    if spec.temperature is not None:
        params["temperature"] = spec.temperature
    return OpenAIChatModel(
        model=spec.model,
        api_key=api_key,
        base_url=spec.base_url,
        capabilities=spec.capabilities,
        **params,
    )


def build_agent(spec: AgentSpec, client_for: Callable[[str], ModelClient]) -> ConversableAgent:
    """A live agent for ``spec``; ``client_for`` turns a model name into its client.

    A ``factory`` is called as ``factory(name=spec.name, **spec.kwargs)``; anything it raises
    becomes a ConfigError naming the agent and the factory.
    """
    if spec.factory:
        factory = import_reference(spec.factory)
        try:
            agent = factory(**{"name": spec.name, **spec.kwargs})
        except Exception as exc:  # the factory's own error, or a signature without name=
            raise ConfigError(
                f"factory {spec.factory!r} for agent {spec.name!r} raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(agent, ConversableAgent):
            raise ConfigError(
                f"factory {spec.factory!r} for agent {spec.name!r} returned {agent!r}, "
                "not a ConversableAgent"
            )
        if agent.name != spec.name:
            raise ConfigError(
                f"factory {spec.factory!r} made an agent named {agent.name!r}, "
                f"but the graph calls it {spec.name!r}"
            )
        return agent
    options: dict[str, Any] = dict(spec.kwargs)
    options["llm_config"] = client_for(spec.model) if spec.model else False
    if spec.system_message is not None:
        options["system_message"] = spec.system_message
    if spec.human_input_mode is not None:
        options["human_input_mode"] = spec.human_input_mode
    if spec.max_consecutive_auto_reply is not None:
        options["max_consecutive_auto_reply"] = spec.max_consecutive_auto_reply
    if spec.code_execution is not False:
        options["code_execution_config"] = (
            {} if spec.code_execution is True else dict(spec.code_execution)
        )
    elif spec.type == "user_proxy":
        options["code_execution_config"] = False
    if spec.default_auto_reply:
        options["default_auto_reply"] = spec.default_auto_reply
    if spec.description:
        options["description"] = spec.description
    cls: type[ConversableAgent] = {
        "assistant": AssistantAgent,
        "user_proxy": UserProxyAgent,
        "conversable": ConversableAgent,
    }[spec.type]
    return cls(spec.name, **options)
