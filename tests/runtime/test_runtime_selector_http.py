"""Dynamic speaker selection over HTTP with the real openai SDK and the loopback server."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from typing import Any

import pytest
from runtime_helpers import agent, ending, of_kind, speakers

from flowagents import GroupChat, GroupChatManager, Runner, UserProxyAgent, observe
from flowagents.errors import ModelRequestError, SelectorError
from flowagents.events import Event, SpeakerSelected
from flowagents.graph import ModelSpec, SelectorSpec, TerminationSpec, graph_from_transitions
from flowagents.models import FallbackModel, ModelClient, OpenAIChatModel
from flowagents.runtime import forget_rejections
from flowagents.testing import Fault, LoopbackServer

ALLOWED = {
    "planner": ["coder", "writer"],
    "coder": ["tester", "planner"],
    "tester": ["coder", "writer"],
    "writer": ["planner"],
}


@pytest.fixture(autouse=True)
def _fresh_capability_memory(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FA_SELECTOR_KEY", "sk-test")
    forget_rejections()
    yield
    forget_rejections()


def _enum(body: dict[str, Any]) -> list[str]:
    schema = body["response_format"]["json_schema"]["schema"]
    return list(schema["properties"]["next_speaker"]["enum"])


def _last_speaker(body: dict[str, Any]) -> str:
    # The prompt ends with the transcript ("name: text" lines) and then the question.
    line = body["messages"][-2]["content"]
    return str(line.split(":", 1)[0])


def test_group_chat_selector_is_only_offered_permitted_successors() -> None:
    choices = deque(["planner", "coder", "tester", "coder", "tester", "writer", "coder"])
    offered: list[tuple[str, list[str]]] = []

    def select(body: dict[str, Any]) -> str:
        offered.append((_last_speaker(body), _enum(body)))
        return json.dumps({"next_speaker": choices.popleft()})

    members = [
        agent("planner", [f"plan {i}" for i in range(3)]),
        agent("coder", [f"code {i}" for i in range(3)]),
        agent("tester", [f"test {i}" for i in range(3)]),
        agent("writer", [f"write {i}" for i in range(3)]),
    ]
    by_name = {member.name: member for member in members}
    with LoopbackServer(select) as server:
        group = GroupChat(
            agents=members,
            max_round=8,
            speaker_selection_method="auto",
            allowed_or_disallowed_speaker_transitions={
                member: [by_name[name] for name in ALLOWED[member.name]] for member in members
            },
            speaker_transitions_type="allowed",
        )
        manager = GroupChatManager(
            group,
            llm_config={
                "config_list": [
                    {"model": "selector-x", "api_key": "sk-test", "base_url": server.base_url}
                ]
            },
        )
        user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
        result = user.initiate_chat(manager, message="Build a calculator.", silent=True)
        requests = server.requests

    assert [m["name"] for m in group.messages] == [
        "user",
        "planner",
        "coder",
        "tester",
        "coder",
        "tester",
        "writer",
        "planner",
    ]
    assert result.termination_reason == "max_turns"
    # Six choices were needed: the first speaker (the user is not a member, so every member
    # is offered), then five (writer has one successor: no request for it).
    assert len(requests) == 6
    assert offered[0] == ("user", ["planner", "coder", "tester", "writer"])
    for speaker, enum in offered[1:]:
        assert enum == ALLOWED[speaker], (speaker, enum)
    assert [speaker for speaker, _ in offered[1:]] == [
        "planner",
        "coder",
        "tester",
        "coder",
        "tester",
    ]
    for request in requests[1:]:
        body = request.body
        assert body is not None
        assert body["model"] == "selector-x"
        speaker = _last_speaker(body)
        permitted = ALLOWED[speaker]
        assert body["response_format"]["json_schema"]["strict"] is True
        # The prompt names only the permitted successors as choices.
        roles = body["messages"][0]["content"].splitlines()
        listed = [line[2:].split(":", 1)[0] for line in roles if line.startswith("- ")]
        assert listed == permitted
        assert body["messages"][-1]["content"].endswith(f"exactly one of: {', '.join(permitted)}.")
    assert choices == deque(["coder"])


def _three_way(
    server: LoopbackServer,
    *,
    capabilities: dict[str, Any] | None = None,
    selector_client: ModelClient | None = None,
    **selector: Any,
) -> tuple[Runner, list[Event]]:
    """a may be followed by b or c; the selector model is the server, named in the graph."""
    members = [agent("a", ["a says"] * 3), agent("b", ["b says"] * 3), agent("c", ["c says"] * 3)]
    graph = graph_from_transitions(
        members,
        {"a": ["b", "c"], "b": ["a"], "c": ["a"]},
        "allowed",
        name="three",
        selector=SelectorSpec(
            model="picker", fallback=selector.pop("fallback", "error"), **selector
        ),
        termination=TerminationSpec(keyword=None, max_turns=3),
        models={
            "picker": ModelSpec(
                model="selector-y",
                base_url=server.base_url,
                api_key_env="FA_SELECTOR_KEY",
                capabilities=capabilities,
            )
        },
    )
    events: list[Event] = []
    runner = Runner(graph, sinks=[events.append], selector_client=selector_client)
    return runner, events


def test_unusable_answers_use_the_fallback() -> None:
    bad = json.dumps({"next_speaker": "nobody"})
    with LoopbackServer(replies=[bad, bad]) as server:
        runner, events = _three_way(server, fallback="first", max_retries=1)
        runner.run("go")

    (selected,) = of_kind(events, SpeakerSelected)
    assert selected.choice == "b"
    assert selected.retries == 1
    assert selected.raw_answers == (bad, bad)
    assert selected.method == "auto:json_schema+fallback:first"
    assert speakers(events) == ["user", "a", "b"]


def test_unusable_answers_with_error_fallback_fail_the_run() -> None:
    bad = json.dumps({"next_speaker": "nobody"})
    with LoopbackServer(replies=[bad, bad, bad]) as server:
        runner, events = _three_way(server, fallback="error", max_retries=2)
        with pytest.raises(SelectorError, match="b, c"):
            runner.run("go")

    assert ending(events) == ("error", "failed")
    assert speakers(events) == ["user", "a"]


def _answer(body: dict[str, Any]) -> str:
    """Name c: as JSON when the request is constrained, as plain text otherwise."""
    if body.get("tools") or body.get("response_format"):
        return json.dumps({"next_speaker": "c"})
    return "c"


@pytest.mark.parametrize(
    ("profile", "constraint", "method", "attempts"),
    [
        ("openai", "auto", "auto:json_schema", ["json_schema"]),
        ("no_json_schema", "auto", "auto:tool", ["json_schema", "tool"]),
        ("no_tool_choice", "auto", "auto:json_schema", ["json_schema"]),
        ("no_tool_choice", "tool", "auto:tool", ["tool"]),
        ("text_only", "auto", "auto:text", ["json_schema", "tool", "json_object", "text"]),
    ],
)
def test_selector_constraint_falls_back_per_capability_profile(
    profile: Any, constraint: Any, method: str, attempts: list[str]
) -> None:
    with LoopbackServer(_answer, profile=profile) as server:
        runner, events = _three_way(server, constraint=constraint)
        runner.run("go")
        first_run = server.requests
        # A second run on the same endpoint goes straight to the mechanism that worked.
        again, again_events = _three_way(server, constraint=constraint)
        again.run("go")
        second_run = server.requests[len(first_run) :]

    assert [_mechanism(r.body) for r in first_run] == attempts
    assert [_mechanism(r.body) for r in second_run] == attempts[-1:]
    for collected in (events, again_events):
        (selected,) = of_kind(collected, SpeakerSelected)
        assert selected.choice == "c"
        assert selected.method == method
        assert selected.retries == 0
        assert speakers(collected) == ["user", "a", "c"]
    # Every attempt offered exactly the permitted successors.
    for request in first_run:
        body = request.body
        assert body is not None
        assert body["messages"][-1]["content"].endswith("exactly one of: b, c.") or (
            "next_speaker" in body["messages"][-1]["content"]
        )
        if body.get("tools"):
            parameters = body["tools"][0]["function"]["parameters"]
            assert parameters["properties"]["next_speaker"]["enum"] == ["b", "c"]
        if (body.get("response_format") or {}).get("type") == "json_schema":
            assert _enum(body) == ["b", "c"]


def test_group_chat_retry_is_observed_through_the_familiar_api() -> None:
    answers = [json.dumps({"next_speaker": "mallory"}), json.dumps({"next_speaker": "b"})]
    members = [agent("a", ["a says"]), agent("b", ["b says"]), agent("c", ["c says"])]
    first = json.dumps({"next_speaker": "a"})  # the user is not a member: a is picked first
    with LoopbackServer(replies=[first, *answers]) as server:
        group = GroupChat(agents=members, max_round=3, allow_repeat_speaker=False)
        manager = GroupChatManager(
            group,
            llm_config={
                "config_list": [
                    {"model": "selector-z", "api_key": "sk-test", "base_url": server.base_url}
                ]
            },
        )
        events: list[Event] = []
        with observe(events.append):
            UserProxyAgent(
                "user", human_input_mode="NEVER", code_execution_config=False
            ).initiate_chat(manager, message="go", silent=True)

    assert [m["name"] for m in group.messages] == ["user", "a", "b"]
    opening, selected = of_kind(events, SpeakerSelected)
    assert opening.candidates == ("a", "b", "c")
    assert opening.choice == "a"
    assert selected.candidates == ("b", "c")
    assert selected.retries == 1
    assert selected.raw_answers == tuple(answers)
    assert selected.choice == "b"


def test_declared_capabilities_decide_the_mechanism_without_a_failing_request() -> None:
    unsupported = {"json_schema": False, "json_object": False, "tools": False}
    with LoopbackServer(_answer, profile="text_only") as server:
        runner, events = _three_way(server, capabilities=unsupported)
        runner.run("go")

    assert [_mechanism(r.body) for r in server.requests] == ["text"]
    (selected,) = of_kind(events, SpeakerSelected)
    assert (selected.choice, selected.method) == ("c", "auto:text")


def test_a_rejection_is_remembered_for_the_config_entry_that_refused() -> None:
    with (
        LoopbackServer(_answer, profile="openai") as unavailable,
        LoopbackServer(_answer, profile="no_json_schema") as refusing,
    ):
        unavailable.inject(Fault(status=503))  # the first entry fails over to the second
        fallback = FallbackModel(
            [
                OpenAIChatModel("selector-y", base_url=server.base_url, api_key="k", max_retries=0)
                for server in (unavailable, refusing)
            ]
        )
        chain, _ = _three_way(refusing, selector_client=fallback)
        chain.run("go")
        # json_schema: 503 from the first entry, 400 from the second; then the tool call,
        # answered by the first entry again.
        assert [_mechanism(r.body) for r in unavailable.requests] == ["json_schema", "tool"]
        assert [_mechanism(r.body) for r in refusing.requests] == ["json_schema"]
        # The entry that refused is not asked json_schema again ...
        alone, events = _three_way(refusing)
        alone.run("go")
        assert [_mechanism(r.body) for r in refusing.requests[1:]] == ["tool"]
        (selected,) = of_kind(events, SpeakerSelected)
        assert selected.method == "auto:tool"
        # ... while the entry that never refused anything still is.
        first, _ = _three_way(unavailable)
        first.run("go")
        assert [_mechanism(r.body) for r in unavailable.requests[2:]] == ["json_schema"]


def test_a_rejection_of_every_mechanism_is_not_remembered_as_unsupported() -> None:
    # A 400 that is about the conversation (too long), not about the mechanism: every
    # mechanism is refused, the run fails, and the endpoint keeps its structured output.
    too_long = Fault(status=400, message="This model's maximum context length is 8192 tokens")
    with LoopbackServer(_answer) as server:
        server.inject(*[too_long] * 4)
        failing, events = _three_way(server)
        with pytest.raises(ModelRequestError, match="maximum context length"):
            failing.run("go")
        assert ending(events) == ("error", "failed")
        refused = [_mechanism(r.body) for r in server.requests]
        assert refused == ["json_schema", "tool", "json_object", "text"]
        again, again_events = _three_way(server)
        again.run("go")
        retried = [_mechanism(r.body) for r in server.requests[len(refused) :]]

    assert retried == ["json_schema"]
    (selected,) = of_kind(again_events, SpeakerSelected)
    assert (selected.choice, selected.method) == ("c", "auto:json_schema")


def test_refusal_text_is_the_recorded_raw_answer() -> None:
    refusal = {"content": None, "refusal": "I cannot help with choosing speakers."}
    with LoopbackServer(replies=[refusal, json.dumps({"next_speaker": "b"})]) as server:
        runner, events = _three_way(server)
        runner.run("go")

    (selected,) = of_kind(events, SpeakerSelected)
    assert selected.raw_answers[0] == "I cannot help with choosing speakers."
    assert (selected.choice, selected.retries) == ("b", 1)


def _mechanism(body: dict[str, Any] | None) -> str:
    assert body is not None
    kind = (body.get("response_format") or {}).get("type")
    if kind in ("json_schema", "json_object"):
        return str(kind)
    return "tool" if body.get("tools") else "text"


def test_a_call_of_some_other_function_is_not_an_answer() -> None:
    other = {"tool_calls": [{"name": "lookup", "arguments": {"next_speaker": "c"}}]}
    own = {"tool_calls": [{"name": "select_next_speaker", "arguments": {"next_speaker": "b"}}]}
    with LoopbackServer(replies=[other, own]) as server:
        runner, events = _three_way(server, constraint="tool", max_retries=1)
        runner.run("go")

    (selected,) = of_kind(events, SpeakerSelected)
    assert (selected.choice, selected.retries) == ("b", 1)
    assert selected.raw_answers == ("", '{"next_speaker": "b"}')
