"""UserProxyAgent: stands in for a human; runs code and functions; no model by default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from flowagents.agents._conversable import ConversableAgent, HumanInputMode


class UserProxyAgent(ConversableAgent):
    """A proxy for the user: asks a human, runs code blocks and function calls.

    The model is off unless ``llm_config`` is given; code runs in the sandbox with
    ``work_dir="coding"`` unless ``code_execution_config`` says otherwise (False disables).
    """

    DEFAULT_DESCRIPTIONS = {
        "ALWAYS": "An attentive human user who can run code and give feedback.",
        "TERMINATE": "A user who runs code and answers only when a task seems finished.",
        "NEVER": "A computer terminal that runs the code it is sent and returns the output.",
    }

    def __init__(
        self,
        name: str,
        is_termination_msg: Callable[[dict[str, Any]], bool] | None = None,
        max_consecutive_auto_reply: int | None = None,
        human_input_mode: HumanInputMode = "ALWAYS",
        function_map: dict[str, Callable[..., Any]] | None = None,
        code_execution_config: dict[str, Any] | Literal[False] | None = None,
        default_auto_reply: str | dict[str, Any] = "",
        llm_config: Any = False,
        system_message: str | list[str] = "",
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        if code_execution_config is None:
            code_execution_config = {"work_dir": "coding"}
        super().__init__(
            name,
            system_message=system_message,
            is_termination_msg=is_termination_msg,
            max_consecutive_auto_reply=max_consecutive_auto_reply,
            human_input_mode=human_input_mode,
            function_map=function_map,
            code_execution_config=code_execution_config,
            llm_config=llm_config,
            default_auto_reply=default_auto_reply,
            description=(
                description
                if description is not None
                else self.DEFAULT_DESCRIPTIONS[human_input_mode]
            ),
            **kwargs,
        )
