"""Choosing the next speaker of a dynamic graph, only among the permitted successors.

With a model ("auto"), the answer is constrained to exactly the candidates' names by the
strongest mechanism the endpoint supports: a JSON-schema enum in structured output, a forced
tool call with that enum, ``json_object`` with the schema in the prompt, or plain text checked
against the names. A mechanism an endpoint rejects (400/422) is remembered for that endpoint
once a weaker one is accepted; a run starts from what the process knew when it began.
"""

from __future__ import annotations

import inspect
import json
import random
import re
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from flowagents.errors import ModelRequestError, SelectorError
from flowagents.models import FallbackModel, ModelCapabilities, ModelClient, ModelRequest
from flowagents.runtime._context import InputProvider, current_run

if TYPE_CHECKING:
    from flowagents.runtime._scope import Scope

Mechanism: TypeAlias = Literal["json_schema", "tool", "json_object", "text"]
MECHANISMS: tuple[Mechanism, ...] = ("json_schema", "tool", "json_object", "text")
SelectionFunction: TypeAlias = Callable[
    [str, Sequence[str], "Scope"], "str | Awaitable[str | None] | None"
]
SelectionMethod: TypeAlias = Literal["auto", "round_robin", "random", "manual"] | SelectionFunction
_NAMED_METHODS = ("auto", "round_robin", "random", "manual")

# Mechanisms each endpoint has refused, so the next run does not ask again. Runs in other
# threads read and add to it: every use holds the lock.
_REJECTED: dict[str, set[Mechanism]] = {}
_REJECTED_LOCK = threading.Lock()

_FIELD = "next_speaker"
_TOOL_NAME = "select_next_speaker"


@dataclass(slots=True)
class Selection:
    """The outcome of one choice: what was chosen, how, and at what cost."""

    choice: str | None
    method: str
    raw_answers: list[str] = field(default_factory=list)
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True, slots=True)
class SelectorPrompt:
    """AutoGen's speaker selection templates; a None template keeps the selector's own text.

    ``system`` may use ``{roles}`` (one ``name: description`` line per candidate) and
    ``{agentlist}`` (the candidates' names as a Python list); ``prompt``, the request after
    the conversation, ``{agentlist}``, in a message of role ``role``.
    """

    system: str | None = None
    prompt: str | None = None
    role: str = "system"


def forget_rejections() -> None:
    """Forget which endpoints refused which mechanisms (tests, long-lived processes)."""
    with _REJECTED_LOCK:
        _REJECTED.clear()


def known_rejections() -> dict[str, list[str]]:
    """What this process knows endpoints refuse: ``{"endpoint|model": [mechanism, ...]}``.

    A run starts from a copy of it, kept in its manifest (``selector_rejections``), so that
    its requests do not depend on what other runs learn while it is in flight, and a replay
    makes the same requests in a process that knows something else.
    """
    with _REJECTED_LOCK:
        return {key: sorted(refused) for key, refused in _REJECTED.items() if refused}


def run_rejections(known: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """A run's own memory of refusals, starting from ``known`` (``known_rejections()``)."""
    return {key: set(refused) for key, refused in known.items()}


def _endpoint_key(endpoint: str, model: str) -> str:
    return f"{endpoint}|{model}"


def _routes(client: ModelClient) -> tuple[ModelClient, ...]:
    """The clients a request may reach: each entry of a fallback chain, or the client."""
    return client.clients if isinstance(client, FallbackModel) else (client,)


def _declared_unsupported(client: ModelClient) -> set[Mechanism]:
    """The mechanisms a client's declared capabilities rule out (none when undeclared)."""
    capabilities = getattr(client, "capabilities", None)
    if not isinstance(capabilities, ModelCapabilities):
        return set()
    out: set[Mechanism] = set()
    if capabilities.json_schema is False:
        out.add("json_schema")
    if capabilities.tools is False or capabilities.tool_choice is False:
        out.add("tool")
    if capabilities.json_object is False:
        out.add("json_object")
    return out


def _schema(candidates: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {_FIELD: {"type": "string", "enum": list(candidates)}},
        "required": [_FIELD],
        "additionalProperties": False,
    }


_FENCE = re.compile(r"^```[\w-]*\s*(.*?)\s*```$", re.DOTALL)


def parse_choice(raw: str, candidates: Sequence[str]) -> str | None:
    """The candidate a raw answer names, or None when it names none or several.

    A JSON answer (bare or in a code fence) must name a candidate in its ``next_speaker``
    field; only a plain-text answer may name one anywhere in its words.
    """
    text = raw.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        named = data.get(_FIELD)
        return _named(named, candidates) if isinstance(named, str) else None
    if isinstance(data, str):
        return _named(data, candidates)
    named_exactly = _named(text, candidates)
    if named_exactly is not None:
        return named_exactly
    mentioned = [name for name in candidates if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text)]
    return mentioned[0] if len(mentioned) == 1 else None


def _named(text: str, candidates: Sequence[str]) -> str | None:
    """The candidate ``text`` is, quoting and case aside."""
    text = text.strip("\"'`.* \n")
    if text in candidates:
        return text
    folded = {name.lower(): name for name in candidates}
    return folded.get(text.lower())


class SpeakerSelector:
    """Picks the next node of a dynamic graph among the candidates it is given."""

    def __init__(
        self,
        *,
        method: SelectionMethod = "auto",
        client: ModelClient | None = None,
        fallback: Literal["error", "first", "round_robin"] = "error",
        max_retries: int = 2,
        constraint: Literal["auto"] | Mechanism = "auto",
        descriptions: dict[str, str] | None = None,
        node_order: Sequence[str] = (),
        seed: int = 0,
        input_provider: InputProvider | None = None,
        any_of: Sequence[str] = (),
        prompt: SelectorPrompt | None = None,
        rejected: dict[str, set[str]] | None = None,
    ) -> None:
        if isinstance(method, str) and method not in _NAMED_METHODS:
            raise SelectorError(
                f"speaker_selection_method must be one of {', '.join(_NAMED_METHODS)} "
                f"or a callable, got {method!r}"
            )
        self.method = method
        self.client = client
        self.fallback = fallback
        self.max_retries = max_retries
        self.constraint = constraint
        self.descriptions = descriptions or {}
        self.node_order = list(node_order)
        self.rng = random.Random(seed)
        self.input_provider = input_provider
        # Names a selection function may choose beyond the candidates (a free selection).
        self.any_of = frozenset(any_of)
        self.prompt = prompt or SelectorPrompt()
        # The run's memory of refusals (``RunContext.selector_rejections``), shared by its
        # selectors: what it knew at its start and what it learned since, nothing else.
        self.rejected = {} if rejected is None else rejected

    async def select(self, scope: Scope, current: str, candidates: Sequence[str]) -> Selection:
        """Choose among ``candidates`` after ``current`` spoke.

        A selection function may also name any node of ``any_of`` (a free selection).
        """
        method = self.method
        if callable(method):
            answer = method(current, candidates, scope)
            if inspect.isawaitable(answer):
                answer = await answer
            if answer is None:
                return Selection(choice=None, method="function")
            if answer in _NAMED_METHODS:
                method = answer  # type: ignore[assignment]
            elif answer in candidates or answer in self.any_of:
                return Selection(choice=answer, method="function")
            else:
                raise SelectorError(
                    f"the selection function chose {answer!r}, which is not a permitted "
                    f"successor of {current!r} (permitted: {', '.join(candidates)})"
                )
        if len(candidates) == 1:  # a selection function asked back for a named method
            return Selection(choice=candidates[0], method=str(method))
        if method == "round_robin":
            return Selection(choice=self._round_robin(current, candidates), method="round_robin")
        if method == "random":
            return Selection(choice=self.rng.choice(list(candidates)), method="random")
        if method == "manual":
            return await self._manual(current, candidates)
        return await self._by_model(scope, candidates)

    def _round_robin(self, current: str, candidates: Sequence[str]) -> str:
        order = self.node_order or list(candidates)
        start = order.index(current) + 1 if current in order else 0
        for offset in range(len(order)):
            name = order[(start + offset) % len(order)]
            if name in candidates:
                return name
        return candidates[0]

    def _apply_fallback(self, current: str, candidates: Sequence[str], why: str) -> str:
        if self.fallback == "first":
            return candidates[0]
        if self.fallback == "round_robin":
            return self._round_robin(current, candidates)
        raise SelectorError(why)

    async def _manual(self, current: str, candidates: Sequence[str]) -> Selection:
        """Ask a human; an empty answer or ``q`` means the next in order, as in AutoGen."""
        menu = "\n".join(f"{i}: {name}" for i, name in enumerate(candidates, 1))
        answers: list[str] = []
        for attempt in range(self.max_retries + 1):
            raw = await current_run().get_human_input(
                f"Who speaks next?\n{menu}\nEnter a number or a name "
                "(nothing or q: the next in order): ",
                agent="selector",
                provider=self.input_provider,
            )
            answers.append(raw)
            text = raw.strip()
            if text in ("", "q"):
                next_in_order = self._round_robin(current, candidates)
                return Selection(next_in_order, "manual", answers, attempt)
            if text.isdigit() and 1 <= int(text) <= len(candidates):
                return Selection(candidates[int(text) - 1], "manual", answers, attempt)
            choice = parse_choice(text, candidates)
            if choice is not None:
                return Selection(choice, "manual", answers, attempt)
        why = f"no valid choice among {', '.join(candidates)} in {len(answers)} answers"
        choice = self._apply_fallback(current, candidates, why)
        return Selection(choice, "manual", answers, self.max_retries)

    def _mechanisms(self) -> list[Mechanism]:
        """The mechanisms to try, strongest first, without those refused or declared unsupported."""
        assert self.client is not None
        routes = _routes(self.client)
        excluded: set[Mechanism] = set()
        for route in routes:
            refused = self.rejected.get(_endpoint_key(route.endpoint, route.model), ())
            excluded.update(m for m in MECHANISMS if m in refused)
            excluded |= _declared_unsupported(route)
        if self.constraint == "auto":
            ordered = list(MECHANISMS)
        else:
            start = MECHANISMS.index(self.constraint)
            ordered = list(MECHANISMS[start:])
        usable = [m for m in ordered if m not in excluded]
        return usable or ["text"]

    def _remember_rejection(self, mechanism: Mechanism, exc: ModelRequestError) -> None:
        """Remember the refusal for the endpoint that refused (one route of a fallback)."""
        assert self.client is not None
        key = _endpoint_key(exc.endpoint or self.client.endpoint, exc.model or self.client.model)
        self.rejected.setdefault(key, set()).add(mechanism)
        with _REJECTED_LOCK:  # for the runs that start from now on
            _REJECTED.setdefault(key, set()).add(mechanism)

    def _prompt(self, scope: Scope, candidates: Sequence[str]) -> list[dict[str, Any]]:
        messages = [self._system_message(candidates)]
        for message in scope.transcript:
            speaker = message.name or message.role
            messages.append({"role": "user", "content": f"{speaker}: {message.text}"})
        messages.append(self._request_message(candidates))
        return messages

    def _system_message(self, candidates: Sequence[str]) -> dict[str, Any]:
        template = self.prompt.system
        if template is not None:
            roles = "\n".join(
                f"{name}: {self.descriptions.get(name, '')}".strip() for name in candidates
            )
            return {
                "role": "system",
                "content": template.format(roles=roles, agentlist=str(list(candidates))),
            }
        roles = "\n".join(
            f"- {name}: {self.descriptions.get(name) or 'no description'}" for name in candidates
        )
        return {
            "role": "system",
            "content": "You choose who speaks next in a conversation between agents.\n"
            f"The agents who may speak next are:\n{roles}",
        }

    def _request_message(self, candidates: Sequence[str]) -> dict[str, Any]:
        template = self.prompt.prompt
        if template is not None:
            return {
                "role": self.prompt.role,
                "content": template.format(agentlist=str(list(candidates))),
            }
        return {
            "role": "user",
            "content": "Read the conversation above and choose the next speaker. "
            f"Answer with exactly one of: {', '.join(candidates)}.",
        }

    def _request(
        self, mechanism: Mechanism, messages: list[dict[str, Any]], candidates: Sequence[str]
    ) -> ModelRequest:
        schema = _schema(candidates)
        if mechanism == "json_schema":
            return ModelRequest(
                messages=messages,
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": _FIELD, "strict": True, "schema": schema},
                },
            )
        if mechanism == "tool":
            return ModelRequest(
                messages=messages,
                tools=[
                    {
                        "type": "function",
                        "function": {
                            "name": _TOOL_NAME,
                            "description": "Name the agent who speaks next.",
                            "parameters": schema,
                        },
                    }
                ],
                tool_choice={"type": "function", "function": {"name": _TOOL_NAME}},
            )
        if mechanism == "json_object":
            hint = (
                f'Answer with a JSON object of the form {{"{_FIELD}": "<name>"}} '
                f"that matches this schema: {json.dumps(schema)}"
            )
            return ModelRequest(
                messages=[*messages, {"role": "user", "content": hint}],
                response_format={"type": "json_object"},
            )
        return ModelRequest(messages=messages)

    async def _by_model(self, scope: Scope, candidates: Sequence[str]) -> Selection:
        current = scope.last_speaker or ""
        if self.client is None:
            # No model to ask: the fallback is the choice (``error`` raises).
            why = (
                f"node {current!r} has {len(candidates)} permitted successors "
                f"({', '.join(candidates)}) but the selector has no model; set selector.model, "
                "a non-error selector.fallback or a speaker_selection_method that needs none"
            )
            fallback = self._apply_fallback(current, candidates, why)
            return Selection(choice=fallback, method=f"fallback:{self.fallback}")
        context = current_run()
        base = self._prompt(scope, candidates)
        selection = Selection(choice=None, method="auto")
        mechanisms = self._mechanisms()
        conversation = list(base)
        # Refusals are remembered only once a weaker mechanism is accepted: a 400 about the
        # request itself (a conversation too long for the model) refuses every mechanism,
        # and must not mark the endpoint as unable to do structured output from then on.
        refusals: list[tuple[Mechanism, ModelRequestError]] = []
        attempt = 0
        while attempt <= self.max_retries:
            mechanism = mechanisms[0]
            request = self._request(mechanism, conversation, candidates)
            try:
                response = await context.call_model(self.client, request, purpose="select")
            except ModelRequestError as exc:
                if exc.status in (400, 422) and mechanism != "text":
                    refusals.append((mechanism, exc))
                    mechanisms = mechanisms[1:] or ["text"]
                    continue
                raise
            for refused, rejection in refusals:
                self._remember_rejection(refused, rejection)
            refusals.clear()
            selection.method = f"auto:{mechanism}"
            selection.prompt_tokens += response.usage.prompt_tokens
            selection.completion_tokens += response.usage.completion_tokens
            message = response.message
            # Only a call of the selector's own function answers; a model that calls some
            # other function has not named a speaker.
            raw = next(
                (c.arguments for c in message.tool_calls or () if c.name == _TOOL_NAME),
                message.text,
            )
            selection.raw_answers.append(raw)
            choice = parse_choice(raw, candidates)
            if choice is not None:
                selection.choice = choice
                selection.retries = attempt
                return selection
            attempt += 1
            conversation = [
                *conversation,
                {"role": "assistant", "content": raw},
                {
                    "role": "user",
                    "content": f"{raw!r} is not one of the permitted speakers. "
                    f"Answer with exactly one of: {', '.join(candidates)}.",
                },
            ]
        selection.retries = self.max_retries
        why = (
            f"the selector model gave no valid speaker in {self.max_retries + 1} answers "
            f"({selection.raw_answers!r}); permitted: {', '.join(candidates)}"
        )
        selection.choice = self._apply_fallback(current, candidates, why)
        selection.method += f"+fallback:{self.fallback}"
        return selection
