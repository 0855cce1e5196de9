"""Two agents solve a task with code: the assistant writes it, the user proxy runs it.

The reference's first example, offline: the assistant's model is scripted, the code really
runs (in the bubblewrap sandbox, in a temporary directory). Run it with::

    python examples/two_agent_code.py

To use a real model, replace ``llm_config`` with e.g.
``{"config_list": [{"model": "gpt-4o", "api_key": os.environ["OPENAI_API_KEY"]}]}``.
"""

from __future__ import annotations

import tempfile

from flowagents import AssistantAgent, ScriptedModel, UserProxyAgent

SCRIPT = [
    "I will compute the first ten Fibonacci numbers.\n"
    "```python\n"
    "a, b = 0, 1\n"
    "numbers = []\n"
    "for _ in range(10):\n"
    "    numbers.append(a)\n"
    "    a, b = b, a + b\n"
    "print(numbers)\n"
    "```",
    "The first ten Fibonacci numbers are 0, 1, 1, 2, 3, 5, 8, 13, 21, 34.\nTERMINATE",
]


def main() -> None:
    model = ScriptedModel(SCRIPT, model="scripted-coder")
    assistant = AssistantAgent("assistant", llm_config=model)
    with tempfile.TemporaryDirectory() as work_dir:
        user_proxy = UserProxyAgent(
            "user_proxy",
            human_input_mode="NEVER",
            max_consecutive_auto_reply=5,
            is_termination_msg=lambda m: "TERMINATE" in (m.get("content") or ""),
            code_execution_config={"work_dir": work_dir, "timeout": 30},
        )
        result = user_proxy.initiate_chat(
            assistant, message="List the first ten Fibonacci numbers."
        )
    print(f"Summary: {result.summary}")
    print(f"Messages: {len(result.chat_history)}")


if __name__ == "__main__":
    main()
