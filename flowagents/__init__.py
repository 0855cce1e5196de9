"""flowagents: multi-agent LLM conversations as compiled directed graphs.

General layout (one package per concern; the public names are re-exported here):

- ``errors``, ``messages``, ``events``: the error tree, chat messages and the typed events
  every run emits.
- ``models``: the model-client protocol, the OpenAI-compatible client, a scripted model.
- ``agents``: ConversableAgent, AssistantAgent, UserProxyAgent, GroupChat (the familiar API).
- ``graph``: conversation specs (YAML or builder), the compiler and its checks.
- ``runtime``: the one engine that runs compiled graphs (static, dynamic, parallel, nested).
- ``execution``: code blocks and executors (bubblewrap sandbox, local subprocess).
- ``tools``: Python functions as model tools, validated with pydantic.
- ``testing``: what users need to test their graphs (scripted model, loopback server).
- ``cli``: the ``flowagents`` command.
"""

import typing as _typing

from flowagents.agents import (
    Agent,
    AssistantAgent,
    ChatResult,
    ConsoleInput,
    ConversableAgent,
    GroupChat,
    GroupChatManager,
    ScriptedInput,
    UserProxyAgent,
    initiate_chats,
    register_function,
)
from flowagents.errors import (
    ConfigError,
    FlowAgentsError,
    GraphCompileError,
    GraphLoadError,
    ModelError,
    RunError,
    SpecError,
    StoreError,
)
from flowagents.events import EVENT_ADAPTER, Event
from flowagents.execution import (
    CodeBlock,
    CodeExecutionConfig,
    CodeExecutor,
    CodeResult,
    ExecutionLimits,
    LocalExecutor,
    SandboxExecutor,
    UnsandboxedExecutionWarning,
    executor_from_config,
    extract_code_blocks,
)
from flowagents.graph import (
    AgentSpec,
    CompiledGraph,
    EdgeSpec,
    Finding,
    GraphBuilder,
    GraphSpec,
    ModelSpec,
    SelectorSpec,
    SubgroupSpec,
    TerminationSpec,
    check_graph,
    compile_graph,
    graph_from_transitions,
    graph_json_schema,
    load_graph_spec,
)
from flowagents.messages import Message, ToolCall, ToolResponse
from flowagents.models import (
    LLMConfig,
    ModelClient,
    ModelRequest,
    ModelResponse,
    ScriptedModel,
    config_list_from_json,
)
from flowagents.runtime import Runner, RunResult, observe
from flowagents.tools import Tool, ToolOutcome, execute_tool_calls

if _typing.TYPE_CHECKING:
    from flowagents.models import OpenAIChatModel

__version__ = "0.1.0"

__all__ = [
    "EVENT_ADAPTER",
    "Agent",
    "AgentSpec",
    "AssistantAgent",
    "ChatResult",
    "CodeBlock",
    "CodeExecutionConfig",
    "CodeExecutor",
    "CodeResult",
    "CompiledGraph",
    "ConfigError",
    "ConsoleInput",
    "ConversableAgent",
    "EdgeSpec",
    "Event",
    "ExecutionLimits",
    "Finding",
    "FlowAgentsError",
    "GraphBuilder",
    "GraphCompileError",
    "GraphLoadError",
    "GraphSpec",
    "GroupChat",
    "GroupChatManager",
    "LLMConfig",
    "LocalExecutor",
    "Message",
    "ModelClient",
    "ModelError",
    "ModelRequest",
    "ModelResponse",
    "ModelSpec",
    "OpenAIChatModel",
    "RunError",
    "RunResult",
    "Runner",
    "SandboxExecutor",
    "ScriptedInput",
    "ScriptedModel",
    "SelectorSpec",
    "SpecError",
    "StoreError",
    "SubgroupSpec",
    "TerminationSpec",
    "Tool",
    "ToolCall",
    "ToolOutcome",
    "ToolResponse",
    "UnsandboxedExecutionWarning",
    "UserProxyAgent",
    "__version__",
    "check_graph",
    "compile_graph",
    "config_list_from_json",
    "execute_tool_calls",
    "executor_from_config",
    "extract_code_blocks",
    "graph_from_transitions",
    "graph_json_schema",
    "initiate_chats",
    "load_graph_spec",
    "observe",
    "register_function",
]


def __getattr__(name: str) -> _typing.Any:
    # The OpenAI client is imported on first use (see flowagents.models).
    if name == "OpenAIChatModel":
        from flowagents.models import OpenAIChatModel

        return OpenAIChatModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
