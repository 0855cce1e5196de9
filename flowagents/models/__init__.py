"""Model clients: one protocol, the OpenAI-compatible client and a scripted fake."""

from flowagents.models._config import (
    FallbackModel,
    LLMConfig,
    ModelConfig,
    llm_config_from,
    model_from_llm_config,
)
from flowagents.models._openai import ModelCapabilities, OpenAIChatModel
from flowagents.models._protocol import ModelClient, ModelRequest, ModelResponse, Usage
from flowagents.models._scripted import ScriptedModel

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
    "llm_config_from",
    "model_from_llm_config",
]
