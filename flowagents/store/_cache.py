"""The opt-in LLM response cache, and chaining interceptors.

The cache is an interceptor like the recorder: it answers a model request it has seen (under
the same ``cache_seed``) from the store, without a call, and marks the response ``cached``
(so usage counts it apart and the ModelCalled event says so). Put it after the recorder:
``InterceptorChain(recorder, LLMCache(store))`` replays first, then caches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from flowagents.messages import ToolResponse
from flowagents.models import ModelClient, ModelRequest, ModelResponse
from flowagents.runtime._context import Interceptor
from flowagents.store._protocol import RunStore

if TYPE_CHECKING:
    from flowagents.execution import CodeResult

T = TypeVar("T")

#: The cache seed of the familiar API when caching is on and no seed is given.
DEFAULT_CACHE_SEED = 41


class LLMCache:
    """Interceptor: answer identical model requests from the store's cache."""

    def __init__(self, store: RunStore, *, cache_seed: int = DEFAULT_CACHE_SEED) -> None:
        self.store = store
        self.cache_seed = cache_seed
        self.hits = 0
        self.misses = 0

    def key(self, request_hash: str) -> str:
        """The cache key of a request: its hash under this cache seed."""
        return hashlib.sha256(f"{self.cache_seed}:{request_hash}".encode()).hexdigest()

    async def model_call(
        self,
        request_hash: str,
        call: Callable[[], Awaitable[ModelResponse]],
        *,
        step: str,
        node: str,
    ) -> ModelResponse:
        """A cached response marked ``cached=True``, or a live one that is then cached."""
        key = self.key(request_hash)
        stored = self.store.cache_get(key)
        if stored is not None:
            self.hits += 1
            return ModelResponse.model_validate(stored).model_copy(update={"cached": True})
        response = await call()
        self.misses += 1
        if not response.cached:
            self.store.cache_put(
                key, response.usage.model, response.model_dump(mode="json", exclude={"cached"})
            )
        return response

    async def human_input(
        self, call: Callable[[], Awaitable[str]], *, step: str, node: str
    ) -> str:
        """Not cached: a human is asked every time."""
        return await call()

    async def code_result(
        self, call: Callable[[], Awaitable[CodeResult]], *, step: str, node: str
    ) -> CodeResult:
        """Not cached: code runs every time."""
        return await call()

    async def tool_results(
        self, call: Callable[[], Awaitable[list[ToolResponse]]], *, step: str, node: str
    ) -> list[ToolResponse]:
        """Not cached: tools run every time."""
        return await call()

    def recorded_join(self, step: str) -> tuple[str, ...] | None:
        """None: a cache answers model requests only; branches race as they do live."""
        return None


class _Link(Generic[T]):
    """One interceptor of a chain, called with the rest of the chain as its ``call``.

    ``direct`` is the outside world's own call, past every interceptor after this one.
    """

    __slots__ = ("args", "direct", "inner", "method", "node", "step")

    def __init__(
        self,
        method: Callable[..., Awaitable[T]],
        inner: Callable[[], Awaitable[T]],
        *args: object,
        step: str,
        node: str,
    ) -> None:
        self.method = method
        self.inner = inner
        self.args = args
        self.step = step
        self.node = node
        self.direct: Callable[[], Awaitable[T]] = direct_call(inner)

    async def __call__(self) -> T:
        return await self.method(*self.args, self.inner, step=self.step, node=self.node)


def direct_call(call: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
    """The outside world's own call behind ``call``, past the rest of a chain.

    A recorder's call-through must reach a scripted model, not a cache that answers for it.
    """
    return call.direct if isinstance(call, _Link) else call



class InterceptorChain:
    """Several interceptors in order: the first is asked first, the last calls the world."""

    def __init__(self, *interceptors: Interceptor) -> None:
        self.interceptors = interceptors

    async def model_call(
        self,
        request_hash: str,
        call: Callable[[], Awaitable[ModelResponse]],
        *,
        step: str,
        node: str,
    ) -> ModelResponse:
        """Pass the request down the chain."""
        handler = call
        for interceptor in reversed(self.interceptors):
            handler = _Link(interceptor.model_call, handler, request_hash, step=step, node=node)
        return await handler()

    async def human_input(
        self, call: Callable[[], Awaitable[str]], *, step: str, node: str
    ) -> str:
        """Pass the request down the chain."""
        handler = call
        for interceptor in reversed(self.interceptors):
            handler = _Link(interceptor.human_input, handler, step=step, node=node)
        return await handler()

    async def code_result(
        self, call: Callable[[], Awaitable[CodeResult]], *, step: str, node: str
    ) -> CodeResult:
        """Pass the execution down the chain."""
        handler = call
        for interceptor in reversed(self.interceptors):
            handler = _Link(interceptor.code_result, handler, step=step, node=node)
        return await handler()

    async def tool_results(
        self, call: Callable[[], Awaitable[list[ToolResponse]]], *, step: str, node: str
    ) -> list[ToolResponse]:
        """Pass the tool calls down the chain."""
        handler = call
        for interceptor in reversed(self.interceptors):
            handler = _Link(interceptor.tool_results, handler, step=step, node=node)
        return await handler()

    def recorded_join(self, step: str) -> tuple[str, ...] | None:
        """The first recorded join decision any interceptor of the chain has."""
        for interceptor in self.interceptors:
            taken = interceptor.recorded_join(step)
            if taken is not None:
                return taken
        return None


class CachedModel:
    """A model client that answers repeated requests from the store's cache.

    What ``cache_seed`` in an ``llm_config`` turns on: the same request under the same seed
    is answered without a call, marked ``cached`` (its usage counts apart). The key is the
    request hash, so any change to model, messages, tools or parameters misses.
    """

    def __init__(self, client: ModelClient, store: RunStore, *, cache_seed: int) -> None:
        self.client = client
        self.cache = LLMCache(store, cache_seed=cache_seed)

    @property
    def model(self) -> str:
        return self.client.model

    @property
    def endpoint(self) -> str:
        return self.client.endpoint

    async def create(self, request: ModelRequest) -> ModelResponse:
        """The cached answer to ``request``, or the client's (then cached)."""
        from flowagents.runtime._context import CURRENT_STEP, request_hash

        scope = CURRENT_STEP.get()
        return await self.cache.model_call(
            request_hash(self.client.model, request),
            lambda: self.client.create(request),
            step=scope.step,
            node=scope.node,
        )
