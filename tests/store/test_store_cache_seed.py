"""``cache_seed`` in an llm_config: a repeated request is answered from the cache, no call."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowagents import AssistantAgent, UserProxyAgent
from flowagents.events import Event, ModelCalled
from flowagents.runtime import observe
from flowagents.testing import LoopbackServer


def _chat(server: LoopbackServer, seed: int) -> tuple[str, list[Event]]:
    assistant = AssistantAgent(
        "assistant",
        llm_config={
            "config_list": [{"model": "gpt-test", "api_key": "k", "base_url": server.base_url}],
            "cache_seed": seed,
        },
    )
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
    events: list[Event] = []
    with observe(events.append):
        result = user.initiate_chat(assistant, message="Name a prime.", max_turns=1, silent=True)
    return result.chat_history[-1]["content"], events


def test_same_request_same_seed_is_a_cache_hit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with LoopbackServer(replies=["7", "11", "13"]) as server:
        first, first_events = _chat(server, seed=42)
        second, second_events = _chat(server, seed=42)
        other_seed, _ = _chat(server, seed=43)
        calls = len(server.requests)

    assert (first, second, other_seed) == ("7", "7", "11")
    assert calls == 2  # the repeated request under seed 42 never reached the server
    hits = [e.cached for e in second_events if isinstance(e, ModelCalled)]
    misses = [e.cached for e in first_events if isinstance(e, ModelCalled)]
    assert (misses, hits) == ([False], [True])
    assert (tmp_path / ".flowagents" / "runs.db").is_file()
