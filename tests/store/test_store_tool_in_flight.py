"""A run cancelled while a tool hangs keeps the tool call in its record."""

from __future__ import annotations

import asyncio
from pathlib import Path

from flowagents import AssistantAgent, UserProxyAgent, observe
from flowagents.events import RunFinished, ToolCalled, ToolReturned
from flowagents.store import RecordingSink, SQLiteRunStore
from flowagents.testing import LoopbackServer


def test_a_tool_call_in_flight_is_on_record_when_the_run_is_cancelled(tmp_path: Path) -> None:
    started = asyncio.Event()

    async def fetch(url: str) -> str:
        """Fetch a page (this one never answers)."""
        started.set()
        await asyncio.Event().wait()
        return url

    call = {"tool_calls": [{"name": "fetch", "arguments": {"url": "http://x"}}]}
    with LoopbackServer(replies=[call]) as server, SQLiteRunStore(tmp_path / "runs.db") as store:
        config = {"config_list": [{"model": "m", "base_url": server.base_url, "api_key": "k"}]}
        assistant = AssistantAgent("assistant", llm_config=config)
        user = UserProxyAgent(
            "user", human_input_mode="NEVER", code_execution_config=False,
            function_map={"fetch": fetch},
        )

        async def main() -> None:
            with observe(RecordingSink(store)):
                chat = asyncio.ensure_future(
                    user.a_initiate_chat(assistant, message="fetch x", silent=True)
                )
                await started.wait()
                chat.cancel()
                await asyncio.gather(chat, return_exceptions=True)

        asyncio.run(main())
        (run,) = store.list_runs()
        events = store.events(run.run_id)

    called = [e for e in events if isinstance(e, ToolCalled)]
    assert [(e.tool, e.arguments) for e in called] == [("fetch", '{"url": "http://x"}')]
    assert not any(isinstance(e, ToolReturned) for e in events)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "cancelled"
    assert run.status == "cancelled"
