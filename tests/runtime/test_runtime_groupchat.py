"""GroupChat on the runtime: every speaker selection method and the group options."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any

import pytest
from runtime_helpers import agent, of_kind, speakers

from flowagents import (
    ConversableAgent,
    GroupChat,
    GroupChatManager,
    Runner,
    ScriptedInput,
    ScriptedModel,
    UserProxyAgent,
    observe,
)
from flowagents.errors import SelectorError
from flowagents.events import Event, RunStarted, SpeakerSelected
from flowagents.models import ModelRequest


def _members(*names: str, replies: int = 6) -> list[ConversableAgent]:
    return [agent(name, [f"{name}{i}" for i in range(replies)]) for name in names]


def _user() -> UserProxyAgent:
    return UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)


def _names(history: Sequence[dict[str, Any]]) -> list[str]:
    return [str(m.get("name")) for m in history]


def _selector_enums(model: ScriptedModel) -> list[list[str]]:
    enums = []
    for request in model.requests:
        assert request.response_format is not None
        schema = request.response_format["json_schema"]["schema"]
        enums.append(list(schema["properties"]["next_speaker"]["enum"]))
    return enums


def test_auto_selection_with_a_scripted_manager_model() -> None:
    members = _members("a", "b", "c")
    picks = ScriptedModel(
        [json.dumps({"next_speaker": n}) for n in ["a", "c", "b", "a"]], model="sel"
    )
    group = GroupChat(agents=members, max_round=5, speaker_selection_method="auto")
    manager = GroupChatManager(group, llm_config=picks)

    result = _user().initiate_chat(manager, message="task", silent=True)

    assert _names(group.messages) == ["user", "a", "c", "b", "a"]
    assert result.termination_reason == "max_turns"
    # The user is not a member: the model picks the first speaker too. With repeats allowed,
    # every member (the current speaker too) is a candidate.
    assert _selector_enums(picks) == [["a", "b", "c"]] * 4
    assert picks.requests[0].messages[-2]["content"] == "user: task"
    assert picks.requests[1].messages[-2]["content"] == "a: a0"
    # The selector's tokens are part of the chat's cost.
    assert "sel" in result.cost["usage_including_cached_inference"]


def test_allow_repeat_speaker_false_never_offers_the_current_speaker() -> None:
    members = _members("a", "b", "c")
    picks = ScriptedModel([json.dumps({"next_speaker": n}) for n in ["a", "b", "c", "b"]])
    group = GroupChat(agents=members, max_round=5, allow_repeat_speaker=False)
    manager = GroupChatManager(group, llm_config=picks)

    _user().initiate_chat(manager, message="task", silent=True)

    assert _names(group.messages) == ["user", "a", "b", "c", "b"]
    assert _selector_enums(picks) == [["a", "b", "c"], ["b", "c"], ["a", "c"], ["a", "b"]]


def test_allow_repeat_speaker_as_a_list() -> None:
    members = _members("a", "b", "c")
    picks = ScriptedModel([json.dumps({"next_speaker": n}) for n in ["a", "a", "b", "c"]])
    group = GroupChat(agents=members, max_round=5, allow_repeat_speaker=[members[0]])
    manager = GroupChatManager(group, llm_config=picks)

    _user().initiate_chat(manager, message="task", silent=True)

    assert _names(group.messages) == ["user", "a", "a", "b", "c"]
    assert _selector_enums(picks) == [["a", "b", "c"]] * 3 + [["a", "c"]]


def test_disallowed_transitions() -> None:
    members = _members("a", "b", "c")
    picks = ScriptedModel([json.dumps({"next_speaker": "a"})])
    group = GroupChat(
        agents=members,
        max_round=4,
        allowed_or_disallowed_speaker_transitions={
            members[0]: [members[1]],
            members[2]: [members[1]],
        },
        speaker_transitions_type="disallowed",
        allow_repeat_speaker=False,
    )
    manager = GroupChatManager(group, llm_config=picks)

    _user().initiate_chat(manager, message="task", silent=True)

    assert _names(group.messages) == ["user", "a", "c", "a"]
    # The model picks the first speaker (the user is not a member); after that a may not
    # hand over to b (nor to itself), c may not either: one successor each, no more requests.
    assert _selector_enums(picks) == [["a", "b", "c"]]


def test_round_robin() -> None:
    members = _members("a", "b", "c")
    group = GroupChat(agents=members, max_round=6, speaker_selection_method="round_robin")

    _user().initiate_chat(GroupChatManager(group), message="task", silent=True)

    assert _names(group.messages) == ["user", "a", "b", "c", "a", "b"]


def test_round_robin_started_by_a_member() -> None:
    members = _members("a", "b", "c")
    group = GroupChat(agents=members, max_round=4, speaker_selection_method="round_robin")
    manager = GroupChatManager(group)

    result = members[1].initiate_chat(manager, message="b opens", silent=True)

    assert _names(result.chat_history) == ["b", "c", "a", "b"]
    assert result.chat_history[0]["content"] == "b opens"


def test_random_with_a_seed_is_reproducible() -> None:
    def run(seed: int) -> list[str]:
        members = _members("a", "b", "c", "d", replies=12)
        graph = GroupChat(agents=members, max_round=12).compile()
        events: list[Event] = []
        Runner(graph, selection="random", seed=seed, sinks=[events.append]).run("task")
        for selected in of_kind(events, SpeakerSelected):
            assert selected.method == "random"
            assert selected.choice in selected.candidates
        return speakers(events)

    first = run(7)
    assert first == run(7)
    assert len(first) == 12
    assert len(set(first[1:])) > 1
    others = {tuple(run(seed)) for seed in range(1, 6)}
    assert len(others | {tuple(first)}) > 1


def test_random_group_chat_varies_and_repeats_after_random_seed_as_in_autogen() -> None:
    def run() -> list[str]:
        members = _members("a", "b", "c", replies=10)
        group = GroupChat(agents=members, max_round=10, speaker_selection_method="random")
        events: list[Event] = []
        with observe(events.append):
            _user().initiate_chat(GroupChatManager(group), message="t", silent=True)
        (started,) = of_kind(events, RunStarted)
        assert started.manifest["seed"] != 0  # drawn, and on record
        return _names(group.messages)

    random.seed(7)
    first, second = run(), run()
    random.seed(7)
    assert run() == first
    assert second != first


def test_manual_selection_through_scripted_input() -> None:
    members = _members("a", "b", "c")
    graph = GroupChat(agents=members, max_round=5).compile()
    script = ScriptedInput(["2", "nobody", "c", "a"])
    events: list[Event] = []

    Runner(graph, selection="manual", input_provider=script, sinks=[events.append]).run("task")

    assert speakers(events) == ["user", "a", "b", "c", "a"]
    selected = of_kind(events, SpeakerSelected)
    assert [s.choice for s in selected] == ["b", "c", "a"]
    assert [s.retries for s in selected] == [0, 1, 0]
    assert selected[1].raw_answers == ("nobody", "c")
    assert all(s.method == "manual" for s in selected)
    assert "1: a" in script.prompts[0][1]


def test_manual_selection_in_a_group_chat_uses_the_managers_input() -> None:
    members = _members("a", "b", "c")
    group = GroupChat(agents=members, max_round=4, speaker_selection_method="manual")
    script = ScriptedInput(["1", "c", "b"])
    manager = GroupChatManager(group, input_provider=script)

    _user().initiate_chat(manager, message="task", silent=True)

    assert _names(group.messages) == ["user", "a", "c", "b"]
    assert script.remaining == 0


def test_callable_selection_returns_agents_names_and_methods() -> None:
    members = _members("a", "b", "c")
    seen: list[str] = []

    def choose(last_speaker: ConversableAgent, groupchat: GroupChat) -> Any:
        seen.append(last_speaker.name)
        step = len(seen)
        if step == 1:
            return members[2]  # an agent
        if step == 2:
            return "b"  # a name
        if step == 3:
            return "round_robin"  # a method name: b is followed by c
        return None  # stop

    group = GroupChat(agents=members, max_round=20, speaker_selection_method=choose)

    result = _user().initiate_chat(GroupChatManager(group), message="task", silent=True)

    # The user is not a member: the function picks the first speaker too.
    assert _names(group.messages) == ["user", "c", "b", "c"]
    assert seen == ["user", "c", "b", "c"]
    assert result.termination_reason == "selector_stopped"


def test_runner_selection_function_outside_the_permitted_successors_is_an_error() -> None:
    # On the runtime, edges bind a selection function; only a GroupChat's callable is free
    # of them (as in AutoGen, see tests/agents/test_agents_group_chats.py).
    members = _members("a", "b", "c")
    group = GroupChat(
        agents=members,
        max_round=5,
        allowed_or_disallowed_speaker_transitions={
            members[0]: [members[1], members[2]],
            members[1]: [members[0]],
            members[2]: [members[0]],
        },
        speaker_transitions_type="allowed",
    )

    def choose(current: str, candidates: Sequence[str], scope: Any) -> str:
        return "a"

    with pytest.raises(SelectorError, match="not a permitted successor"):
        Runner(group.compile(), selection=choose).run("task")


def test_send_introductions() -> None:
    a = agent("a", ["a0"], description="Writes the plan.")
    b = agent("b", ["b0"], description="Checks the plan.")
    group = GroupChat(
        agents=[a, b], max_round=3, speaker_selection_method="round_robin", send_introductions=True
    )
    manager = GroupChatManager(group)

    _user().initiate_chat(manager, message="task", silent=True)

    # Every member hears the introductions first (from the manager) ...
    for member in (a, b):
        introduction = member.chat_messages[manager][0]
        assert introduction["name"] == "chat_manager"
        assert "a: Writes the plan." in introduction["content"]
        assert "b: Checks the plan." in introduction["content"]
    # ... but, as in AutoGen, they do not use up a round: task, a, b.
    assert _names(group.messages)[-3:] == ["user", "a", "b"]
    # The first speaker's model heard the introductions before the task.
    assert a.client is not None
    request: ModelRequest = a.client.requests[0]  # type: ignore[attr-defined]
    contents = [m["content"] for m in request.messages]
    assert "Writes the plan." in contents[1]
    assert contents[2] == "task"


def test_group_chat_ends_on_the_managers_termination_message() -> None:
    a = agent("a", ["working"])
    b = agent("b", ["TERMINATE"])
    group = GroupChat(agents=[a, b], max_round=10, speaker_selection_method="round_robin")

    result = _user().initiate_chat(GroupChatManager(group), message="task", silent=True)

    assert _names(group.messages) == ["user", "a", "b"]
    assert result.termination_reason == "is_termination_msg"
    assert result.summary == ""


def test_group_members_hear_each_other() -> None:
    members = _members("a", "b", "c")
    group = GroupChat(agents=members, max_round=4, speaker_selection_method="round_robin")
    manager = GroupChatManager(group)

    _user().initiate_chat(manager, message="task", silent=True)

    # Every member keeps the group conversation under the manager, from its own side.
    c_view = members[2].chat_messages[manager]
    assert [(m["name"], m["role"]) for m in c_view] == [
        ("user", "user"),
        ("a", "user"),
        ("b", "user"),
        ("c", "assistant"),
    ]
    assert members[2].client is not None
    last_request = members[2].client.requests[-1]  # type: ignore[attr-defined]
    assert [m["content"] for m in last_request.messages[1:]] == ["task", "a0", "b0"]
    assert group.messages[-1]["content"] == "c0"
