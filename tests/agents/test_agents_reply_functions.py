"""register_reply: ordering by position, every trigger kind, async reply functions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agents_helpers import contents, scripted_agent

from flowagents import AssistantAgent, ConversableAgent, ScriptedModel, UserProxyAgent
from flowagents.agents import Agent
from flowagents.errors import ConfigError

Reply = tuple[bool, Any]
MESSAGES = [{"role": "user", "content": "hi", "name": "someone"}]


def _fixed(text: str, log: list[str] | None = None, final: bool = True) -> Any:
    def reply(agent: Any, messages: Any, sender: Any, config: Any) -> Reply:
        if log is not None:
            log.append(text)
        return final, text

    return reply


def _plain(name: str) -> ConversableAgent:
    return ConversableAgent(name, llm_config=False, human_input_mode="NEVER")


def test_position_zero_goes_first_and_not_final_falls_through() -> None:
    agent = _plain("agent")
    log: list[str] = []
    first = _fixed("first", log)
    second = _fixed("second", log, final=False)
    agent.register_reply(None, first)
    agent.register_reply(None, second)  # position 0: now tried before `first`

    assert agent.reply_functions[:2] == [second, first]
    assert agent.generate_reply(MESSAGES, sender=None) == "first"
    assert log == ["second", "first"]


def test_position_puts_the_function_after_the_builtins() -> None:
    model = ScriptedModel(["from the model"])
    agent = ConversableAgent("agent", llm_config=model, human_input_mode="NEVER")
    other = _plain("other")
    late = _fixed("late")
    agent.register_reply(Agent, late, position=len(agent.reply_functions))

    assert agent.reply_functions[-1] is late
    # The model reply comes earlier in the list and is final.
    assert agent.generate_reply(MESSAGES, sender=other) == "from the model"

    early = _fixed("early")
    agent.register_reply(Agent, early, position=0)
    assert agent.generate_reply(MESSAGES, sender=other) == "early"
    assert model.remaining == 0


def test_trigger_kinds() -> None:
    agent = _plain("agent")
    proxy = UserProxyAgent("proxy", human_input_mode="NEVER", code_execution_config=False)
    assistant = AssistantAgent("assistant", llm_config=False)
    alice = _plain("alice")
    bob = _plain("bob")
    carol = _plain("carol")
    agent.register_reply(UserProxyAgent, _fixed("by class"))
    agent.register_reply(alice, _fixed("by instance"))
    agent.register_reply("bob", _fixed("by name"))
    agent.register_reply(
        lambda sender: sender is not None and sender.name.startswith("c"), _fixed("by callable")
    )
    agent.register_reply(None, _fixed("by None"))
    agent.register_reply([assistant, "dave"], _fixed("by list"))

    assert agent.generate_reply(MESSAGES, sender=proxy) == "by class"
    assert agent.generate_reply(MESSAGES, sender=alice) == "by instance"
    assert agent.generate_reply(MESSAGES, sender=bob) == "by name"
    assert agent.generate_reply(MESSAGES, sender=carol) == "by callable"
    assert agent.generate_reply(MESSAGES, sender=None) == "by None"
    assert agent.generate_reply(MESSAGES, sender=assistant) == "by list"
    assert agent.generate_reply(MESSAGES, sender=_plain("dave")) == "by list"
    # No trigger matches: the agent has no model, so the default auto reply ("") answers.
    assert agent.generate_reply(MESSAGES, sender=_plain("erin")) == ""


def test_lists_of_classes_match_any_of_them_and_none_only_when_listed() -> None:
    agent = _plain("agent")
    agent.register_reply([UserProxyAgent, None], _fixed("class or none"))
    agent.register_reply([UserProxyAgent, AssistantAgent], _fixed("classes"))  # checked first
    proxy = UserProxyAgent("proxy", human_input_mode="NEVER", code_execution_config=False)
    assert agent.generate_reply(MESSAGES, sender=proxy) == "classes"
    assert agent.generate_reply(MESSAGES, sender=AssistantAgent("a", llm_config=False)) == (
        "classes"
    )
    assert agent.generate_reply(MESSAGES, sender=None) == "class or none"
    assert agent.generate_reply(MESSAGES, sender=_plain("other")) == ""


def test_a_bad_trigger_is_a_config_error() -> None:
    agent = _plain("agent")
    with pytest.raises(ConfigError, match="trigger"):
        agent.register_reply(42, _fixed("never"))


def test_async_reply_function_in_a_chat() -> None:
    calls: list[str] = []

    async def slow_echo(agent: Any, messages: Any, sender: Any, config: Any) -> Reply:
        await asyncio.sleep(0)
        calls.append(sender.name)
        text = messages[-1]["content"]
        return True, f"{config['prefix']}{text}" if "TERMINATE" not in text else None

    echo = _plain("echo")
    echo.register_reply(Agent, slow_echo, config={"prefix": "echo: "})
    caller = scripted_agent("caller", ["second", "TERMINATE"])

    result = caller.initiate_chat(echo, message="first", silent=True)

    assert contents(result.chat_history) == [
        "first",
        "echo: first",
        "second",
        "echo: second",
        "TERMINATE",
    ]
    assert calls == ["caller", "caller", "caller"]
    assert result.termination_reason == "agent_stopped"


def test_async_reply_function_with_generate_reply_outside_a_chat() -> None:
    async def answer(agent: Any, messages: Any, sender: Any, config: Any) -> Reply:
        await asyncio.sleep(0)
        return True, {"content": f"seen {len(messages)}", "role": "assistant"}

    agent = _plain("agent")
    agent.register_reply(None, answer)

    assert agent.generate_reply(MESSAGES, sender=None) == {"content": "seen 1", "role": "assistant"}
    assert asyncio.run(agent.a_generate_reply(MESSAGES * 3)) == {
        "content": "seen 3",
        "role": "assistant",
    }


def test_reply_function_config_and_exclude() -> None:
    agent = _plain("agent")
    configured = _fixed("ignored")

    def with_config(agent: Any, messages: Any, sender: Any, config: Any) -> Reply:
        return True, f"limit={config['limit']}"

    agent.register_reply(None, configured)
    agent.register_reply(None, with_config, config={"limit": 3})

    assert agent.generate_reply(MESSAGES) == "limit=3"
    assert agent.generate_reply(MESSAGES, exclude=[with_config]) == "ignored"


def test_remove_other_reply_funcs_and_replace() -> None:
    agent = scripted_agent("agent", ["model"])
    only = _fixed("only")
    agent.register_reply(None, only, remove_other_reply_funcs=True)
    assert agent.reply_functions == [only]

    other = _fixed("other")
    agent.replace_reply_func(only, other)
    assert agent.reply_functions == [other]
    assert agent.generate_reply(MESSAGES) == "other"


def test_default_auto_reply_when_nothing_answers() -> None:
    quiet = ConversableAgent(
        "quiet",
        llm_config=False,
        human_input_mode="NEVER",
        default_auto_reply="noted",
        max_consecutive_auto_reply=2,
    )
    talker = scripted_agent("talker", ["one", "two", "three"])

    result = talker.initiate_chat(quiet, message="hello", silent=True)

    assert contents(result.chat_history) == ["hello", "noted", "one", "noted", "two"]


def test_assistant_description_follows_a_custom_system_message() -> None:
    custom = AssistantAgent("coder", system_message="You write Python code.", llm_config=False)
    default = AssistantAgent("helper", llm_config=False)
    given = AssistantAgent("x", system_message="S", description="D", llm_config=False)

    assert custom.description == "You write Python code."
    assert default.description == AssistantAgent.DEFAULT_DESCRIPTION
    assert given.description == "D"


def _sync_and_async_bot() -> ConversableAgent:
    bot = ConversableAgent("bot", llm_config=False, human_input_mode="NEVER")

    async def from_async(agent: Any, messages: Any, sender: Any, config: Any) -> Reply:
        return True, "from async"

    bot.register_reply([Agent, None], _fixed("from sync"))
    bot.register_reply([Agent, None], from_async, ignore_async_in_sync_chat=True)
    return bot


def test_ignore_async_in_sync_chat_skips_the_async_function_in_a_sync_chat() -> None:
    user = scripted_agent("user", [])

    result = user.initiate_chat(_sync_and_async_bot(), message="hi", max_turns=1, silent=True)

    assert contents(result.chat_history)[-1] == "from sync"


def test_ignore_async_in_sync_chat_runs_the_async_function_in_an_async_chat() -> None:
    user = scripted_agent("user", [])
    chat = user.a_initiate_chat(_sync_and_async_bot(), message="hi", max_turns=1, silent=True)

    result = asyncio.run(chat)

    assert contents(result.chat_history)[-1] == "from async"
