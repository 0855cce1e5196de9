"""Group chats through the familiar API, compared with what AutoGen 0.2 does."""

from __future__ import annotations

import pytest
from agents_helpers import contents, scripted_agent

from flowagents import ConversableAgent, GroupChat, GroupChatManager, ScriptedInput, ScriptedModel
from flowagents.errors import SelectorError


def _round_robin(*names: str, max_round: int = 3) -> tuple[list[ConversableAgent], GroupChat]:
    members = [scripted_agent(name, [f"{name}{i}" for i in range(1, 5)]) for name in names]
    group = GroupChat(agents=members, max_round=max_round, speaker_selection_method="round_robin")
    return members, group


def test_max_turns_runs_the_group_again_after_the_initiators_reply() -> None:
    user = scripted_agent("user", ["u-followup-1", "u-followup-2"])
    _, group = _round_robin("a", "b")
    manager = GroupChatManager(group)

    result = user.initiate_chat(manager, message="task", max_turns=2, silent=True)

    assert contents(group.messages) == ["task", "a1", "b1", "u-followup-1", "a2", "b2"]
    assert contents(user.chat_messages[manager]) == ["task", "u-followup-1"]
    # The initiator's model heard the opening before it wrote the follow-up.
    assert user.client is not None
    assert contents(user.client.requests[0].messages[1:]) == ["task"]  # type: ignore[attr-defined]
    assert result.summary == "b2"
    # The cost covers both runs: each member answered twice, one word each time.
    tokens = result.cost["usage_including_cached_inference"]
    assert tokens["m-a"]["completion_tokens"] == tokens["m-b"]["completion_tokens"] == 2


def test_max_turns_one_runs_the_group_once() -> None:
    user = scripted_agent("user", ["unused"])
    _, group = _round_robin("a", "b")

    user.initiate_chat(GroupChatManager(group), message="task", max_turns=1, silent=True)

    assert contents(group.messages) == ["task", "a1", "b1"]
    assert user.client is not None
    assert user.client.requests == []  # type: ignore[attr-defined]


def test_an_outsiders_opening_lets_the_selection_function_pick_the_first_speaker() -> None:
    outside = scripted_agent("outside", [])
    a, b = (scripted_agent(name, [f"{name}1", f"{name}2"]) for name in ("a", "b"))
    calls: list[str] = []

    def choose(last: ConversableAgent, group: GroupChat) -> ConversableAgent:
        calls.append(last.name)
        return b if last is outside else a

    group = GroupChat(agents=[a, b], max_round=3, speaker_selection_method=choose)

    outside.initiate_chat(GroupChatManager(group), message="go", silent=True)

    assert [m["name"] for m in group.messages] == ["outside", "b", "a"]
    assert calls == ["outside", "b"]


def test_an_outsiders_opening_lets_the_managers_model_pick_the_first_speaker() -> None:
    outside = scripted_agent("outside", [])
    a = scripted_agent("a", ["a1", "a2"], description="writes poems")
    b = scripted_agent("b", ["b1", "b2"], description="does math")
    picks = ScriptedModel(["b", "a"], model="picker")
    group = GroupChat(agents=[a, b], max_round=3)

    outside.initiate_chat(GroupChatManager(group, llm_config=picks), message="2+2?", silent=True)

    assert [m["name"] for m in group.messages] == ["outside", "b", "a"]
    assert len(picks.requests) == 2


def test_an_outsiders_terminating_opening_ends_the_group_chat() -> None:
    outside = scripted_agent("outside", [])
    _, group = _round_robin("a", "b", max_round=5)
    manager = GroupChatManager(
        group, is_termination_msg=lambda m: "STOP" in (m.get("content") or "")
    )

    result = outside.initiate_chat(manager, message="STOP now", silent=True)

    assert contents(group.messages) == ["STOP now"]
    assert result.termination_reason == "is_termination_msg"


def test_a_selection_callable_is_asked_even_with_one_permitted_successor() -> None:
    a, b, c = (scripted_agent(name, [f"{name}1", f"{name}2"]) for name in ("a", "b", "c"))
    calls: list[str] = []

    def choose(last: ConversableAgent, group: GroupChat) -> ConversableAgent:
        calls.append(last.name)
        return c

    group = GroupChat(
        agents=[a, b, c],
        max_round=2,
        speaker_selection_method=choose,
        allowed_or_disallowed_speaker_transitions={a: [b], b: [c], c: [a]},
        speaker_transitions_type="allowed",
    )

    a.initiate_chat(GroupChatManager(group), message="go", silent=True)

    # As in AutoGen, what the callable returns speaks, permitted successor or not.
    assert [m["name"] for m in group.messages] == ["a", "c"]
    assert calls == ["a"]


def test_a_selection_callable_overrides_allow_repeat_speaker() -> None:
    a, b = (scripted_agent(name, [f"{name}1", f"{name}2"]) for name in ("a", "b"))
    group = GroupChat(
        agents=[a, b],
        max_round=3,
        speaker_selection_method=lambda last, chat: a,
        allow_repeat_speaker=False,
    )

    a.initiate_chat(GroupChatManager(group), message="go", silent=True)

    assert contents(group.messages) == ["go", "a1", "a2"]


def test_a_selection_callable_returning_a_method_keeps_the_transitions() -> None:
    a, b, c = (scripted_agent(name, [f"{name}1", f"{name}2"]) for name in ("a", "b", "c"))
    group = GroupChat(
        agents=[a, b, c],
        max_round=3,
        speaker_selection_method=lambda last, chat: "random",
        allowed_or_disallowed_speaker_transitions={a: [c], b: [a], c: [b]},
        speaker_transitions_type="allowed",
    )

    a.initiate_chat(GroupChatManager(group), message="go", silent=True)

    assert [m["name"] for m in group.messages] == ["a", "c", "b"]


def test_a_selection_callable_naming_a_non_member_is_an_error() -> None:
    a, b = (scripted_agent(name, [f"{name}1"]) for name in ("a", "b"))
    group = GroupChat(agents=[a, b], max_round=3, speaker_selection_method=lambda last, chat: "z")

    with pytest.raises(SelectorError, match="'z'"):
        a.initiate_chat(GroupChatManager(group), message="go", silent=True)


def test_reflection_summary_of_a_group_chat_reads_the_groups_messages() -> None:
    user = scripted_agent("user", ["the summary"])
    _, group = _round_robin("a", "b")

    result = user.initiate_chat(
        GroupChatManager(group), message="task", summary_method="reflection_with_llm", silent=True
    )

    # The manager has no model: the initiator's summarizes, as in AutoGen.
    assert result.summary == "the summary"
    assert user.client is not None
    request = user.client.requests[-1]  # type: ignore[attr-defined]
    assert contents(request.messages)[:-1] == ["task", "a1", "b1"]


def test_manual_selection_empty_answer_means_the_next_in_order() -> None:
    a, b, c = (scripted_agent(name, [f"{name}1", f"{name}2"]) for name in ("a", "b", "c"))
    group = GroupChat(agents=[a, b, c], max_round=4, speaker_selection_method="manual")
    script = ScriptedInput(["3", "", "q"])

    a.initiate_chat(GroupChatManager(group, input_provider=script), message="go", silent=True)

    # As AutoGen: after c, the next in order is a; after a, b. One prompt per choice.
    assert [m["name"] for m in group.messages] == ["a", "c", "a", "b"]
    assert script.remaining == 0


def test_group_chat_history_is_the_initiators_view() -> None:
    user, a, b = (scripted_agent(name, [f"{name}1", f"{name}2"]) for name in ("user", "a", "b"))
    group = GroupChat(agents=[user, a, b], max_round=4, speaker_selection_method="round_robin")

    result = user.initiate_chat(GroupChatManager(group), message="task", silent=True)

    # As AutoGen: the initiator's own messages are "assistant" from its side.
    assert [(m["name"], m["role"]) for m in result.chat_history] == [
        ("user", "assistant"),
        ("a", "user"),
        ("b", "user"),
        ("user", "assistant"),
    ]
    assert {m["role"] for m in group.messages} == {"user"}


def test_an_outsiders_group_chat_history_is_what_it_sent() -> None:
    outside = scripted_agent("outside", [])
    _, group = _round_robin("a", "b")

    result = outside.initiate_chat(GroupChatManager(group), message="go", silent=True)

    assert contents(result.chat_history) == ["go"]
    assert contents(group.messages) == ["go", "a1", "b1"]
