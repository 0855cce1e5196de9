"""A student consults an expert through a function call.

The student's model calls ``ask_expert``; the user proxy executes it, and the function runs
a whole chat with the expert and returns its summary. Offline: all models are scripted.
Run it with::

    python examples/student_asks_expert.py
"""

from __future__ import annotations

import json
from typing import Annotated

from flowagents import (
    AssistantAgent,
    Message,
    ScriptedModel,
    ToolCall,
    UserProxyAgent,
    register_function,
)

QUESTION = "How do I find the roots of x^2 - 5x + 6?"


def main() -> None:
    expert = AssistantAgent(
        "expert",
        system_message="You are a patient math professor.",
        llm_config=ScriptedModel(
            ["Factor it: (x - 2)(x - 3) = 0, so the roots are x = 2 and x = 3."]
        ),
    )
    expert_proxy = UserProxyAgent(
        "expert_proxy", human_input_mode="NEVER", code_execution_config=False
    )

    async def ask_expert(message: Annotated[str, "The question for the expert."]) -> str:
        result = await expert_proxy.a_initiate_chat(
            expert, message=message, max_turns=1, summary_method="last_msg"
        )
        return result.summary

    call = ToolCall(id="call_1", name="ask_expert", arguments=json.dumps({"message": QUESTION}))
    student = AssistantAgent(
        "student",
        llm_config=ScriptedModel(
            [
                Message(role="assistant", content=None, tool_calls=[call]),
                "The roots are 2 and 3: factor the polynomial.\nTERMINATE",
            ]
        ),
    )
    user = UserProxyAgent(
        "user",
        human_input_mode="NEVER",
        code_execution_config=False,
        is_termination_msg=lambda m: "TERMINATE" in (m.get("content") or ""),
    )
    register_function(ask_expert, caller=student, executor=user, description="Ask a math expert.")
    result = user.initiate_chat(student, message="Solve x^2 - 5x + 6 = 0.")
    print(f"Summary: {result.summary}")


if __name__ == "__main__":
    main()
