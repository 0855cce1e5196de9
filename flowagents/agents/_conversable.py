"""ConversableAgent: an agent that sends, receives and generates replies.

The agent owns what it says (its reply functions, model, executor, tools) and what it has
heard (``chat_messages``, one list per peer). It owns no conversation loop: every chat, from
``initiate_chat`` to a group chat, runs on the graph runtime. The rules behind its methods
live beside it: ``_replies`` (reply functions), ``_functions`` (tools and the function map)
and ``_history`` (what it has heard).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from flowagents.agents import _builtin_replies as builtin
from flowagents.agents import _history
from flowagents.agents import _hooks as hooks
from flowagents.agents import _usage as usage
from flowagents.agents._agent import Agent
from flowagents.agents._functions import (
    TOOL_ATTRIBUTE,
    F,
    FunctionMap,
    allow_execution,
    can_execute,
    offer_to_model,
    run_function_call,
    update_function_map,
    with_tool_schema,
)
from flowagents.agents._history import to_oai_dict
from flowagents.agents._hooks import Hook
from flowagents.agents._replies import (
    RegisteredReply,
    ReplyFunction,
    ReplyValue,
    Trigger,
    insert_reply,
    replace_reply_function,
    reset_reply_configs,
)
from flowagents.agents._sync import in_sync_call, run_sync
from flowagents.errors import ConfigError
from flowagents.messages import Message
from flowagents.models import ModelClient
from flowagents.models._config import request_fields

if TYPE_CHECKING:
    from flowagents.agents._chat import ChatResult
    from flowagents.execution import CodeExecutor
    from flowagents.runtime._context import InputProvider, UsageTotals
    from flowagents.tools import Tool

HumanInputMode: TypeAlias = Literal["ALWAYS", "TERMINATE", "NEVER"]

DEFAULT_MAX_CONSECUTIVE_AUTO_REPLY = 100
_HUMAN_INPUT_MODES = ("ALWAYS", "TERMINATE", "NEVER")


def _default_is_termination_msg(message: dict[str, Any]) -> bool:
    # Exactly, as AutoGen: " TERMINATE\n" does not end a chat.
    return message.get("content") == "TERMINATE"


class ConversableAgent(Agent):
    """An agent that replies with registered reply functions, a model, code or a human.

    Reply functions run in order; the first that returns ``(True, reply)`` decides the reply.
    The built-in order is: termination and human input, tool calls, code execution, model.
    """

    DEFAULT_SYSTEM_MESSAGE = "You are a helpful AI assistant."

    # The built-in reply functions, by AutoGen's names, for register_reply, exclude= and
    # replace_reply_func. They are coroutines (the sync and a_ names are the same function).
    generate_oai_reply = a_generate_oai_reply = staticmethod(builtin.generate_oai_reply)
    generate_code_execution_reply = staticmethod(builtin.generate_code_execution_reply)
    generate_tool_calls_reply = a_generate_tool_calls_reply = staticmethod(
        builtin.generate_tool_calls_reply
    )
    check_termination_and_human_reply = a_check_termination_and_human_reply = staticmethod(
        builtin.check_termination_and_human_reply
    )

    def __init__(
        self,
        name: str,
        system_message: str | list[str] | None = DEFAULT_SYSTEM_MESSAGE,
        is_termination_msg: Callable[[dict[str, Any]], bool] | None = None,
        max_consecutive_auto_reply: int | None = None,
        human_input_mode: HumanInputMode = "TERMINATE",
        function_map: dict[str, Callable[..., Any]] | None = None,
        code_execution_config: dict[str, Any] | Literal[False] | Any = False,
        llm_config: dict[str, Any] | Literal[False] | ModelClient | Any | None = None,
        default_auto_reply: str | dict[str, Any] = "",
        description: str | None = None,
        chat_messages: dict[Agent, list[dict[str, Any]]] | None = None,
        silent: bool | None = None,
        input_provider: InputProvider | None = None,
    ) -> None:
        super().__init__(name, description if description is not None else "")
        if human_input_mode not in _HUMAN_INPUT_MODES:
            raise ConfigError(
                f"human_input_mode must be one of {', '.join(_HUMAN_INPUT_MODES)}, "
                f"got {human_input_mode!r}",
                where=f"agent {name}",
            )
        if isinstance(system_message, list):
            system_message = "\n".join(system_message)
        self._system_message = system_message or ""
        if description is None:
            self._description = self._system_message
        self._is_termination_msg = is_termination_msg or _default_is_termination_msg
        self._max_consecutive_auto_reply = (
            DEFAULT_MAX_CONSECUTIVE_AUTO_REPLY
            if max_consecutive_auto_reply is None
            else max_consecutive_auto_reply
        )
        # Plain dicts, not defaultdicts: an empty dict costs the garbage collector nothing,
        # and a program may hold thousands of agents.
        self._max_consecutive_auto_reply_dict: dict[Any, int] = {}
        self._consecutive_auto_reply_counter: dict[Any, int] = {}
        self._reply_at_receive: dict[Any, bool] = {}
        self.human_input_mode: HumanInputMode = human_input_mode
        self.input_provider = input_provider
        self._default_auto_reply = default_auto_reply
        self._oai_messages: defaultdict[Any, list[dict[str, Any]]] = defaultdict(list)
        if chat_messages:
            self._oai_messages.update(chat_messages)
        self._reply_func_list: list[RegisteredReply] = []
        # Async reply functions registered with ignore_async_in_sync_chat.
        self._ignored_in_sync_chat: list[ReplyFunction] = []
        self._function_map: FunctionMap = dict(function_map or {})
        self._tools_for_llm: dict[str, Tool] = {}
        self.llm_config = llm_config
        self.client: ModelClient | None = self._make_client(llm_config)
        self._request_fields = request_fields(llm_config)
        self._code_execution_config = code_execution_config
        self._code_executor: CodeExecutor | None = None
        self.stop_reason: str | None = None
        self._finished_chats: list[ChatResult] = []
        # As AutoGen: when not None, whether this agent's messages are printed, whatever
        # the chat's own ``silent`` says.
        self.silent = silent
        # Made on first use: most agents have no hooks, and an agent is kept small.
        self._hook_lists: dict[str, list[Hook]] | None = None
        self._usage: UsageTotals | None = None  # from the first model call on

        self.register_reply([Agent, None], builtin.generate_oai_reply)
        if code_execution_config is not False:
            self.register_reply([Agent, None], builtin.generate_code_execution_reply)
        self.register_reply([Agent, None], builtin.generate_tool_calls_reply)
        self.register_reply([Agent, None], builtin.check_termination_and_human_reply)

    # -- configuration -------------------------------------------------------------------

    @staticmethod
    def _make_client(llm_config: Any) -> ModelClient | None:
        if llm_config is False or llm_config is None:
            return None
        from flowagents.models import model_from_llm_config

        return model_from_llm_config(llm_config)

    @property
    def system_message(self) -> str:
        """The system message sent before every model request."""
        return self._system_message

    def update_system_message(self, system_message: str) -> None:
        """Replace the system message."""
        self._system_message = system_message

    def max_consecutive_auto_reply(self, sender: Agent | None = None) -> int:
        """How many auto-replies in a row are allowed (to ``sender``, when given)."""
        if sender is None:
            return self._max_consecutive_auto_reply
        return self._max_consecutive_auto_reply_dict.get(sender, self._max_consecutive_auto_reply)

    def update_max_consecutive_auto_reply(self, value: int, sender: Agent | None = None) -> None:
        """Change the auto-reply limit, for everyone or for one sender."""
        if sender is None:
            self._max_consecutive_auto_reply = value
            for key in self._max_consecutive_auto_reply_dict:
                self._max_consecutive_auto_reply_dict[key] = value
        else:
            self._max_consecutive_auto_reply_dict[sender] = value

    @property
    def code_executor(self) -> CodeExecutor | None:
        """The executor for code blocks (built lazily from code_execution_config)."""
        if self._code_execution_config is False:
            return None
        if self._code_executor is None:
            from flowagents.execution import executor_from_config

            self._code_executor = executor_from_config(self._code_execution_config)
        return self._code_executor

    @property
    def function_map(self) -> dict[str, Callable[..., Any] | Tool]:
        """Functions this agent executes when a message asks for them by name."""
        return self._function_map

    def register_function(self, function_map: dict[str, Callable[..., Any] | None]) -> None:
        """Add (or, with None, remove) functions this agent can execute."""
        update_function_map(self._function_map, function_map)

    @property
    def tools(self) -> list[Tool]:
        """Tools offered to this agent's model."""
        return list(self._tools_for_llm.values())

    def register_for_llm(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        api_style: Literal["function", "tool"] = "tool",
    ) -> Callable[[F], F]:
        """Decorator: offer the function to this agent's model as a tool.

        The schema comes from the type hints (``Annotated[T, "description"]`` for
        parameters) through pydantic. ``api_style="function"`` (AutoGen's legacy
        ``functions``) is accepted; the function is offered as a tool all the same. A dict
        ``llm_config`` is replaced by a copy listing the schema in its ``tools``, as in AutoGen.
        """
        if api_style not in ("function", "tool"):
            raise ConfigError(
                f"api_style must be 'function' or 'tool', got {api_style!r}",
                where=f"agent {self.name}",
            )

        offer = offer_to_model(self._tools_for_llm, name, description)

        def decorator(function: F) -> F:
            offer(function)
            # Only for reading, as in AutoGen (llm_config["tools"]): requests are built from
            # the registered tools and the config's own, each sent once.
            self.llm_config = with_tool_schema(self.llm_config, getattr(function, TOOL_ATTRIBUTE))
            return function

        return decorator

    def register_for_execution(self, name: str | None = None) -> Callable[[F], F]:
        """Decorator: let this agent execute the function when a model calls it."""
        return allow_execution(self._function_map, name)

    def register_nested_chats(
        self,
        chat_queue: list[dict[str, Any]],
        trigger: Trigger,
        reply_func_from_nested_chats: str | ReplyFunction = "summary_from_nested_chats",
        position: int = 2,
        use_async: bool | None = None,
        **kwargs: Any,
    ) -> None:
        """When ``trigger`` matches, answer with the outcome of a sequence of nested chats.

        As AutoGen: the first chat's message defaults to the triggering message; a callable
        message is called as ``message(recipient, messages, sender, config)``; later chats
        without a message are skipped; each summary carries over into the next chat, and the
        last summary is the reply. A custom ``reply_func_from_nested_chats`` is called as
        ``f(chat_queue, recipient, messages, sender, config)``. The nested chats are recorded
        in the enclosing run under the current step. ``use_async`` is accepted: nested chats
        always run on the event loop, in sync and async chats alike.
        """
        from flowagents.agents._chat import nested_chats_reply_function, summary_from_nested_chats

        if reply_func_from_nested_chats == "summary_from_nested_chats":
            reply_func_from_nested_chats = summary_from_nested_chats
        if not callable(reply_func_from_nested_chats):
            raise ConfigError(
                "reply_func_from_nested_chats must be 'summary_from_nested_chats' or a "
                f"callable, got {reply_func_from_nested_chats!r}",
                where=f"agent {self.name}",
            )
        self.register_reply(
            trigger,
            nested_chats_reply_function(chat_queue, reply_func_from_nested_chats),
            position,
            kwargs.get("config"),
            kwargs.get("reset_config"),
        )

    # -- reply functions -----------------------------------------------------------------

    def register_reply(
        self,
        trigger: Trigger,
        reply_func: ReplyFunction,
        position: int = 0,
        config: Any = None,
        reset_config: Callable[[Any], None] | None = None,
        *,
        ignore_async_in_sync_chat: bool = False,
        remove_other_reply_funcs: bool = False,
    ) -> None:
        """Register ``reply_func(recipient, messages, sender, config) -> (final, reply)``.

        ``trigger`` selects the senders it answers: an agent class, an agent, a name, a
        callable ``(sender) -> bool``, None (no sender) or a list of those. Position 0 puts it
        first. Async functions are awaited; with ``ignore_async_in_sync_chat`` an async one is
        skipped in chats started synchronously (``initiate_chat``), as in AutoGen.
        """
        insert_reply(
            self._reply_func_list,
            self._ignored_in_sync_chat,
            trigger,
            reply_func,
            position,
            config,
            reset_config,
            ignore_async_in_sync_chat=ignore_async_in_sync_chat,
            remove_other_reply_funcs=remove_other_reply_funcs,
            owner=self,
        )

    def replace_reply_func(
        self, old_reply_func: ReplyFunction, new_reply_func: ReplyFunction
    ) -> None:
        """Swap one registered reply function for another, keeping its trigger and position."""
        replace_reply_function(
            self._reply_func_list, self._ignored_in_sync_chat, old_reply_func, new_reply_func
        )

    @property
    def reply_functions(self) -> list[ReplyFunction]:
        """The registered reply functions, in the order they are tried."""
        return [entry.function for entry in self._reply_func_list]

    def reset_consecutive_auto_reply_counter(self, sender: Agent | None = None) -> None:
        """Forget how many auto-replies were sent (to ``sender``, or to everyone)."""
        if sender is None:
            self._consecutive_auto_reply_counter.clear()
        else:
            self._consecutive_auto_reply_counter[sender] = 0

    @property
    def reply_at_receive(self) -> dict[Any, bool]:
        """Per peer: whether a message it sends with ``request_reply=None`` is answered.

        ``initiate_chat`` (without ``max_turns``) sets it for both agents of the chat.
        """
        return self._reply_at_receive

    def stop_reply_at_receive(self, sender: Agent | None = None) -> None:
        """Stop answering ``sender`` (or everyone) when a send leaves ``request_reply`` None."""
        if sender is None:
            self._reply_at_receive.clear()
        else:
            self._reply_at_receive[sender] = False

    async def a_generate_reply(
        self,
        messages: list[dict[str, Any]] | None = None,
        sender: Any = None,
        exclude: Sequence[ReplyFunction] = (),
    ) -> ReplyValue:
        """Produce the reply to ``messages`` (default: what ``sender`` said to this agent)."""
        if messages is None:
            messages = self._oai_messages[sender] if sender is not None else []
        if self._ignored_in_sync_chat and in_sync_call():
            exclude = (*exclude, *self._ignored_in_sync_chat)
        if self._hook_lists is not None:
            messages = self.process_last_received_message(messages)
            messages = self.process_all_messages_before_reply(messages)
        entries = self._reply_func_list
        # By index: a list iterator would be one more object per turn for the garbage
        # collector to track while the reply is awaited (thousands of chats wait at once).
        for index in range(len(entries)):
            entry = entries[index]
            function = entry.function
            if exclude and function in exclude:
                continue
            if not entry.matches(sender):
                continue
            if entry.is_async:
                final, reply = await function(self, messages, sender, entry.config)
            else:
                final, reply = function(self, messages, sender, entry.config)
            if final:
                return reply  # type: ignore[no-any-return]
        return self._default_auto_reply

    # -- usage -----------------------------------------------------------------------------

    def usage_totals(self) -> UsageTotals:
        """What this agent's model has spent, in replies and summaries, over every run."""
        if self._usage is None:
            from flowagents.runtime._context import UsageTotals

            self._usage = UsageTotals()
        return self._usage

    def get_total_usage(self) -> dict[str, Any] | None:
        """AutoGen's total usage summary (cache hits included); None before any model call."""
        return None if self.client is None else usage.summaries(self._usage)[1]

    def get_actual_usage(self) -> dict[str, Any] | None:
        """AutoGen's actual usage summary (cache hits excluded); None when nothing was spent."""
        return None if self.client is None else usage.summaries(self._usage)[0]

    def print_usage_summary(self, mode: str | list[str] = ["actual", "total"]) -> None:  # noqa: B006
        """Print the usage summaries, as AutoGen (``mode``: "actual", "total" or both)."""
        if self.client is None:
            print(f"No cost incurred from agent '{self.name}'.")
            return
        print(f"Agent '{self.name}':")
        print(usage.usage_report(self._usage, mode))

    # -- hooks -----------------------------------------------------------------------------

    @property
    def hook_lists(self) -> dict[str, list[Hook]]:
        """The registered hooks, per hookable method, in registration order."""
        if self._hook_lists is None:
            self._hook_lists = hooks.new_hook_lists()
        return self._hook_lists

    def register_hook(self, hookable_method: str, hook: Hook) -> None:
        """Call ``hook`` in ``hookable_method``, after the hooks registered before it.

        ``process_last_received_message``: ``hook(content) -> content`` of the last message
        the agent replies to; ``process_all_messages_before_reply``: ``hook(messages) ->
        messages`` it replies to; ``process_message_before_send``: ``hook(sender=, message=,
        recipient=, silent=) -> message`` for every message it sends. The first two work on
        copies: what the agent has heard does not change.
        """
        hooks.add_hook(self.hook_lists, hookable_method, hook, self.name)

    def process_last_received_message(
        self, messages: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """``messages`` with the last one's content passed through the hooks."""
        if self._hook_lists is None:
            return messages
        found = self._hook_lists["process_last_received_message"]
        return hooks.process_last_received_message(found, messages)

    def process_all_messages_before_reply(
        self, messages: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """``messages`` passed through the hooks."""
        if self._hook_lists is None:
            return messages
        found = self._hook_lists["process_all_messages_before_reply"]
        return hooks.process_all_messages_before_reply(found, messages)

    def message_before_send(
        self, message: str | dict[str, Any], recipient: Any, silent: bool | None = False
    ) -> str | dict[str, Any]:
        """What this agent sends for ``message``: the message passed through its send hooks."""
        if self._hook_lists is None:
            return message
        found = self._hook_lists["process_message_before_send"]
        shown = self.silent if self.silent is not None else bool(silent)
        return hooks.process_message_before_send(  # type: ignore[no-any-return]
            found, self, message, recipient, shown
        )

    def generate_reply(
        self,
        messages: list[dict[str, Any]] | None = None,
        sender: Any = None,
        exclude: Sequence[ReplyFunction] = (),
    ) -> ReplyValue:
        """Synchronous ``a_generate_reply``."""
        return run_sync(self.a_generate_reply(messages, sender, exclude))

    # -- messages --------------------------------------------------------------------------

    @property
    def chat_messages(self) -> dict[Any, list[dict[str, Any]]]:
        """Everything said between this agent and each peer, in OpenAI form."""
        return self._oai_messages

    def chat_messages_for_summary(self, agent: Agent) -> list[dict[str, Any]]:
        """The messages with ``agent`` that a summary should read."""
        return self._oai_messages[agent]

    def last_message(self, agent: Agent | None = None) -> dict[str, Any] | None:
        """The last message exchanged with ``agent`` (or with the only peer), as AutoGen.

        None when this agent has talked with no one. Without ``agent``, several peers are
        a ValueError; an ``agent`` never talked with is a KeyError.
        """
        return _history.last_message(self._oai_messages, agent, self.name)

    def clear_history(
        self, recipient: Agent | None = None, nr_messages_to_preserve: int | None = None
    ) -> None:
        """Forget the messages with ``recipient``, or with everyone, as AutoGen.

        ``nr_messages_to_preserve`` keeps that many newest messages per peer (one more where
        that would split a tool call from its responses); only without ``recipient``.
        """
        _history.clear_history(self._oai_messages, recipient, nr_messages_to_preserve)

    def _append_oai_message(self, message: Message, role: str, peer: Any) -> None:
        self._oai_messages[peer].append(to_oai_dict(message, role))

    def send(
        self,
        message: str | dict[str, Any],
        recipient: ConversableAgent,
        request_reply: bool | None = None,
        silent: bool | None = False,
    ) -> None:
        """Send ``message``; the recipient replies if asked to.

        ``request_reply=None`` asks when the recipient answers this agent at receive (see
        ``reply_at_receive``); the pair talks on while each answers the other.
        """
        run_sync(self.a_send(message, recipient, request_reply, silent))

    async def a_send(
        self,
        message: str | dict[str, Any],
        recipient: ConversableAgent,
        request_reply: bool | None = None,
        silent: bool | None = False,
    ) -> None:
        """Asynchronous ``send``."""
        from flowagents.agents._chat import continue_pair_chat

        if request_reply is None:
            request_reply = recipient.reply_at_receive.get(self, False)
        await continue_pair_chat(
            self, recipient, message, request_reply=request_reply, silent=bool(silent)
        )

    # -- chats -----------------------------------------------------------------------------

    def initiate_chat(
        self,
        recipient: ConversableAgent,
        clear_history: bool = True,
        silent: bool | None = False,
        cache: Any = None,
        max_turns: int | None = None,
        summary_method: str | Callable[..., Any] | None = "last_msg",
        summary_args: dict[str, Any] | None = None,
        message: str | dict[str, Any] | Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Start a chat with ``recipient`` by sending ``message``; run until one side stops."""
        return run_sync(
            self.a_initiate_chat(
                recipient,
                clear_history=clear_history,
                silent=silent,
                cache=cache,
                max_turns=max_turns,
                summary_method=summary_method,
                summary_args=summary_args,
                message=message,
                **kwargs,
            )
        )

    async def a_initiate_chat(
        self,
        recipient: ConversableAgent,
        clear_history: bool = True,
        silent: bool | None = False,
        cache: Any = None,
        max_turns: int | None = None,
        summary_method: str | Callable[..., Any] | None = "last_msg",
        summary_args: dict[str, Any] | None = None,
        message: str | dict[str, Any] | Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Asynchronous ``initiate_chat``."""
        from flowagents.agents._chat import initiate_pair_chat

        return await initiate_pair_chat(
            self,
            recipient,
            message=message,
            clear_history=clear_history,
            silent=bool(silent),
            max_turns=max_turns,
            summary_method=summary_method,
            summary_args=summary_args or {},
            context=kwargs,
        )

    def generate_init_message(
        self, message: str | dict[str, Any] | None, **kwargs: Any
    ) -> str | dict[str, Any]:
        """Synchronous ``a_generate_init_message``."""
        return run_sync(self.a_generate_init_message(message, **kwargs))

    async def a_generate_init_message(
        self, message: str | dict[str, Any] | None, **kwargs: Any
    ) -> str | dict[str, Any]:
        """A chat's first message, as AutoGen makes it.

        ``message``, asked of the human when None, with the ``carryover`` of ``kwargs``
        appended after a ``Context:`` line.
        """
        from flowagents.agents._chat import with_carryover

        if message is None:
            message = await self.a_get_human_input(">")
        return with_carryover(message, kwargs.get("carryover"))

    def initiate_chats(self, chat_queue: list[dict[str, Any]]) -> list[ChatResult]:
        """Run several chats in order; each summary carries over into the next message."""
        return run_sync(self.a_initiate_chats(chat_queue))

    async def a_initiate_chats(self, chat_queue: list[dict[str, Any]]) -> list[ChatResult]:
        """Asynchronous ``initiate_chats``."""
        from flowagents.agents._chat import initiate_chat_sequence

        self._finished_chats = await initiate_chat_sequence(self, chat_queue)
        return self._finished_chats

    def get_chat_results(self, chat_index: int | None = None) -> list[ChatResult] | ChatResult:
        """The results of the last ``initiate_chats`` (one of them with ``chat_index``)."""
        if chat_index is not None:
            return self._finished_chats[chat_index]
        return self._finished_chats

    def receive(
        self,
        message: str | dict[str, Any],
        sender: ConversableAgent,
        request_reply: bool | None = None,
        silent: bool | None = False,
    ) -> None:
        """Synchronous ``a_receive``."""
        run_sync(self.a_receive(message, sender, request_reply, silent))

    async def a_receive(
        self,
        message: str | dict[str, Any],
        sender: ConversableAgent,
        request_reply: bool | None = None,
        silent: bool | None = False,
    ) -> None:
        """Hear ``message`` from ``sender`` and, if asked, send the reply back, as AutoGen.

        ``request_reply=None`` replies when this agent answers ``sender`` at receive. Unlike
        ``sender.send(...)``, the sender's own history does not get the message.
        """
        from flowagents.agents._builtin_replies import reply_to_message

        self._append_oai_message(reply_to_message(message, sender.name), "user", sender)
        if request_reply is False or (
            request_reply is None and not self._reply_at_receive.get(sender, False)
        ):
            return
        reply = await self.a_generate_reply(self._oai_messages[sender], sender)
        if reply is not None:
            await self.a_send(reply, sender, silent=silent)

    def reset(self) -> None:
        """Forget every chat, counter and reply-at-receive flag; run each ``reset_config``."""
        self.clear_history()
        self.reset_consecutive_auto_reply_counter()
        self.stop_reply_at_receive()
        reset_reply_configs(self._reply_func_list)

    def can_execute_function(self, name: str | list[str]) -> bool:
        """Whether this agent can execute the function ``name`` (every one of a list)."""
        return can_execute(self._function_map, name)

    def execute_function(
        self, func_call: dict[str, Any], verbose: bool = False
    ) -> tuple[bool, dict[str, Any]]:
        """Synchronous ``a_execute_function``."""
        return run_sync(self.a_execute_function(func_call))

    async def a_execute_function(self, func_call: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Run ``{"name", "arguments"}`` with this agent's functions, as AutoGen.

        Returns whether it succeeded and the ``role: function`` message of its result.
        """
        return await run_function_call(self._function_map, func_call)

    # -- human input -----------------------------------------------------------------------

    async def a_get_human_input(self, prompt: str) -> str:
        """Ask the human behind this agent; recorded as events of the current run.

        A replaced ``get_human_input`` (patched on the agent or overridden in a subclass)
        answers instead of the input provider, as in AutoGen; it runs in a worker thread.
        """
        from flowagents.runtime._context import current_run

        provider = self.input_provider
        if getattr(self.get_human_input, "__func__", None) is not ConversableAgent.get_human_input:
            from flowagents.agents._human import FunctionInput

            provider = FunctionInput(self.get_human_input)
        return await current_run().get_human_input(prompt, agent=self.name, provider=provider)

    def get_human_input(self, prompt: str) -> str:
        """Synchronous ``a_get_human_input``.

        Called from a replacement (``super().get_human_input``), it reads the input provider
        without recording: the run records what the replacement returns, once.
        """
        from flowagents.agents._human import answering_for_replacement

        if answering_for_replacement():
            from flowagents.runtime._context import current_run

            source = current_run().input_source(self.input_provider)
            return run_sync(source.get_input(prompt, agent=self.name))
        return run_sync(self.a_get_human_input(prompt))
