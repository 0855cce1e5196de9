"""Messages are lossless to and from the OpenAI Chat Completions format."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flowagents.messages import (
    Message,
    ToolCall,
    ToolResponse,
    messages_from_openai,
    messages_to_openai,
)

text = st.text(max_size=30)
names = st.none() | st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,15}", fullmatch=True)
calls = st.lists(
    st.builds(
        ToolCall,
        id=st.uuids().map(str),
        name=st.from_regex(r"[a-z_]{1,10}", fullmatch=True),
        arguments=st.just('{"x": 1}'),
    ),
    min_size=1,
    max_size=3,
)
plain = st.builds(
    Message,
    role=st.sampled_from(["system", "user", "assistant"]),
    content=st.none() | text,
    name=names,
)
with_calls = st.builds(
    Message, role=st.just("assistant"), content=st.none() | text, tool_calls=calls
)
tool_results = st.builds(
    Message,
    role=st.just("tool"),
    tool_responses=st.lists(
        st.builds(ToolResponse, tool_call_id=st.uuids().map(str), content=text),
        min_size=1,
        max_size=3,
    ),
)


@given(st.lists(plain | with_calls | tool_results, max_size=6))
def test_round_trip_through_the_wire_format(conversation: list[Message]) -> None:
    # Consecutive tool messages merge into one on the way back, as the wire cannot tell them
    # apart; merge them in the expectation too.
    expected: list[Message] = []
    for message in conversation:
        if message.tool_responses and expected and expected[-1].tool_responses:
            merged = [*expected[-1].tool_responses, *message.tool_responses]
            expected[-1] = expected[-1].model_copy(update={"tool_responses": merged})
        else:
            expected.append(message)
    wire = messages_to_openai(conversation)
    assert messages_from_openai(wire) == expected
    assert messages_to_openai(messages_from_openai(wire)) == wire


def test_wire_form_follows_the_chat_completions_spec() -> None:
    call = ToolCall(id="call_1", name="lookup", arguments='{"q": "x"}')
    asked = Message(role="assistant", content=None, name="bot", tool_calls=[call])
    answered = Message(
        role="tool",
        tool_responses=[ToolResponse(tool_call_id="call_1", content="42")],
    )
    assert messages_to_openai([asked, answered]) == [
        {
            "role": "assistant",
            "content": None,
            "name": "bot",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "x"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
    ]
    assert (
        Message(content=[{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]).text == "ab"
    )
