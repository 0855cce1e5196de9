"""The ModelClient for OpenAI-compatible Chat Completions endpoints, on the ``openai`` SDK.

Works against OpenAI and against vLLM, Ollama and llama.cpp servers: the answer is read as
plain JSON and every field the spec allows to be missing (``id``, ``usage``, ``content``) may
be. Retries (429, 5xx, connection errors, ``Retry-After``) are the SDK's own; every SDK error
is turned into a ``flowagents.errors.ModelError`` subclass.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import weakref
from collections.abc import AsyncIterator, Mapping
from functools import cache
from http import HTTPStatus
from typing import Any

import openai
from openai.resources.chat.completions import AsyncCompletions

from flowagents.errors import (
    ConfigError,
    ModelAuthError,
    ModelError,
    ModelRequestError,
    ModelResponseError,
    ModelTimeoutError,
    ModelUnavailableError,
)
from flowagents.messages import Message, ToolCall, arguments_text
from flowagents.models._capabilities import ModelCapabilities
from flowagents.models._protocol import ModelRequest, ModelResponse, Usage

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Local servers (vLLM, Ollama, llama.cpp) accept any key; the SDK insists on one.
PLACEHOLDER_API_KEY = "EMPTY"
SDK_DEFAULT_TIMEOUT = 600.0


class _Malformed(ValueError):
    """The answer is not a usable completion; the message says why."""


class _LoopClients:
    """The shared SDK clients of one event loop, closed when the loop shuts down.

    ``asyncio.run`` closes every unfinished async generator before it closes the loop; the
    generator started here uses that moment to close the clients' connection pools, so no
    socket outlives its loop (an open one would warn ``unclosed transport``).
    """

    def __init__(self) -> None:
        self.clients: dict[tuple[str, str], openai.AsyncOpenAI] = {}
        self.closed = False
        self._closer = self._close_at_shutdown()

    async def start(self) -> None:
        await anext(self._closer)

    async def _close_at_shutdown(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            self.closed = True
            for client in self.clients.values():
                await client.close()
            self.clients.clear()


_LOOPS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = (
    weakref.WeakKeyDictionary()
)


async def shared_client(base_url: str, api_key: str) -> openai.AsyncOpenAI:
    """Return the one SDK client for (base_url, api_key) on the running loop."""
    loop = asyncio.get_running_loop()
    clients = _LOOPS.get(loop)
    if clients is None or clients.closed:
        clients = _LOOPS[loop] = _LoopClients()
        await clients.start()
    client = clients.clients.get((base_url, api_key))
    if client is None:
        client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url)
        clients.clients[(base_url, api_key)] = client
    return client


@cache
def _sdk_parameters() -> frozenset[str]:
    """List the body fields ``chat.completions.create`` takes by name (others: extra_body)."""
    names = inspect.signature(AsyncCompletions.create).parameters
    transport = {"self", "extra_headers", "extra_query", "extra_body", "timeout"}
    return frozenset(name for name in names if name not in transport)


class OpenAIChatModel:
    """A ModelClient for one model at one OpenAI-compatible endpoint.

    ``api_key`` and ``base_url`` default to ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` (then
    to the OpenAI API). ``timeout`` is in seconds per attempt (None: the SDK's 600 s);
    ``max_retries`` is handed to the SDK, which backs off and honours ``Retry-After``.
    ``params`` (and ``temperature``, ``max_tokens``, ``seed`` and any other keyword, such as
    ``top_p``) are sent with every request; a request's own ``params`` win.
    ``stream=True`` streams and assembles the whole message.
    """

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        stream: bool = False,
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        params: Mapping[str, Any] | None = None,
        capabilities: ModelCapabilities | Mapping[str, Any] | None = None,
        default_headers: Mapping[str, str] | None = None,
        price: tuple[float, float] | None = None,
        **extra_params: Any,
    ) -> None:
        self._model = model
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY") or PLACEHOLDER_API_KEY
        url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self._base_url = url.rstrip("/")
        self.timeout = _checked_timeout(timeout, where=self._where())
        self.max_retries = _checked_retries(max_retries, where=self._where())
        self.stream = stream
        named = {"temperature": temperature, "max_tokens": max_tokens, "seed": seed}
        self.params: dict[str, Any] = {k: v for k, v in named.items() if v is not None}
        self.params.update(params or {})
        self.params.update(extra_params)
        # A copy: the client learns (``stream_tools``), and that must not change the caller's
        # object or another client built from it.
        self.capabilities = ModelCapabilities.model_validate(capabilities or {}).model_copy()
        self.default_headers = dict(default_headers or {})
        self.price = price
        # Per loop: the shared client and this model's view of it (timeout, retries, headers).
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[openai.AsyncOpenAI, openai.AsyncOpenAI]
        ] = weakref.WeakKeyDictionary()

    def _where(self) -> str:
        return f"model {self._model} at {self._base_url}"

    @property
    def model(self) -> str:
        return self._model

    @property
    def endpoint(self) -> str:
        return self._base_url

    def __repr__(self) -> str:
        return f"OpenAIChatModel(model={self._model!r}, endpoint={self._base_url!r})"

    async def create(self, request: ModelRequest) -> ModelResponse:
        """Send ``request``; raise a ModelError subclass (never an SDK error) on failure.

        With a ``price``, the usage carries the call's cost, as AutoGen computes it.
        """
        response = await self._create(request)
        if self.price is None:
            return response
        usage = response.usage
        cost = (
            usage.prompt_tokens * self.price[0] + usage.completion_tokens * self.price[1]
        ) / 1000
        return response.model_copy(update={"usage": usage.model_copy(update={"cost": cost})})

    async def _create(self, request: ModelRequest) -> ModelResponse:
        kwargs, stream = self._request_body(request)
        if stream and request.tools and self.capabilities.stream_tools is False:
            stream = False
        if not stream:
            return await self._complete(kwargs)
        try:
            return await self._complete_streamed(kwargs)
        except ModelRequestError:
            if not request.tools or self.capabilities.stream_tools is not None:
                raise
        # Some servers (older vLLM, llama.cpp) reject streamed requests with tools but take
        # the same request unstreamed: ask once more that way, and remember it if it works.
        kwargs.pop("stream_options", None)
        response = await self._complete(kwargs)
        self.capabilities.stream_tools = False
        return response

    async def aclose(self) -> None:
        """Close this loop's shared client for the endpoint and key now (not at loop end).

        Every model using that endpoint and key gets a new client on its next call.
        """
        loop = asyncio.get_running_loop()
        clients = _LOOPS.get(loop)
        client = clients.clients.pop((self._base_url, self._api_key), None) if clients else None
        if client is not None:
            await client.close()

    # -- requests ------------------------------------------------------------------------

    def _request_body(self, request: ModelRequest) -> tuple[dict[str, Any], bool]:
        params = {**self.params, **request.params}
        stream = bool(params.pop("stream", self.stream))
        for reserved in ("model", "messages"):
            params.pop(reserved, None)
        body: dict[str, Any] = {"model": self._model, "messages": request.messages}
        if request.tools:
            body["tools"] = request.tools
            # The spec allows tool_choice only together with tools.
            if request.tool_choice is not None:
                body["tool_choice"] = request.tool_choice
        if request.response_format is not None:
            body["response_format"] = request.response_format
        if stream and self.capabilities.stream_usage:
            params.setdefault("stream_options", {"include_usage": True})
        known = _sdk_parameters()
        extra = {k: v for k, v in params.items() if k not in known}
        body.update({k: v for k, v in params.items() if k in known})
        if extra:
            body["extra_body"] = extra
        return body, stream

    async def _sdk(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        shared = await shared_client(self._base_url, self._api_key)
        cached = self._clients.get(loop)
        if cached is not None and cached[0] is shared:
            return cached[1]
        # with_options shares the connection pool of the shared client.
        client = shared.with_options(
            timeout=self.timeout if self.timeout is not None else openai.NOT_GIVEN,
            max_retries=self.max_retries,
            default_headers=self.default_headers or None,
        )
        self._clients[loop] = (shared, client)
        return client

    async def _complete(self, kwargs: dict[str, Any]) -> ModelResponse:
        client = await self._sdk()
        try:
            raw = await client.chat.completions.with_raw_response.create(**kwargs)
            content = raw.content
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        try:
            data = json.loads(content)
        except ValueError:
            raise self._malformed(f"the body is not JSON: {content[:120]!r}") from None
        try:
            return _parse_completion(data, self._model)
        except _Malformed as exc:
            raise self._malformed(str(exc)) from None

    async def _complete_streamed(self, kwargs: dict[str, Any]) -> ModelResponse:
        client = await self._sdk()
        chunks: list[object] = []
        try:
            stream = await client.chat.completions.create(**kwargs, stream=True)
            async with stream:
                async for chunk in stream:
                    chunks.append(_chunk_data(chunk))
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        except ValueError as exc:  # a data: line that is not JSON
            raise self._malformed(f"a streamed chunk is not JSON: {exc}") from None
        try:
            return _assemble_stream(chunks, self._model)
        except _Malformed as exc:
            raise self._malformed(str(exc)) from None

    # -- errors --------------------------------------------------------------------------

    def _malformed(self, message: str) -> ModelResponseError:
        return ModelResponseError(message, endpoint=self._base_url, model=self._model)

    def _error(self, exc: openai.OpenAIError) -> ModelError:
        """Turn an SDK error into the flowagents error, naming endpoint and model."""
        endpoint, model = self._base_url, self._model
        retries = f"max_retries={self.max_retries}"
        if isinstance(exc, openai.APITimeoutError):
            seconds = self.timeout if self.timeout is not None else SDK_DEFAULT_TIMEOUT
            message = f"no answer within {seconds:g} s ({retries})"
            return ModelTimeoutError(message, endpoint=endpoint, model=model)
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            message = f"cannot connect ({retries}): {cause}"
            return ModelUnavailableError(message, endpoint=endpoint, model=model)
        if isinstance(exc, openai.APIStatusError):
            return _status_error(exc, retries, endpoint, model)
        if isinstance(exc, openai.APIResponseValidationError):
            message = f"unusable answer: {exc.message}"
        else:
            message = f"{type(exc).__name__}: {exc}"
        return ModelResponseError(message, endpoint=endpoint, model=model)


def _checked_timeout(value: object, *, where: str) -> float | None:
    """``value`` as a timeout in seconds; a graph file's ``params`` reach us unchecked."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise ConfigError(f"timeout must be a positive number of seconds, got {value!r}", where=where)


def _checked_retries(value: object, *, where: str) -> int:
    """``value`` as the SDK's ``max_retries``, which fails only at the first call otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ConfigError(f"max_retries must be a whole number >= 0, got {value!r}", where=where)


def _status_error(
    exc: openai.APIStatusError, retries: str, endpoint: str, model: str
) -> ModelError:
    status = exc.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    said = _server_message(exc.body)
    detail = f" (server said: {said})" if said else ""
    head = f"{status} {phrase}"
    if status in (401, 403):
        message = f"{head}: check api_key / OPENAI_API_KEY{detail}"
        return ModelAuthError(message, status=status, endpoint=endpoint, model=model)
    if status in (408, 409, 429) or status >= 500:
        message = f"{head} after retries ({retries}){detail}"
        return ModelUnavailableError(message, status=status, endpoint=endpoint, model=model)
    return ModelRequestError(f"{head}{detail}", status=status, endpoint=endpoint, model=model)


def _server_message(body: object) -> str:
    if isinstance(body, Mapping):
        message = body.get("message")
        if message:
            return str(message)
    if body is None:
        return ""
    return str(body)[:300]


# -- reading answers ----------------------------------------------------------------------


def _usage(data: Mapping[str, Any], model: str) -> Usage:
    raw = data.get("usage")
    usage = raw if isinstance(raw, Mapping) else {}
    answered_by = data.get("model")
    return Usage(
        model=answered_by if isinstance(answered_by, str) and answered_by else model,
        prompt_tokens=_tokens(usage.get("prompt_tokens")),
        completion_tokens=_tokens(usage.get("completion_tokens")),
    )


def _tokens(value: object) -> int:
    """A token count as servers send it (int, float or numeric text); 0 when it is none.

    Usage is bookkeeping: a count that is not a number must not fail a usable answer.
    """
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return max(0, int(value))
    if isinstance(value, str):
        try:
            return max(0, int(float(value)))
        except ValueError:
            return 0
    return 0


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _object(value: object, what: str) -> Mapping[str, Any]:
    """``value`` when it is a JSON object; otherwise the answer is malformed."""
    if not isinstance(value, Mapping):
        raise _Malformed(f"{what} is {_kind(value)}, not an object")
    return value


def _items(value: object, what: str) -> list[Any]:
    """``value`` when it is a JSON array (missing or null: empty); otherwise malformed."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Malformed(f"{what} is {_kind(value)}, not a list")
    return value


def _name(function: Mapping[str, Any], what: str) -> str:
    name = function.get("name")
    if name is None:
        return ""
    if not isinstance(name, str):
        raise _Malformed(f"{what}: function name is {_kind(name)}, not a string")
    return name


def _content(value: object) -> str | list[dict[str, Any]] | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, dict) for part in value):
        return value
    return str(value)


def _parse_completion(data: object, model: str) -> ModelResponse:
    if not isinstance(data, Mapping):
        raise _Malformed(f"the body is {type(data).__name__}, not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        # Some servers answer 200 with an error object instead of a completion.
        said = _server_message(data.get("error"))
        raise _Malformed(f"the completion has no choices{f'; its error: {said}' if said else ''}")
    choice = choices[0]
    raw = choice.get("message")
    if not isinstance(raw, Mapping):
        raise _Malformed("the first choice has no message")
    calls: list[ToolCall] = []
    for index, call in enumerate(_items(raw.get("tool_calls"), "tool_calls")):
        what = f"tool call {index}"
        call = _object(call, what)
        function = _object(call.get("function") or {}, f"{what}: function")
        calls.append(
            ToolCall(
                id=str(call.get("id") or f"call_{index}"),
                name=_name(function, what),
                arguments=arguments_text(function.get("arguments")) or "{}",
            )
        )
    legacy = raw.get("function_call")
    if not calls and legacy is not None:
        legacy = _object(legacy, "function_call")
        calls.append(
            ToolCall(
                id="call_0",
                name=_name(legacy, "function_call"),
                arguments=arguments_text(legacy.get("arguments")) or "{}",
            )
        )
    message = _answer(_content(raw.get("content")), raw.get("refusal"), calls)
    finish = choice.get("finish_reason")
    return ModelResponse(
        message=message,
        usage=_usage(data, model),
        finish_reason=str(finish) if finish is not None else None,
    )


def _chunk_data(chunk: object) -> object:
    """A streamed chunk as the plain JSON data the server sent."""
    if isinstance(chunk, openai.BaseModel):
        # The SDK builds chunks without validation; a field of the wrong type is garbage
        # for _assemble_stream to name, not a serializer warning.
        return chunk.to_dict(warnings=False)
    return chunk


def _assemble_stream(chunks: list[object], model: str) -> ModelResponse:
    """One ModelResponse from streamed chunks: content joined, tool-call deltas merged."""
    content: list[str] = []
    refusal: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    finish: str | None = None
    summary: dict[str, Any] = {}
    seen_choice = False
    for chunk in chunks:
        if not isinstance(chunk, Mapping):
            raise _Malformed(f"a streamed chunk is {type(chunk).__name__}, not a JSON object")
        # Usage comes in the last chunk, and only when the request asked for it.
        summary.update({key: chunk[key] for key in ("model", "usage") if chunk.get(key)})
        for choice in _items(chunk.get("choices"), "choices"):
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue
            seen_choice = True
            delta = _object(choice.get("delta") or {}, "delta")
            if isinstance(delta.get("content"), str):
                content.append(delta["content"])
            if isinstance(delta.get("refusal"), str):
                refusal.append(delta["refusal"])
            for position, call in enumerate(_items(delta.get("tool_calls"), "tool_calls")):
                _merge_call_delta(calls, call, position)
            if choice.get("finish_reason"):
                finish = str(choice["finish_reason"])
    if not seen_choice:
        raise _Malformed("the stream ended without any choice")
    tool_calls = [
        ToolCall(id=c["id"] or f"call_{i}", name=c["name"], arguments=c["arguments"] or "{}")
        for i, c in sorted(calls.items())
    ]
    text = "".join(content)
    message = _answer(text if text or not tool_calls else None, "".join(refusal), tool_calls)
    return ModelResponse(message=message, usage=_usage(summary, model), finish_reason=finish)


def _answer(
    content: str | list[dict[str, Any]] | None, refusal: object, calls: list[ToolCall]
) -> Message:
    """The assistant's message; a refusal (``message.refusal``) is its text when it has none."""
    if isinstance(refusal, str) and refusal and not content:
        return Message.from_openai({"role": "assistant", "refusal": refusal})
    return Message(role="assistant", content=content, tool_calls=calls or None)


def _merge_call_delta(calls: dict[int, dict[str, str]], call: object, position: int) -> None:
    index = call.get("index") if isinstance(call, Mapping) else None
    key = index if isinstance(index, int) else position
    what = f"tool call {key}"
    call = _object(call, what)
    slot = calls.setdefault(key, {"id": "", "name": "", "arguments": ""})
    if call.get("id"):
        slot["id"] = str(call["id"])
    function = _object(call.get("function") or {}, f"{what}: function")
    # The name comes once (some servers repeat it in every delta); arguments come in pieces.
    name = _name(function, what)
    if name and not slot["name"]:
        slot["name"] = name
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        slot["arguments"] += arguments
    elif arguments is not None:
        slot["arguments"] = arguments_text(arguments)
