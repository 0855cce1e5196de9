"""Per-agent usage, as AutoGen: get_total_usage, get_actual_usage, print_usage_summary."""

from __future__ import annotations

import pytest

from flowagents import AssistantAgent, UserProxyAgent
from flowagents.testing import LoopbackServer


def _agents(server: LoopbackServer) -> tuple[AssistantAgent, UserProxyAgent]:
    config = {
        "config_list": [
            {
                "model": "priced",
                "api_key": "sk-test",
                "base_url": server.base_url,
                "price": [1.0, 2.0],
            }
        ]
    }
    assistant = AssistantAgent("assistant", llm_config=config)
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
    return assistant, user


def test_an_agents_usage_adds_up_its_model_calls_over_its_chats() -> None:
    with LoopbackServer(replies=["first answer", "second answer"]) as server:
        assistant, user = _agents(server)
        assert assistant.get_total_usage() is None  # no call yet, as AutoGen

        one = user.initiate_chat(assistant, message="hi", max_turns=1, silent=True)
        two = user.initiate_chat(assistant, message="again", max_turns=1, silent=True)

    total = assistant.get_total_usage()
    assert total is not None
    chats = [r.cost["usage_including_cached_inference"]["priced"] for r in (one, two)]
    counts = total["priced"]
    assert counts["prompt_tokens"] == sum(c["prompt_tokens"] for c in chats)
    assert counts["completion_tokens"] == sum(c["completion_tokens"] for c in chats) == 4
    assert counts["cost"] == pytest.approx(sum(c["cost"] for c in chats))
    assert total["total_cost"] == pytest.approx(counts["cost"])
    assert assistant.get_actual_usage() == total  # nothing came from a cache
    assert user.get_total_usage() is None  # no model
    assert user.get_actual_usage() is None


def test_print_usage_summary_prints_as_autogen(capsys: pytest.CaptureFixture[str]) -> None:
    with LoopbackServer(replies=["answer"]) as server:
        assistant, user = _agents(server)
        assistant.print_usage_summary()
        before = capsys.readouterr().out
        user.initiate_chat(assistant, message="hi", max_turns=1, silent=True)
    capsys.readouterr()
    assert before.splitlines() == [
        "Agent 'assistant':",
        'No usage summary. Please call "create" first.',
    ]

    assistant.print_usage_summary()
    user.print_usage_summary()
    printed = capsys.readouterr().out.splitlines()

    counts = assistant.get_total_usage()["priced"]  # type: ignore[index]
    assert printed[0] == "Agent 'assistant':"
    assert printed[2] == "Usage summary excluding cached usage: "
    assert printed[4] == (
        f"* Model 'priced': cost: {round(counts['cost'], 5)}, prompt_tokens: "
        f"{counts['prompt_tokens']}, completion_tokens: {counts['completion_tokens']}, "
        f"total_tokens: {counts['total_tokens']}"
    )
    assert "All completions are non-cached" in printed[6]
    assert printed[-1] == "No cost incurred from agent 'user'."
    with pytest.raises(ValueError, match="Invalid mode"):
        assistant.print_usage_summary("everything")
