"""GroupChat and GroupChatManager: a group conversation compiled to a dynamic graph.

The familiar arguments map onto the graph: ``allowed_or_disallowed_speaker_transitions`` are
its edges, ``speaker_selection_method`` its selector, ``max_round`` its turn limit and the
manager's ``is_termination_msg`` its termination test.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from flowagents.agents._agent import Agent
from flowagents.agents._builtin_replies import reply_to_message
from flowagents.agents._chat import ChatResult, _summarize, add_costs, console_sinks
from flowagents.agents._conversable import ConversableAgent
from flowagents.errors import ConfigError
from flowagents.messages import Message

if TYPE_CHECKING:
    from flowagents.graph import CompiledGraph
    from flowagents.runtime import SelectionMethod, SelectorPrompt
    from flowagents.runtime._scope import Scope

INTRODUCTION = (
    "Hello everyone. We have assembled a team to answer questions and solve tasks. "
    "In attendance are:\n\n"
)


@dataclass
class GroupChat:
    """A group of agents; who may follow whom, and how the next speaker is chosen."""

    agents: list[ConversableAgent]
    messages: list[dict[str, Any]] = field(default_factory=list)
    max_round: int = 10
    admin_name: str = "Admin"
    func_call_filter: bool = True
    speaker_selection_method: (
        Literal["auto", "manual", "random", "round_robin"] | Callable[..., Any]
    ) = "auto"
    max_retries_for_selecting_speaker: int = 2
    allow_repeat_speaker: bool | list[Agent] | None = True
    allowed_or_disallowed_speaker_transitions: dict[Any, list[Any]] | None = None
    speaker_transitions_type: Literal["allowed", "disallowed"] | None = None
    send_introductions: bool = False
    select_speaker_fallback: Literal["error", "first", "round_robin"] = "round_robin"
    # AutoGen's templates for "auto" selection ({roles}, {agentlist}); None: our own prompt.
    select_speaker_message_template: str | None = None
    select_speaker_prompt_template: str | None = None
    role_for_select_speaker_messages: str = "system"
    # Accepted for AutoGen scripts, without effect (see docs/agents.md).
    enable_clear_history: bool = False
    select_speaker_auto_multiple_template: str | None = None
    select_speaker_auto_none_template: str | None = None
    select_speaker_auto_verbose: bool | None = False

    def __post_init__(self) -> None:
        names = [agent.name for agent in self.agents]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigError(f"GroupChat agents must have unique names; repeated: {duplicates}")
        if (
            self.allowed_or_disallowed_speaker_transitions is not None
            and self.speaker_transitions_type is None
        ):
            raise ConfigError(
                "allowed_or_disallowed_speaker_transitions needs speaker_transitions_type "
                "('allowed' or 'disallowed')"
            )
        if (
            isinstance(self.allow_repeat_speaker, list)
            and self.allowed_or_disallowed_speaker_transitions
        ):
            raise ConfigError(
                "give either allow_repeat_speaker as a list or speaker transitions, not both"
            )

    @property
    def agent_names(self) -> list[str]:
        """The members' names, in order."""
        return [agent.name for agent in self.agents]

    def agent_by_name(self, name: str) -> ConversableAgent | None:
        """The member called ``name``."""
        return next((agent for agent in self.agents if agent.name == name), None)

    def next_agent(self, agent: Agent, agents: Sequence[Agent] | None = None) -> Agent:
        """The member after ``agent`` in order (among ``agents`` when given)."""
        order = self.agents
        pool = list(agents) if agents is not None else list(order)
        start = order.index(agent) + 1 if agent in order else 0  # type: ignore[arg-type,unused-ignore]
        for offset in range(len(order)):
            candidate = order[(start + offset) % len(order)]
            if candidate in pool:
                return candidate
        return pool[0]

    def reset(self) -> None:
        """Forget the messages."""
        self.messages.clear()

    def append(self, message: dict[str, Any], speaker: Agent) -> None:
        """Add a message spoken by ``speaker``."""
        self.messages.append({**message, "name": speaker.name})

    def introductions_msg(self) -> str:
        """The message that introduces every member to the others."""
        roles = "\n".join(f"{agent.name}: {agent.description}".strip() for agent in self.agents)
        return f"{INTRODUCTION}{roles}\n\nRead the above for context only; do not reply to it."

    def _transitions(self) -> tuple[dict[Any, list[Any]] | None, Literal["allowed", "disallowed"]]:
        if self.allowed_or_disallowed_speaker_transitions is not None:
            assert self.speaker_transitions_type is not None
            return self.allowed_or_disallowed_speaker_transitions, self.speaker_transitions_type
        if isinstance(self.allow_repeat_speaker, list):
            repeaters = {agent.name for agent in self.allow_repeat_speaker}
            return {
                agent: [
                    other for other in self.agents if other is not agent or agent.name in repeaters
                ]
                for agent in self.agents
            }, "allowed"
        return None, "allowed"

    def compile(self) -> CompiledGraph:
        """The dynamic graph of this group chat (compiled once per distinct shape)."""
        transitions, kind = self._transitions()
        edges = (
            None
            if transitions is None
            else tuple(
                (_name_of(source), tuple(_name_of(t) for t in targets))
                for source, targets in transitions.items()
            )
        )
        return _compile_group(
            tuple((agent.name, agent.description) for agent in self.agents),
            edges,
            kind,
            bool(self.allow_repeat_speaker),
            self.max_round,
            self.select_speaker_fallback,
            self.max_retries_for_selecting_speaker,
        )

    def selector_prompt(self) -> SelectorPrompt:
        """The selection templates as the runtime's selector takes them."""
        from flowagents.runtime import SelectorPrompt

        return SelectorPrompt(
            system=self.select_speaker_message_template,
            prompt=self.select_speaker_prompt_template,
            role=self.role_for_select_speaker_messages,
        )

    def selection_method(self, initiator: Agent | None = None) -> SelectionMethod:
        """The selection method as the runtime takes it (callables adapted to node names).

        A callable is given ``initiator`` as the last speaker when the last speaker is not a
        member (the opening of a chat started from outside the group).
        """
        method = self.speaker_selection_method
        if not callable(method):
            return method

        def choose(current: str, candidates: Sequence[str], scope: Scope) -> str | None:
            last = self.agent_by_name(current) or initiator
            answer = method(last, self)
            if answer is None or isinstance(answer, str):
                return answer
            return str(answer.name)

        return choose


def _name_of(agent: Any) -> str:
    return agent if isinstance(agent, str) else str(agent.name)


@lru_cache(maxsize=128)
def _compile_group(
    members: tuple[tuple[str, str], ...],
    transitions: tuple[tuple[str, tuple[str, ...]], ...] | None,
    kind: Literal["allowed", "disallowed"],
    allow_repeat_speaker: bool,
    max_round: int,
    fallback: Literal["error", "first", "round_robin"],
    max_retries: int,
) -> CompiledGraph:
    """Compile a group's graph from plain data, so equal groups share one compiled graph."""
    from flowagents.graph import AgentSpec, SelectorSpec, TerminationSpec, graph_from_transitions

    return graph_from_transitions(
        [AgentSpec(name=name, type="conversable", description=about) for name, about in members],
        None if transitions is None else {source: list(targets) for source, targets in transitions},
        kind,
        name="groupchat",
        allow_repeat_speaker=allow_repeat_speaker,
        selector=SelectorSpec(fallback=fallback, max_retries=max_retries),
        termination=TerminationSpec(keyword=None, max_turns=max_round),
    )


class GroupChatManager(ConversableAgent):
    """Runs a GroupChat when a chat is started with it; its model picks speakers ("auto")."""

    def __init__(
        self,
        groupchat: GroupChat,
        name: str = "chat_manager",
        max_consecutive_auto_reply: int | None = sys.maxsize,
        human_input_mode: Literal["ALWAYS", "TERMINATE", "NEVER"] = "NEVER",
        system_message: str | list[str] | None = "Group chat manager.",
        silent: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            name,
            system_message=system_message,
            max_consecutive_auto_reply=max_consecutive_auto_reply,
            human_input_mode=human_input_mode,
            **kwargs,
        )
        self.groupchat = groupchat
        self._silent = silent
        self._graph: CompiledGraph | None = None
        self.register_reply(Agent, GroupChatManager._reply_by_running_group)

    def chat_messages_for_summary(self, agent: Agent) -> list[dict[str, Any]]:
        """The group's messages, whoever ``agent`` is (as AutoGen's manager summarizes)."""
        return self.groupchat.messages

    @property
    def graph(self) -> CompiledGraph:
        """The compiled group graph (compiled once)."""
        if self._graph is None:
            self._graph = self.groupchat.compile()
        return self._graph

    @staticmethod
    async def _reply_by_running_group(
        manager: GroupChatManager, messages: list[dict[str, Any]], sender: Any, config: Any
    ) -> tuple[bool, str | None]:
        """As a reply function: run the group on the last message, answer with the outcome."""
        if not messages or not isinstance(sender, ConversableAgent):
            return False, None
        result = await manager.a_run_group_chat(
            sender, messages[-1], clear_history=False, silent=manager._silent
        )
        return True, result.summary or None

    async def a_run_group_chat(
        self,
        sender: ConversableAgent,
        message: Any,
        *,
        clear_history: bool = True,
        silent: bool = False,
        summary_method: str | Callable[..., Any] | None = "last_msg",
        summary_args: dict[str, Any] | None = None,
        max_turns: int | None = None,
    ) -> ChatResult:
        """Run the group chat with ``message`` from ``sender`` as its first message.

        With ``max_turns``, the group runs up to that many times, ``sender`` replying to what
        it heard between runs, as in AutoGen; the result covers them all.
        """
        if max_turns is not None and max_turns <= 0:
            return ChatResult(termination_reason="max_turns")
        options: dict[str, Any] = {
            "silent": silent,
            "summary_method": summary_method,
            "summary_args": summary_args,
        }
        result = await self._run_group(sender, message, clear_history=clear_history, **options)
        for _ in range(1, max_turns or 1):
            follow_up = await sender.a_generate_reply(sender.chat_messages[self], self)
            if follow_up is None:
                break
            later = await self._run_group(sender, follow_up, clear_history=False, **options)
            result = later.model_copy(
                update={
                    "cost": add_costs(result.cost, later.cost),
                    "human_input": [*result.human_input, *later.human_input],
                }
            )
        return result

    async def _run_group(
        self,
        sender: ConversableAgent,
        message: Any,
        *,
        clear_history: bool,
        silent: bool,
        summary_method: str | Callable[..., Any] | None,
        summary_args: dict[str, Any] | None,
    ) -> ChatResult:
        """One run of the group graph, opened by ``message`` from ``sender``."""
        from flowagents.runtime import Runner
        group = self.groupchat
        if clear_history:
            group.reset()
            for agent in group.agents:
                agent.clear_history(self)
        for agent in group.agents:
            agent.reset_consecutive_auto_reply_counter(self)
        if callable(message):
            message = message(sender, self, {})
        if message is None:
            message = await sender.a_get_human_input(">")
        graph = self.graph
        members = {agent.name: agent for agent in group.agents}
        message = sender.message_before_send(message, self, silent)
        as_message = reply_to_message(message, sender.name)
        preamble: list[Message] = []
        if group.send_introductions:
            preamble.append(Message(role="user", name=self.name, content=group.introductions_msg()))
        runner = Runner(
            graph,
            agents=members,
            hub=self,
            selection=group.selection_method(initiator=sender),
            selector_client=self.client,
            selector_input=self.input_provider,
            sinks=console_sinks(
                [*group.agents, *([] if sender.name in members else [sender])],
                silent or self._silent,
            ),
            is_termination_msg=self._is_termination_msg,
            observers=[group.messages],
            select_first_speaker=True,
            free_selection=callable(group.speaker_selection_method),
            selector_prompt=group.selector_prompt(),
            # "random" draws as AutoGen's does: a new order every chat, repeated after
            # random.seed(n). The run's manifest keeps the seed it drew.
            seed=random.getrandbits(32) if group.speaker_selection_method == "random" else 0,
        )

        async def finalize(transcript: list[Message]) -> str:
            return await _summarize(summary_method, sender, self, summary_args or {}, transcript)

        in_group = sender.name in members
        if not in_group:
            # A member hears the opening through the group; an outsider keeps it as AutoGen's
            # send() does, so that its later replies (max_turns) read it.
            sender._append_oai_message(as_message, "assistant", self)
            self._append_oai_message(as_message, "user", sender)
        result = await runner.arun(
            as_message if in_group else as_message.model_copy(update={"role": "user"}),
            sender=sender.name if in_group else None,
            preamble=preamble,
            finalize=finalize,
        )
        return ChatResult.model_construct(
            chat_id=result.run_id,
            # As AutoGen: the initiator's view (its own messages are "assistant"); an
            # outsider heard only what it sent.
            chat_history=sender.chat_messages[self],
            summary=result.summary,
            cost=result.cost,
            human_input=result.human_inputs,
            termination_reason=result.reason,
            run=result,
        )
