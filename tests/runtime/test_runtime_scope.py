"""Scope bookkeeping: merging a fan-out's messages at once equals delivering them one by one."""

from __future__ import annotations

from typing import Any

from flowagents.agents import ConversableAgent
from flowagents.agents._chat import pair_graph
from flowagents.messages import Message
from flowagents.runtime._scope import Scope


def _scope(names: list[str]) -> Scope:
    agents = {
        name: ConversableAgent(name, llm_config=False, human_input_mode="NEVER") for name in names
    }
    views: dict[str, list[dict[str, Any]]] = {name: [{"content": "task"}] for name in names}
    scope = Scope(pair_graph("a", "b"), agents, dict.fromkeys(names), views=views)
    scope.observers = [[]]
    return scope


def _messages() -> list[Message]:
    return [
        Message(role="assistant", name="b", content="from b"),
        Message(role="assistant", name="c", content="ran code", metadata={"exit_code": 1}),
        Message(role="user", name="outsider", content="not an agent of this scope"),
        Message(role="assistant", name="b", content="b again"),
        Message(role="assistant", name="c", content="last", metadata={"exit_code": 0}),
    ]


def test_deliver_all_is_deliver_of_each_in_order() -> None:
    names = ["a", "b", "c"]
    one_by_one, at_once = _scope(names), _scope(names)
    for message in _messages():
        one_by_one.deliver(message, message.name)
    at_once.deliver_all(_messages())

    assert at_once.views == one_by_one.views
    assert at_once.views["b"][1] == {"content": "from b", "role": "assistant", "name": "b"}
    assert at_once.views["a"][1]["role"] == "user"
    assert at_once.observers == one_by_one.observers
    assert at_once.transcript == one_by_one.transcript == _messages()
    assert at_once.last_message == one_by_one.last_message == _messages()[-1]
    assert at_once.last_speaker == one_by_one.last_speaker == "c"
    assert at_once.last_code_exit_code == one_by_one.last_code_exit_code == 0


def test_deliver_all_of_nothing_changes_nothing() -> None:
    scope = _scope(["a"])
    scope.deliver_all([])
    assert scope.transcript == [] and scope.last_message is None
    assert scope.views == {"a": [{"content": "task"}]}
