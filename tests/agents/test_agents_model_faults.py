"""Model faults over HTTP with the real openai SDK, through an AssistantAgent in a chat.

Each failing case checks that nothing in the transcript is lost: the messages before the
failure stay in both agents' ``chat_messages`` and in the events a sink collected, and the
run ends with one ``error`` event, ``terminated`` and ``run_finished`` with status failed.
"""

from __future__ import annotations

from typing import Any

import pytest
from agents_helpers import contains_terminate, contents, kinds, pair_graph

from flowagents import AssistantAgent, Runner, UserProxyAgent, observe
from flowagents.errors import (
    ModelAuthError,
    ModelError,
    ModelResponseError,
    ModelTimeoutError,
)
from flowagents.events import ErrorRaised, Event, MessageSent, RunFinished, Terminated
from flowagents.testing import Fault, LoopbackServer

MODEL = "gpt-fault"


def _agents(
    server: LoopbackServer, *, api_key: str = "sk-test", **extra: Any
) -> tuple[UserProxyAgent, AssistantAgent]:
    entry = {"model": MODEL, "api_key": api_key, "base_url": server.base_url}
    llm_config = {"config_list": [entry], "max_retries": 2, **extra}
    assistant = AssistantAgent("assistant", llm_config=llm_config)
    user = UserProxyAgent(
        "user",
        human_input_mode="NEVER",
        code_execution_config=False,
        default_auto_reply="go on",
        is_termination_msg=contains_terminate,
    )
    return user, assistant


def test_429_with_retry_after_then_success() -> None:
    with LoopbackServer(replies=["first answer", "done TERMINATE"]) as server:
        server.inject(Fault(status=429, headers={"Retry-After": "0.05"}))
        user, assistant = _agents(server)
        result = user.initiate_chat(assistant, message="task", silent=True)
        requests = server.requests

    assert contents(result.chat_history) == ["task", "first answer", "go on", "done TERMINATE"]
    assert len(requests) == 3  # the refused attempt, its retry, the second turn
    assert requests[0].body == requests[1].body
    assert result.termination_reason == "is_termination_msg"


def test_500_then_success() -> None:
    with LoopbackServer(replies=["recovered TERMINATE"]) as server:
        server.inject(Fault(status=500))
        user, assistant = _agents(server)
        result = user.initiate_chat(assistant, message="task", silent=True)
        requests = server.requests

    assert contents(result.chat_history) == ["task", "recovered TERMINATE"]
    assert len(requests) == 2


def _run_into_fault(
    server: LoopbackServer, fault: Fault, **agent_options: Any
) -> tuple[UserProxyAgent, AssistantAgent, list[Event], BaseException]:
    """First turn answers, the second model call meets ``fault``."""
    user, assistant = _agents(server, **agent_options)
    server.inject(Fault(), fault)  # the empty fault lets the first request through
    events: list[Event] = []
    runner = Runner(pair_graph(user, assistant), sinks=[events.append])
    with pytest.raises(ModelError) as caught:
        runner.run("task", sender="user")
    return user, assistant, events, caught.value


def _assert_nothing_lost(
    user: UserProxyAgent, assistant: AssistantAgent, events: list[Event], error: BaseException
) -> None:
    said = ["task", "first answer", "go on"]
    assert contents(user.chat_messages[assistant]) == said
    assert contents(assistant.chat_messages[user]) == said
    sent = [e.message.text for e in events if isinstance(e, MessageSent)]
    assert sent == said
    errors = [e for e in events if isinstance(e, ErrorRaised)]
    assert len(errors) == 1
    assert errors[0].code == getattr(error, "code", None)
    assert errors[0].error_type == type(error).__name__
    assert errors[0].node == "assistant"
    assert kinds(events)[-3:] == ["error", "terminated", "run_finished"]
    terminated = events[-2]
    finished = events[-1]
    assert isinstance(terminated, Terminated)
    assert terminated.reason == "error"
    assert isinstance(finished, RunFinished)
    assert finished.status == "failed"
    # Sequence numbers are gapless: no event was dropped on the way out.
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_hanging_server_hits_the_timeout() -> None:
    with LoopbackServer(replies=["first answer"]) as server:
        user, assistant, events, error = _run_into_fault(
            server, Fault(hang=True), timeout=0.5, max_retries=0
        )

    assert isinstance(error, ModelTimeoutError)
    text = str(error)
    assert "0.5 s" in text
    assert MODEL in text
    assert server.base_url in text
    _assert_nothing_lost(user, assistant, events, error)


def test_401_is_one_clear_error_naming_endpoint_and_model() -> None:
    with LoopbackServer(replies=["never sent"], api_key="sk-right") as server:
        user, assistant = _agents(server, api_key="sk-wrong")
        events: list[Event] = []
        with pytest.raises(ModelAuthError) as caught:
            Runner(pair_graph(user, assistant), sinks=[events.append]).run("task", sender="user")
        requests = server.requests

    error = caught.value
    assert error.status == 401
    assert error.model == MODEL
    assert error.endpoint == server.base_url
    text = str(error)
    assert MODEL in text
    assert server.base_url in text
    assert "401" in text
    assert "api_key" in text
    assert "sk-wrong" not in text  # the key itself is never shown
    assert len(requests) == 1  # an auth error is not retried
    assert next(e for e in events if isinstance(e, ErrorRaised)).code == "FA311"
    assert contents(user.chat_messages[assistant]) == ["task"]
    assert events[-1].status == "failed"  # type: ignore[union-attr]


def test_401_through_initiate_chat_raises_the_model_error() -> None:
    with LoopbackServer(replies=["never sent"], api_key="sk-right") as server:
        user, assistant = _agents(server, api_key="sk-wrong")
        with pytest.raises(ModelAuthError, match=MODEL):
            user.initiate_chat(assistant, message="task", silent=True)

    assert contents(assistant.chat_messages[user]) == ["task"]


def test_malformed_json_body_is_a_clear_error() -> None:
    with LoopbackServer(replies=["first answer"]) as server:
        user, assistant, events, error = _run_into_fault(server, Fault(malformed=True))

    assert isinstance(error, ModelResponseError)
    text = str(error)
    assert "JSON" in text
    assert MODEL in text
    assert server.base_url in text
    _assert_nothing_lost(user, assistant, events, error)


def test_500_after_retries_keeps_the_transcript() -> None:
    with LoopbackServer(replies=["first answer"]) as server:
        user, assistant, events, error = _run_into_fault(server, Fault(status=503), max_retries=0)

    assert "503" in str(error)
    _assert_nothing_lost(user, assistant, events, error)


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        (Fault(hang=True), ModelTimeoutError),
        (Fault(malformed=True), ModelResponseError),
        (Fault(status=500), ModelError),
    ],
)
def test_fault_in_initiate_chat_is_observed_and_nothing_is_lost(
    fault: Fault, error_type: type[ModelError]
) -> None:
    with LoopbackServer(replies=["first answer"]) as server:
        user, assistant = _agents(server, timeout=0.5, max_retries=0)
        server.inject(Fault(), fault)
        events: list[Event] = []
        with observe(events.append), pytest.raises(error_type) as caught:
            user.initiate_chat(assistant, message="task", silent=True)

    _assert_nothing_lost(user, assistant, events, caught.value)
    assert events[0].kind == "run_started"
