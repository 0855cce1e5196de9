"""Running the async core from synchronous code."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

# True inside a synchronous call (initiate_chat, send, ...): AutoGen's "sync chat", where
# async reply functions registered with ignore_async_in_sync_chat are skipped.
_IN_SYNC_CALL: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "flowagents_in_sync_call", default=False
)


def in_sync_call() -> bool:
    """Whether the running code was started by a synchronous call (a sync chat)."""
    return _IN_SYNC_CALL.get()


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on a fresh event loop, as ``asyncio.run`` does.

    When a loop is already running in this thread (a Jupyter cell, a reply function that
    starts a chat), the fresh loop runs in a worker thread, with a copy of this context (the
    current run), and this thread waits for it, as AutoGen's sync calls block.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_on_new_loop(coroutine)
    context = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowagents-sync") as pool:
        return pool.submit(context.run, _run_on_new_loop, coroutine).result()


def _run_on_new_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on a new event loop in this thread, then close the loop.

    Not ``asyncio.run`` itself: on the main thread it formats the repr of the finished task
    (the whole ChatResult) while restoring the SIGINT handler, which costs more than a short
    chat. On Ctrl-C the run is cancelled and records its ending before KeyboardInterrupt
    propagates. Async generators (the SDK's connection pools) are closed with the loop.
    """
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
