"""AssistantAgent: a model-backed agent that writes code for others to run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from flowagents.agents._conversable import ConversableAgent, HumanInputMode


class AssistantAgent(ConversableAgent):
    """An LLM assistant: no human input, no code execution of its own."""

    DEFAULT_SYSTEM_MESSAGE = (
        "You are a capable AI assistant who solves tasks with reasoning and code.\n"
        "When a step needs computation, data or files, write one complete program for the user "
        "to run: put it in a fenced code block labelled with its language (```python or ```sh), "
        "with everything it needs inside, and print the results you need to see. The user runs "
        "the code exactly as written and sends you its output; do not ask the user to edit it. "
        "To save code to a file first, put '# filename: <name>' on the first line of the block.\n"
        "Use one code block per reply. If the output shows an error, fix the code and send the "
        "whole program again. Check the result before you rely on it.\n"
        "When the task is complete, give the answer and then reply with the word TERMINATE "
        "on its own."
    )
    DEFAULT_DESCRIPTION = (
        "A helpful assistant that solves problems with language and code; "
        "it writes code for others to run and does not run code itself."
    )

    def __init__(
        self,
        name: str,
        system_message: str | None = DEFAULT_SYSTEM_MESSAGE,
        llm_config: Any = None,
        is_termination_msg: Callable[[dict[str, Any]], bool] | None = None,
        max_consecutive_auto_reply: int | None = None,
        human_input_mode: HumanInputMode = "NEVER",
        description: str | None = None,
        code_execution_config: dict[str, Any] | Literal[False] = False,
        **kwargs: Any,
    ) -> None:
        # As AutoGen: the default description goes with the default system message only;
        # a custom system message describes the agent itself.
        if description is None and system_message == self.DEFAULT_SYSTEM_MESSAGE:
            description = self.DEFAULT_DESCRIPTION
        super().__init__(
            name,
            system_message=system_message,
            is_termination_msg=is_termination_msg,
            max_consecutive_auto_reply=max_consecutive_auto_reply,
            human_input_mode=human_input_mode,
            llm_config=llm_config,
            description=description,
            code_execution_config=code_execution_config,
            **kwargs,
        )
