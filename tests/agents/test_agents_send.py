"""send(): request_reply and reply_at_receive, as in AutoGen."""

from __future__ import annotations

from agents_helpers import contents, scripted_agent


def test_send_after_initiate_chat_gets_a_reply() -> None:
    a = scripted_agent("a", ["a1", "a2"], max_consecutive_auto_reply=1)
    b = scripted_agent("b", ["b1", "b2"], max_consecutive_auto_reply=1)
    a.initiate_chat(b, message="start", silent=True)
    assert contents(a.chat_messages[b]) == ["start", "b1", "a1"]

    a.send("follow-up", b, silent=True)  # request_reply=None: b answers a at receive

    assert contents(a.chat_messages[b]) == ["start", "b1", "a1", "follow-up", "b2"]
    assert contents(b.chat_messages[a]) == ["start", "b1", "a1", "follow-up", "b2"]


def test_send_without_a_chat_only_delivers() -> None:
    c = scripted_agent("c", ["c1"])
    d = scripted_agent("d", ["d1"])

    c.send("hello d", d, silent=True)

    assert contents(d.chat_messages[c]) == ["hello d"]
    assert d.reply_at_receive.get(c) is None


def test_send_request_reply_gets_one_reply_when_the_sender_does_not_answer() -> None:
    c = scripted_agent("c", ["c1", "c2"])
    d = scripted_agent("d", ["d1", "d2"])

    c.send("hello d", d, request_reply=True, silent=True)

    assert contents(c.chat_messages[d]) == ["hello d", "d1"]


def test_send_after_a_chat_with_max_turns_does_not_continue() -> None:
    a = scripted_agent("a", ["a1", "a2"])
    b = scripted_agent("b", ["b1", "b2"])
    a.initiate_chat(b, message="start", max_turns=1, silent=True)

    a.send("f", b, silent=True)
    a.send("g", b, request_reply=True, silent=True)

    assert contents(a.chat_messages[b]) == ["start", "b1", "f", "g", "b2"]


def test_stop_reply_at_receive() -> None:
    a = scripted_agent("a", ["a1"], max_consecutive_auto_reply=1)
    b = scripted_agent("b", ["b1", "b2"], max_consecutive_auto_reply=1)
    a.initiate_chat(b, message="start", silent=True)
    assert b.reply_at_receive == {a: True}
    b.stop_reply_at_receive(a)

    a.send("more", b, silent=True)

    assert contents(b.chat_messages[a])[-1] == "more"
    assert b.reply_at_receive == {a: False}
