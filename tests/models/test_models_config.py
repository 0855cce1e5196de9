"""llm_config in the AutoGen form -> model clients, over HTTP against loopback servers."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from flowagents.errors import (
    ConfigError,
    ModelAuthError,
    ModelRequestError,
    ModelUnavailableError,
)
from flowagents.models import (
    FallbackModel,
    LLMConfig,
    ModelClient,
    ModelRequest,
    ModelResponse,
    OpenAIChatModel,
    ScriptedModel,
    model_from_llm_config,
)
from flowagents.testing import Fault, LoopbackServer

REQUEST = ModelRequest(messages=[{"role": "user", "content": "hi"}])


def answer(client: ModelClient | None, request: ModelRequest = REQUEST) -> ModelResponse:
    assert client is not None
    return asyncio.run(client.create(request))


def closed_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


def test_dict_form_builds_an_openai_client_with_params() -> None:
    with LoopbackServer(["ok"], api_key="sk-1") as server:
        client = model_from_llm_config(
            {
                "config_list": [{"model": "gpt-x", "api_key": "sk-1", "base_url": server.base_url}],
                "temperature": 0,
                "max_tokens": 50,
                "top_k": 5,
                "cache_seed": None,
                "timeout": 30,
            }
        )
        assert isinstance(client, OpenAIChatModel)
        assert answer(client).message.content == "ok"
        body = server.requests[0].body
    assert (client.model, client.endpoint, client.timeout) == ("gpt-x", server.base_url, 30)
    assert body is not None
    assert (body["temperature"], body["max_tokens"], body["top_k"]) == (0, 50, 5)
    assert "cache_seed" not in body
    assert "timeout" not in body


def test_entry_params_win_over_top_level_params() -> None:
    with LoopbackServer(["ok"]) as server:
        entry = {"model": "gpt-x", "base_url": server.base_url, "temperature": 0.9, "price": [1, 2]}
        client = model_from_llm_config({"config_list": [entry], "temperature": 0})
        answer(client)
        body = server.requests[0].body
    assert isinstance(client, OpenAIChatModel)
    assert client.price == (1.0, 2.0)
    assert body is not None
    assert body["temperature"] == 0.9
    assert "price" not in body


def test_single_model_without_config_list() -> None:
    with LoopbackServer(["single"]) as server:
        config = {"model": "gpt-x", "base_url": server.base_url, "temperature": 0}
        client = model_from_llm_config(config)
        assert answer(client).message.content == "single"
    assert LLMConfig.model_validate(config).config_list[0].model == "gpt-x"


def test_env_vars_fill_key_and_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    with LoopbackServer(["from env"], api_key="env-key") as server:
        monkeypatch.setenv("OPENAI_API_KEY", "env-key")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        client = model_from_llm_config({"config_list": [{"model": "gpt-x"}]})
        assert answer(client).message.content == "from env"
        assert server.requests[0].headers["authorization"] == "Bearer env-key"


def test_stream_flag_from_the_config() -> None:
    with LoopbackServer(["streamed answer"]) as server:
        config = {"config_list": [{"model": "m", "base_url": server.base_url}], "stream": True}
        assert answer(model_from_llm_config(config)).message.content == "streamed answer"
        body = server.requests[0].body
    assert body is not None
    assert body["stream"] is True


def test_fallback_to_the_next_entry_on_auth_and_unavailable() -> None:
    with (
        LoopbackServer(["never"], api_key="other") as refusing,
        LoopbackServer(["never"]) as failing,
        LoopbackServer(["third answers"]) as working,
    ):
        failing.inject(Fault(status=503), Fault(status=503))
        config = {
            "config_list": [
                {"model": "a", "base_url": refusing.base_url, "api_key": "k"},
                {"model": "b", "base_url": failing.base_url, "max_retries": 1},
                {"model": "c", "base_url": working.base_url},
                {"model": "d", "base_url": closed_url()},
            ],
        }
        client = model_from_llm_config(config)
        assert isinstance(client, FallbackModel)
        response = answer(client)
        assert [len(s.requests) for s in (refusing, failing, working)] == [1, 2, 1]
    assert (client.model, client.endpoint) == ("a", refusing.base_url)
    assert response.message.content == "third answers"
    assert response.usage.model == "c"


def test_no_fallback_on_a_rejected_request() -> None:
    with (
        LoopbackServer(["never"], profile="no_json_schema") as first,
        LoopbackServer(["never"]) as second,
    ):
        client = model_from_llm_config(
            {"config_list": [{"model": "a", "base_url": s.base_url} for s in (first, second)]}
        )
        schema = {"type": "json_schema", "json_schema": {"name": "s", "schema": {}}}
        with pytest.raises(ModelRequestError):
            answer(client, REQUEST.model_copy(update={"response_format": schema}))
        assert second.requests == []


def test_all_entries_failing_names_each() -> None:
    urls = [closed_url(), closed_url()]
    client = model_from_llm_config(
        {
            "config_list": [{"model": f"m{i}", "base_url": u} for i, u in enumerate(urls)],
            "max_retries": 0,
        }
    )
    with pytest.raises(ModelUnavailableError) as caught:
        answer(client)
    text = str(caught.value)
    assert text.startswith("llm_config.config_list: all 2 configs failed: ")
    assert f"model m0 at {urls[0]}" in text
    assert f"model m1 at {urls[1]}" in text


def test_all_entries_refusing_keeps_the_auth_error_kind() -> None:
    with LoopbackServer(["never"], api_key="x") as server:
        entries = [{"model": m, "base_url": server.base_url, "api_key": "bad"} for m in "ab"]
        with pytest.raises(ModelAuthError):
            answer(model_from_llm_config({"config_list": entries}))


def test_passthrough_forms() -> None:
    scripted = ScriptedModel(["x"])
    assert model_from_llm_config(None) is None
    assert model_from_llm_config(False) is None
    assert model_from_llm_config(scripted) is scripted
    assert model_from_llm_config({"model_client": scripted}) is scripted
    assert model_from_llm_config(LLMConfig(model_client=scripted)) is scripted
    config = LLMConfig.model_validate({"config_list": [{"model": "m", "base_url": "http://h/v1"}]})
    client = model_from_llm_config(config)
    assert isinstance(client, OpenAIChatModel)
    assert client.endpoint == "http://h/v1"


def test_api_key_is_not_shown_in_reprs() -> None:
    config = LLMConfig.model_validate({"config_list": [{"model": "m", "api_key": "sk-secret"}]})
    assert "sk-secret" not in repr(config)
    assert "sk-secret" not in str(config.model_dump())


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"config_list": [{"api_key": "x"}]}, "llm_config.config_list[0].model"),
        ({"config_list": [{"model": "m", "timeout": "soon"}]}, "llm_config.config_list[0].timeout"),
        ({"config_list": [{"model": "m", "api_type": "azure"}]}, "config_list[0].api_type"),
        ({"config_list": {"model": "m"}}, "llm_config.config_list"),
        ({"config_list": [{"model": "m"}], "max_retries": -1}, "llm_config.max_retries"),
        ({"model_client": object()}, "llm_config.model_client"),
        ({"config_list": []}, "llm_config.config_list"),
        ({"temperature": 0}, "llm_config.config_list"),
    ],
)
def test_bad_configs_name_the_bad_key(config: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        model_from_llm_config(config)


def test_not_a_config_at_all() -> None:
    with pytest.raises(ConfigError, match="not int"):
        model_from_llm_config(42)  # type: ignore[arg-type]
