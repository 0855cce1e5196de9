"""A user's exception comes out of the familiar API as it is, as in AutoGen 0.2."""

from __future__ import annotations

from typing import Any

import pytest
from agents_helpers import scripted_agent

from flowagents import Agent, GroupChat, GroupChatManager
from flowagents.errors import RunLocation


class BudgetExceeded(Exception):
    """A user's own exception type."""


def _stop_here(*args: Any, **kwargs: Any) -> Any:
    raise BudgetExceeded("stop here")


def _location(error: BaseException) -> RunLocation:
    location = getattr(error, "run_location", None)
    assert isinstance(location, RunLocation)
    return location


def test_a_reply_functions_exception_leaves_initiate_chat_as_it_is() -> None:
    a, b = scripted_agent("a", []), scripted_agent("b", [])
    b.register_reply([Agent, None], _stop_here)

    with pytest.raises(BudgetExceeded, match="stop here") as raised:
        a.initiate_chat(b, message="hi", silent=True)

    assert (_location(raised.value).step, _location(raised.value).node) == ("2", "b")
    assert any(note.endswith("step=2 node=b") for note in raised.value.__notes__)


def test_a_summary_callables_exception_leaves_initiate_chat_as_it_is() -> None:
    a, b = scripted_agent("a", []), scripted_agent("b", ["b1"])

    with pytest.raises(BudgetExceeded):
        a.initiate_chat(b, message="hi", max_turns=1, summary_method=_stop_here, silent=True)


def test_a_selection_functions_exception_leaves_a_group_chat_as_it_is() -> None:
    a, b = scripted_agent("a", ["a1"]), scripted_agent("b", ["b1"])
    group = GroupChat(agents=[a, b], max_round=3, speaker_selection_method=_stop_here)

    with pytest.raises(BudgetExceeded) as raised:
        a.initiate_chat(GroupChatManager(group), message="go", silent=True)

    assert _location(raised.value).step == "1"


def test_an_exception_in_a_nested_chat_is_located_there() -> None:
    student, tutor = scripted_agent("student", []), scripted_agent("tutor", ["unused"])
    expert = scripted_agent("expert", [])
    expert.register_reply([Agent, None], _stop_here)
    tutor.register_nested_chats([{"recipient": expert, "max_turns": 1}], trigger=student)

    with pytest.raises(BudgetExceeded) as raised:
        student.initiate_chat(tutor, message="q", max_turns=1, silent=True)

    # Step 2 is the tutor's turn; the nested chat's expert spoke at its second step.
    assert (_location(raised.value).step, _location(raised.value).node) == (
        "2/tutor<->expert.2",
        "expert",
    )
    assert len(raised.value.__notes__) == 1
