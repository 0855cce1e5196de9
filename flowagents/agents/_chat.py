"""Two-agent chats (``initiate_chat``, ``send``) and chat sequences, as graph runs.

A chat between two agents is the two-node graph ``a <-> b`` on the runtime; the agents'
own reply functions decide when it stops, as in the familiar API.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from flowagents.agents._builtin_replies import reply_to_message
from flowagents.errors import ConfigError
from flowagents.messages import Message
from flowagents.models import ModelRequest
from flowagents.runtime._outcome import RunResult

if TYPE_CHECKING:
    from flowagents.agents._conversable import ConversableAgent
    from flowagents.graph import CompiledGraph
    from flowagents.runtime._context import EventSink

DEFAULT_SUMMARY_PROMPT = (
    "Summarize the takeaway from the conversation above in a few sentences. "
    "Start directly with the summary, without any introduction."
)


class ChatResult(BaseModel):
    """What a chat produced: its history, a summary, token cost and the human input."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    chat_id: str | None = None
    chat_history: list[dict[str, Any]] = Field(default_factory=list)
    summary: str = ""
    cost: dict[str, Any] = Field(default_factory=dict)
    human_input: list[str] = Field(default_factory=list)
    termination_reason: str = ""
    run: RunResult | None = None


def add_costs(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """The sum of two ChatResult ``cost`` dicts (per block, per model, field by field)."""
    out: dict[str, Any] = {}
    for block in dict.fromkeys([*first, *second]):
        merged = dict(first.get(block, {}))
        for model, usage in second.get(block, {}).items():
            if model == "total_cost":
                merged[model] = merged.get(model, 0) + usage
                continue
            mine = merged.get(model, {})
            merged[model] = {k: mine.get(k, 0) + usage.get(k, 0) for k in {**mine, **usage}}
        out[block] = merged
    return out


@lru_cache(maxsize=1)
def _pair_template() -> CompiledGraph:
    from flowagents.graph import AgentSpec, EdgeSpec, GraphSpec, TerminationSpec, compile_graph

    spec = GraphSpec(
        name="pair",
        mode="dynamic",
        start="second",
        agents=[
            AgentSpec(name="first", type="conversable"),
            AgentSpec(name="second", type="conversable"),
        ],
        edges=[
            EdgeSpec.model_validate({"from": "first", "to": "second"}),
            EdgeSpec.model_validate({"from": "second", "to": "first"}),
        ],
        termination=TerminationSpec(keyword=None, agents_may_stop=True),
    )
    return compile_graph(spec)


@lru_cache(maxsize=64)
def pair_graph(first: str, second: str) -> CompiledGraph:
    """The compiled two-node graph ``first <-> second``: one template, renamed per pair.

    The cache keeps the pairs that chat again and again; it is small because thousands of
    distinct pairs (a batch of chats) would otherwise keep thousands of graphs alive, for the
    garbage collector to walk through on every full collection.
    """
    return _pair_template().relabeled(
        {"first": first, "second": second}, name=f"{first}<->{second}", agent_specs=False
    )


def _as_message(message: str | dict[str, Any], name: str) -> Message:
    return reply_to_message(message, name)


async def _summarize(
    method: str | Callable[..., Any] | None,
    sender: ConversableAgent,
    recipient: ConversableAgent,
    args: dict[str, Any],
    transcript: list[Message],
) -> str:
    if method is None:
        return ""
    if callable(method):
        result = method(sender, recipient, args)
        if inspect.isawaitable(result):
            result = await result
        return str(result)
    if method == "last_msg":
        # Not stripped, as AutoGen: "done TERMINATE" gives "done ".
        last = transcript[-1].text if transcript else ""
        return last.replace("TERMINATE", "")
    if method == "reflection_with_llm":
        # As AutoGen: the recipient's model (else the sender's) reads the recipient's view.
        owner = recipient if recipient.client is not None else sender
        client = owner.client
        if client is None:
            raise ConfigError(
                "summary_method='reflection_with_llm' needs a model on the sender or recipient",
                where=f"chat {sender.name} -> {recipient.name}",
            )
        from flowagents.agents._builtin_replies import to_wire
        from flowagents.runtime._context import current_run

        wire = to_wire(recipient.chat_messages_for_summary(sender))
        prompt = args.get("summary_prompt", DEFAULT_SUMMARY_PROMPT)
        wire.append({"role": args.get("summary_role", "system"), "content": prompt})
        response = await current_run().call_model(
            client, ModelRequest(messages=wire), purpose="summary", usage_of=owner.usage_totals()
        )
        return response.message.text
    raise ConfigError(
        f"summary_method must be 'last_msg', 'reflection_with_llm', a callable or None; "
        f"got {method!r}"
    )


def check_summary_method(
    method: str | Callable[..., Any] | None,
    sender: ConversableAgent,
    recipient: ConversableAgent,
) -> None:
    """Refuse a summary method that cannot work, as AutoGen does before a chat starts.

    Found only at the end, a typo would cost the whole chat (and its model calls) first.
    """
    if method is None or callable(method) or method == "last_msg":
        return
    if method == "reflection_with_llm":
        if recipient.client is None and sender.client is None:
            raise ConfigError(
                "summary_method='reflection_with_llm' needs a model on the sender or recipient",
                where=f"chat {sender.name} -> {recipient.name}",
            )
        return
    raise ConfigError(
        f"summary_method must be 'last_msg', 'reflection_with_llm', a callable or None; "
        f"got {method!r}",
        where=f"chat {sender.name} -> {recipient.name}",
    )


def console_sinks(agents: Collection[ConversableAgent], silent: bool) -> tuple[EventSink, ...]:
    """The console printer for a chat: none when nothing is to be printed.

    As AutoGen: an agent's own ``silent`` (when not None) wins over the call's for the
    messages it sends.
    """
    from flowagents.runtime._console import ConsolePrinter

    quiet = [a.name for a in agents if (silent if a.silent is None else a.silent)]
    if silent and len(quiet) == len(agents):
        return ()
    return (ConsolePrinter(quiet_senders=quiet).sink,)


def with_carryover(message: str | dict[str, Any], carryover: Any) -> str | dict[str, Any]:
    """``message`` with the carryover appended after a ``Context:`` line, as AutoGen.

    ``carryover`` is a string or a list (of strings, message dicts or other values); a
    dict message gets it in its text ``content`` (a copy; a list content gets a first text
    part).
    """
    if not carryover:
        return message
    if isinstance(carryover, str):
        context = "\nContext: \n" + carryover
    elif isinstance(carryover, list):
        context = "\nContext: \n" + "\n".join(_carryover_text(item) for item in carryover)
    else:
        raise ConfigError(
            f"carryover must be a string or a list, got {type(carryover).__name__}"
        )
    if isinstance(message, str):
        return message + context
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": content + context}
    if isinstance(content, list):
        return {**message, "content": [{"type": "text", "text": context}, *content]}
    return message


def _carryover_text(item: Any) -> str:
    if isinstance(item, dict) and "content" in item:
        return str(item["content"])
    return str(item)


async def _opening(
    sender: ConversableAgent,
    recipient: ConversableAgent,
    message: str | dict[str, Any] | Callable[..., Any] | None,
    context: dict[str, Any],
) -> str | dict[str, Any]:
    """The chat's first message, as AutoGen makes it.

    A callable is called with ``(sender, recipient, context)`` (the carryover is in
    ``context``); otherwise see ``ConversableAgent.a_generate_init_message``.
    """
    if callable(message):
        message = message(sender, recipient, context)
    else:
        message = await sender.a_generate_init_message(message, **context)
    if not isinstance(message, str | dict):
        raise ConfigError(
            f"the chat's message must be text or a message dict, got {type(message).__name__}",
            where=f"chat {sender.name} -> {recipient.name}",
        )
    return message


def _runner_for(
    sender: ConversableAgent, recipient: ConversableAgent, *, silent: bool, max_turns: int | None
) -> Any:
    from flowagents.runtime import Runner

    if sender.name == recipient.name:
        raise ConfigError(f"an agent cannot chat with itself ({sender.name!r})")
    return Runner(
        pair_graph(sender.name, recipient.name),
        agents={sender.name: sender, recipient.name: recipient},
        sinks=console_sinks((sender, recipient), silent),
        max_turns=2 * max_turns if max_turns else None,
    )


async def initiate_pair_chat(
    sender: ConversableAgent,
    recipient: ConversableAgent,
    *,
    message: str | dict[str, Any] | Callable[..., Any] | None,
    clear_history: bool,
    silent: bool,
    max_turns: int | None,
    summary_method: str | Callable[..., Any] | None,
    summary_args: dict[str, Any],
    context: dict[str, Any],
) -> ChatResult:
    """Run a chat started by ``sender``; see ConversableAgent.initiate_chat."""
    from flowagents.agents._groupchat import GroupChatManager

    check_summary_method(summary_method, sender, recipient)
    if isinstance(recipient, GroupChatManager):
        if max_turns is None or max_turns > 0:
            message = await _opening(sender, recipient, message, context)
        return await recipient.a_run_group_chat(
            sender,
            message,
            clear_history=clear_history,
            silent=silent,
            summary_method=summary_method,
            summary_args=summary_args,
            max_turns=max_turns,
        )
    for one, other in ((sender, recipient), (recipient, sender)):
        one.reset_consecutive_auto_reply_counter(other)
        # As in AutoGen: a later send() with request_reply=None continues the chat, unless
        # the chat had a fixed number of turns.
        one.reply_at_receive[other] = max_turns is None
        if clear_history:
            one.clear_history(other)
    if max_turns is not None and max_turns <= 0:
        return ChatResult(termination_reason="max_turns")
    message = await _opening(sender, recipient, message, context)
    message = sender.message_before_send(message, recipient, silent)
    runner = _runner_for(sender, recipient, silent=silent, max_turns=max_turns)

    result = await runner.arun(
        _as_message(message, sender.name),
        sender=sender.name,
        finalize=functools.partial(_summarize, summary_method, sender, recipient, summary_args),
    )
    return ChatResult.model_construct(
        chat_id=result.run_id,
        chat_history=sender.chat_messages[recipient],
        summary=result.summary,
        cost=result.cost,
        human_input=result.human_inputs,
        termination_reason=result.reason,
        run=result,
    )


async def continue_pair_chat(
    sender: ConversableAgent,
    recipient: ConversableAgent,
    message: str | dict[str, Any],
    *,
    request_reply: bool,
    silent: bool,
) -> None:
    """``send``: deliver ``message``; with ``request_reply`` the recipient replies.

    The pair talks on only while the sender answers the recipient at receive (as after
    ``initiate_chat``); otherwise the recipient's one reply ends it, as in AutoGen.
    """
    as_message = _as_message(sender.message_before_send(message, recipient, silent), sender.name)
    if not request_reply:
        sender._append_oai_message(as_message, "assistant", recipient)
        recipient._append_oai_message(as_message, "user", sender)
        return
    talks_on = sender.reply_at_receive.get(recipient, False)
    await _runner_for(sender, recipient, silent=silent, max_turns=None if talks_on else 1).arun(
        as_message, sender=sender.name
    )


def initiate_chats(chat_queue: list[dict[str, Any]]) -> list[ChatResult]:
    """Run chats in order, each from its own ``sender`` (AutoGen's ``autogen.initiate_chats``).

    Summaries carry over as in ``ConversableAgent.initiate_chats``.
    """
    from flowagents.agents._sync import run_sync

    return run_sync(initiate_chat_sequence(None, chat_queue))


async def initiate_chat_sequence(
    sender: ConversableAgent | None, chat_queue: list[dict[str, Any]]
) -> list[ChatResult]:
    """Run chats in order, as AutoGen's ``initiate_chats``.

    Each chat gets its own ``carryover`` and the summaries of the finished chats (but those
    in its ``finished_chat_indexes_to_exclude_from_carryover``) as its carryover. A chat's
    own ``sender`` wins over ``sender``.
    """
    queue: list[tuple[ConversableAgent, ConversableAgent, dict[str, Any]]] = []
    for index, chat in enumerate(chat_queue):
        options = dict(chat)
        recipient = options.pop("recipient", None)
        if recipient is None:
            raise ConfigError(f"chat {index} of initiate_chats has no 'recipient'")
        chat_sender = options.pop("sender", None) or sender
        if chat_sender is None:
            raise ConfigError(f"chat {index} of initiate_chats has no 'sender'")
        # Every chat is checked before the first runs: a mistake found half-way would waste
        # the chats (and the model calls) before it.
        check_summary_method(options.get("summary_method", "last_msg"), chat_sender, recipient)
        queue.append((chat_sender, recipient, options))
    results: list[ChatResult] = []
    for chat_sender, recipient, options in queue:
        own = options.pop("carryover", [])
        excluded = set(options.pop("finished_chat_indexes_to_exclude_from_carryover", ()))
        options["carryover"] = [
            *([own] if isinstance(own, str) else own),
            *(result.summary for i, result in enumerate(results) if i not in excluded),
        ]
        results.append(await chat_sender.a_initiate_chat(recipient, **options))
    return results


def nested_chats_to_run(
    chat_queue: list[dict[str, Any]],
    recipient: ConversableAgent,
    messages: list[dict[str, Any]],
    sender: Any,
    config: Any,
) -> list[dict[str, Any]]:
    """The nested chats that run for ``messages``, as AutoGen chooses them.

    The first chat's message defaults to the last message; a callable message is called as
    ``message(recipient, messages, sender, config)``; a chat left without a message is
    skipped. ``recipient`` (the agent with the nested chats) is the default sender.
    """
    last = messages[-1].get("content") if messages else None
    chats: list[dict[str, Any]] = []
    for index, chat in enumerate(chat_queue):
        chat = dict(chat)
        if chat.get("sender") is None:
            chat["sender"] = recipient
        message = chat.get("message")
        if message is None and index == 0:
            message = last
        if callable(message):
            message = message(recipient, messages, sender, config)
        if message:
            chat["message"] = message
            chat.setdefault("silent", True)
            chats.append(chat)
    return chats


async def summary_from_nested_chats(
    chat_queue: list[dict[str, Any]],
    recipient: ConversableAgent,
    messages: list[dict[str, Any]],
    sender: Any,
    config: Any,
) -> tuple[bool, str | None]:
    """The default ``reply_func_from_nested_chats``: run the chats, answer the last summary."""
    chats = nested_chats_to_run(chat_queue, recipient, messages, sender, config)
    if not chats:
        return True, None
    results = await initiate_chat_sequence(recipient, chats)
    return True, results[-1].summary


def nested_chats_reply_function(
    chat_queue: list[dict[str, Any]], reply_func: Callable[..., Any]
) -> Callable[..., Any]:
    """A reply function calling ``reply_func`` with ``chat_queue`` first, as AutoGen does.

    It is async when ``reply_func`` is.
    """
    if inspect.iscoroutinefunction(reply_func):

        async def reply_async(
            recipient: ConversableAgent,
            messages: Any = None,
            sender: Any = None,
            config: Any = None,
        ) -> Any:
            return await reply_func(chat_queue, recipient, messages, sender, config)

        return functools.update_wrapper(reply_async, reply_func)

    def reply(
        recipient: ConversableAgent, messages: Any = None, sender: Any = None, config: Any = None
    ) -> Any:
        return reply_func(chat_queue, recipient, messages, sender, config)

    return functools.update_wrapper(reply, reply_func)


def register_function(
    function: Callable[..., Any],
    *,
    caller: ConversableAgent,
    executor: ConversableAgent,
    name: str | None = None,
    description: str | None = None,
) -> None:
    """Offer ``function`` to ``caller``'s model and let ``executor`` run it."""
    caller.register_for_llm(name=name, description=description)(function)
    executor.register_for_execution(name=name)(function)
