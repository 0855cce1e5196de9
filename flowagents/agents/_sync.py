"""Running the async core from synchronous code."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from contextvars import ContextVar
from typing import Any, TypeVar

from flowagents.errors import ConfigError

T = TypeVar("T")

# True inside a synchronous call (initiate_chat, send, ...): AutoGen's "sync chat", where
# async reply functions registered with ignore_async_in_sync_chat are skipped.
_IN_SYNC_CALL: ContextVar[bool] = ContextVar("flowagents_in_sync_call", default=False)


def in_sync_call() -> bool:
    """Whether the running code was started by a synchronous call (a sync chat)."""
    return _IN_SYNC_CALL.get()


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on a fresh event loop, as ``asyncio.run`` does.

    Not ``asyncio.run`` itself: on the main thread it formats the repr of the finished task
    (the whole ChatResult) while restoring the SIGINT handler, which costs more than a short
    chat. On Ctrl-C the run is cancelled and records its ending before KeyboardInterrupt
    propagates. Async generators (the SDK's connection pools) are closed with the loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coroutine.close()
        raise ConfigError(
            "a synchronous flowagents call was made inside a running event loop; "
            "use the a_-prefixed coroutine instead (e.g. a_initiate_chat)"
        )
    loop = asyncio.new_event_loop()
    try:
        # The task copies the context when it is created: everything it runs is a sync chat.
        token = _IN_SYNC_CALL.set(True)
        try:
            task = loop.create_task(coroutine)
        finally:
            _IN_SYNC_CALL.reset(token)
        try:
            return loop.run_until_complete(task)
        except KeyboardInterrupt:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, KeyboardInterrupt):
                    loop.run_until_complete(task)
            raise
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for leftover in pending:
                leftover.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()
