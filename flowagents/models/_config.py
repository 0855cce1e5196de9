"""``llm_config`` in the familiar AutoGen form, and the model client it describes.

    {"config_list": [{"model": "gpt-4o", "api_key": "...", "base_url": "..."}],
     "temperature": 0, "cache_seed": None}

Keys of ``LLMConfig`` that are not fields (``top_k``, ``stop``, ...) and keys of a
``config_list`` entry that are not fields are sent with every request, an entry's own
winning, as AutoGen does. ``api_key`` and ``base_url`` default to ``OPENAI_API_KEY`` and
``OPENAI_BASE_URL``. Several entries make a ``FallbackModel`` that moves on to the next entry
when one is unavailable, refuses the key or times out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from flowagents.errors import (
    ConfigError,
    ModelAuthError,
    ModelError,
    ModelTimeoutError,
    ModelUnavailableError,
)
from flowagents.models._capabilities import ModelCapabilities
from flowagents.models._protocol import ModelClient, ModelRequest, ModelResponse

if TYPE_CHECKING:
    from flowagents.models._openai import OpenAIChatModel

# Keys a single-model llm_config may give at the top level instead of in config_list.
_ENTRY_KEYS = ("model", "api_key", "base_url", "api_type", "price", "tags", "default_headers")
# The LLMConfig fields an agent sends with its own requests, not as client defaults.
_REQUEST_FIELDS = frozenset({"tools", "tool_choice", "response_format"})


class ModelConfig(BaseModel):
    """One ``config_list`` entry: a model at an OpenAI-compatible endpoint.

    ``price`` is USD per 1,000 prompt and completion tokens. Extra keys are request params.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    model: str = Field(min_length=1)
    api_key: SecretStr | None = None
    base_url: str | None = None
    api_type: Literal["openai"] | None = None
    timeout: float | None = Field(default=None, gt=0)
    max_retries: int | None = Field(default=None, ge=0)
    stream: bool | None = None
    price: tuple[float, float] | None = None
    tags: list[str] = Field(default_factory=list)
    default_headers: dict[str, str] | None = None
    capabilities: ModelCapabilities | None = None


class LLMConfig(BaseModel):
    """An agent's ``llm_config``: the models to use and the params sent with every request.

    ``cache_seed`` None turns the response cache off. ``tools``, ``tool_choice`` and
    ``response_format`` are for the agent to send; they are not client defaults.
    ``model_client`` (any ModelClient) replaces ``config_list``.
    """

    model_config = ConfigDict(extra="allow", frozen=True, arbitrary_types_allowed=True)

    config_list: list[ModelConfig] = Field(default_factory=list)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    seed: int | None = None
    timeout: float | None = Field(default=None, gt=0)
    max_retries: int | None = Field(default=None, ge=0)
    stream: bool | None = None
    cache_seed: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    model_client: Any = None

    @model_validator(mode="before")
    @classmethod
    def _single_model(cls, data: Any) -> Any:
        """Read ``{"model": ..., "api_key": ...}`` without config_list as a one-entry list."""
        if isinstance(data, Mapping) and "config_list" not in data and "model" in data:
            entry = {key: data[key] for key in _ENTRY_KEYS if key in data}
            rest = {key: value for key, value in data.items() if key not in _ENTRY_KEYS}
            return {**rest, "config_list": [entry]}
        return data

    @field_validator("model_client")
    @classmethod
    def _is_model_client(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, ModelClient):
            raise ValueError(
                f"{type(value).__name__} is not a ModelClient "
                "(it needs model, endpoint and async create(request))"
            )
        return value

    def params(self) -> dict[str, Any]:
        """Return the params sent with every request: sampling fields set, then extra keys."""
        named = {"temperature": self.temperature, "top_p": self.top_p}
        named.update({"max_tokens": self.max_tokens, "seed": self.seed})
        out = {key: value for key, value in named.items() if value is not None}
        out.update(self.model_extra or {})
        return out


class FallbackModel:
    """Asks its clients in order; moves on when one is unavailable, refuses or times out.

    A rejected request (``ModelRequestError``) is not retried elsewhere: the next entry would
    most likely reject it too, and callers such as the speaker selector rely on seeing it.
    """

    FALLBACK_ON: tuple[type[ModelError], ...] = (
        ModelUnavailableError,
        ModelAuthError,
        ModelTimeoutError,
    )

    def __init__(self, clients: Sequence[ModelClient]) -> None:
        if not clients:
            raise ConfigError("FallbackModel needs at least one client")
        self.clients: tuple[ModelClient, ...] = tuple(clients)

    @property
    def model(self) -> str:
        return self.clients[0].model

    @property
    def endpoint(self) -> str:
        return self.clients[0].endpoint

    def __repr__(self) -> str:
        return f"FallbackModel({list(self.clients)!r})"

    async def create(self, request: ModelRequest) -> ModelResponse:
        failures: list[ModelError] = []
        for client in self.clients:
            try:
                return await client.create(request)
            except self.FALLBACK_ON as exc:
                failures.append(exc)
        kinds = {type(failure) for failure in failures}
        kind = kinds.pop() if len(kinds) == 1 else ModelUnavailableError
        summary = "; ".join(str(failure) for failure in failures)
        raise kind(
            f"all {len(failures)} configs failed: {summary}", where="llm_config.config_list"
        ) from failures[-1]


def _validation_message(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        path = ""
        for part in error["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        problems.append(f"llm_config{path}: {error['msg']}")
    return "; ".join(problems)


def llm_config_from(value: LLMConfig | Mapping[str, Any]) -> LLMConfig:
    """Validate an llm_config dict; a bad one raises ConfigError naming the bad key."""
    if isinstance(value, LLMConfig):
        return value
    try:
        return LLMConfig.model_validate(value)
    except ValidationError as exc:
        raise ConfigError(_validation_message(exc)) from None


def request_fields(llm_config: Any) -> dict[str, Any]:
    """``tools``, ``tool_choice`` and ``response_format`` of an llm_config, when set."""
    if not isinstance(llm_config, Mapping | LLMConfig):
        return {}
    if isinstance(llm_config, Mapping) and not llm_config.keys() & _REQUEST_FIELDS:
        # The common case: none is set, and validating the whole dict to learn it costs time.
        return {}
    config = llm_config_from(llm_config)
    fields = {
        "tools": config.tools,
        "tool_choice": config.tool_choice,
        "response_format": config.response_format,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _client_for(entry: ModelConfig, config: LLMConfig) -> OpenAIChatModel:
    # Imported here: the SDK is heavy (~40 MB, ~0.3 s) and many runs never call a model.
    from flowagents.models._openai import OpenAIChatModel

    def first(*values: Any) -> Any:
        return next((value for value in values if value is not None), None)

    return OpenAIChatModel(
        entry.model,
        api_key=entry.api_key.get_secret_value() if entry.api_key else None,
        base_url=entry.base_url,
        timeout=first(entry.timeout, config.timeout),
        max_retries=first(entry.max_retries, config.max_retries, 2),
        stream=bool(first(entry.stream, config.stream, False)),
        params={**config.params(), **(entry.model_extra or {})},
        capabilities=entry.capabilities,
        default_headers=entry.default_headers,
        price=entry.price,
    )


def model_from_llm_config(
    llm_config: LLMConfig | Mapping[str, Any] | ModelClient | Literal[False] | None,
) -> ModelClient | None:
    """Build the model client an ``llm_config`` describes; None for ``False`` or ``None``.

    Takes the AutoGen dict form, an LLMConfig, ``{"model_client": client}`` or a ModelClient
    (returned as it is). Several config_list entries give a FallbackModel.
    """
    if llm_config is None or llm_config is False:
        return None
    if isinstance(llm_config, ModelClient) and not isinstance(llm_config, Mapping):
        return llm_config
    if not isinstance(llm_config, LLMConfig | Mapping):
        raise ConfigError(
            f"llm_config must be a dict, an LLMConfig, a ModelClient or False, "
            f"not {type(llm_config).__name__}"
        )
    config = llm_config_from(llm_config)
    client: ModelClient
    if config.model_client is not None:
        client = config.model_client
    elif not config.config_list:
        raise ConfigError(
            "llm_config.config_list: is empty; give at least one {'model': ...} entry "
            "or a model_client"
        )
    else:
        clients = [_client_for(entry, config) for entry in config.config_list]
        client = clients[0] if len(clients) == 1 else FallbackModel(clients)
    if config.cache_seed is not None:
        # Imported here: the store builds on the models package.
        from flowagents.store import CachedModel, open_store

        client = CachedModel(client, open_store(), cache_seed=config.cache_seed)
    return client


def config_list_from_json(
    env_or_file: str,
    file_location: str | os.PathLike[str] = "",
    filter_dict: Mapping[str, Sequence[Any]] | None = None,
) -> list[dict[str, Any]]:
    """Read a ``config_list`` as the familiar API does (e.g. ``"OAI_CONFIG_LIST"``).

    The environment variable ``env_or_file`` holds the JSON list or a path to it; without
    it, ``file_location/env_or_file`` is read. ``filter_dict`` keeps the entries whose
    value for each key is among the given ones (a list-valued entry matches on overlap).
    """
    raw = os.environ.get(env_or_file)
    if raw is not None and not raw.lstrip().startswith("["):
        where = raw
        raw = Path(raw).read_text(encoding="utf-8") if Path(raw).is_file() else None
        if raw is None:
            raise ConfigError(f"{env_or_file}={where!r} is neither a JSON list nor a file")
    if raw is None:
        path = Path(file_location) / env_or_file
        if not path.is_file():
            raise ConfigError(
                f"no config list: set the environment variable {env_or_file} or create {path}"
            )
        raw = path.read_text(encoding="utf-8")
        where = str(path)
    else:
        where = f"${env_or_file}"
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not valid JSON: {exc}") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{where}: a config list is a JSON list of objects")

    def keep(entry: dict[str, Any]) -> bool:
        for key, allowed in (filter_dict or {}).items():
            value = entry.get(key)
            values = value if isinstance(value, list) else [value]
            if not any(v in allowed for v in values):
                return False
        return True

    return [entry for entry in entries if keep(entry)]
