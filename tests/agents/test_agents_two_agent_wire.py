"""The reference's two-agent example, end to end over HTTP with the real openai SDK."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowagents import AssistantAgent, UserProxyAgent
from flowagents.testing import LoopbackServer

CODE_REPLY = "Let me compute it.\n```python\nprint(6 * 7)\n```"
FINAL_REPLY = "The product is 42.\nTERMINATE"


def _llm_config(server: LoopbackServer) -> dict[str, object]:
    return {
        "config_list": [{"model": "gpt-test", "api_key": "sk-test", "base_url": server.base_url}],
        "temperature": 0,
    }


@pytest.mark.parametrize("executor", ["sandbox", "local"])
def test_assistant_writes_code_user_proxy_runs_it(tmp_path: Path, executor: str) -> None:
    with LoopbackServer(replies=[CODE_REPLY, FINAL_REPLY]) as server:
        assistant = AssistantAgent("assistant", llm_config=_llm_config(server))
        user_proxy = UserProxyAgent(
            "user_proxy",
            human_input_mode="NEVER",
            is_termination_msg=lambda m: "TERMINATE" in (m.get("content") or ""),
            code_execution_config={"work_dir": str(tmp_path), "executor": executor},
        )
        if executor == "local":
            with pytest.warns(UserWarning, match="without isolation"):
                result = user_proxy.initiate_chat(
                    assistant, message="What is 6 times 7?", silent=True
                )
        else:
            result = user_proxy.initiate_chat(assistant, message="What is 6 times 7?", silent=True)
        requests = server.requests

    history = result.chat_history
    assert [(m["name"], m["role"]) for m in history] == [
        ("user_proxy", "assistant"),
        ("assistant", "user"),
        ("user_proxy", "assistant"),
        ("assistant", "user"),
    ]
    assert history[0]["content"] == "What is 6 times 7?"
    assert history[1]["content"] == CODE_REPLY
    assert history[2]["content"].startswith("exitcode: 0 (execution succeeded)")
    assert "42" in history[2]["content"]
    assert history[3]["content"] == FINAL_REPLY
    # The assistant saw its system message, the task, then the code output as the user's turn.
    assert len(requests) == 2
    first_body, second_body = requests[0].body, requests[1].body
    assert first_body is not None and second_body is not None
    second = second_body["messages"]
    assert second[0]["role"] == "system"
    assert "TERMINATE" in second[0]["content"]
    assert [m["role"] for m in second[1:]] == ["user", "assistant", "user"]
    assert "42" in second[-1]["content"]
    assert first_body["model"] == "gpt-test"
    assert first_body["temperature"] == 0
    # The ChatResult: summary without the keyword, cost per model from the server's usage.
    assert result.summary == "The product is 42.\n"
    assert result.termination_reason == "is_termination_msg"
    usage = result.cost["usage_including_cached_inference"]["gpt-test"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert result.human_input == []
    # The agents keep the same history from their own side.
    assert assistant.chat_messages[user_proxy][0]["role"] == "user"
    assert len(assistant.chat_messages[user_proxy]) == 4
