"""Model clients: one protocol, the OpenAI-compatible client and a scripted fake.

``OpenAIChatModel`` is imported on first use: the ``openai`` SDK costs ~40 MB and ~0.3 s to
import, which runs on scripted models and reply functions never need.
"""

from typing import TYPE_CHECKING, Any

from flowagents.models._capabilities import ModelCapabilities
from flowagents.models._config import (
    FallbackModel,
    LLMConfig,
    ModelConfig,
    config_list_from_json,
    llm_config_from,
    model_from_llm_config,
)
from flowagents.models._protocol import ModelClient, ModelRequest, ModelResponse, Usage
from flowagents.models._scripted import ScriptedModel

if TYPE_CHECKING:
    from flowagents.models._openai import OpenAIChatModel

__all__ = [
    "FallbackModel",
    "LLMConfig",
    "ModelCapabilities",
    "ModelClient",
    "ModelConfig",
    "ModelRequest",
    "ModelResponse",
    "OpenAIChatModel",
    "ScriptedModel",
    "Usage",
    "config_list_from_json",
    "llm_config_from",
    "model_from_llm_config",
]


def __getattr__(name: str) -> Any:
    if name == "OpenAIChatModel":
        from flowagents.models._openai import OpenAIChatModel

        return OpenAIChatModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
