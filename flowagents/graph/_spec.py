"""The graph spec: what a YAML file or a GraphBuilder describes, before it is compiled.

Field docstrings are the field descriptions of the JSON Schema (``flowagents schema``) and of
the table in ``docs/graph-format.md``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from flowagents.graph._guards import REFERENCE_PATTERN, Guard

# Node names appear in step ids ("7/review.2") and edge keys ("a->b"): no "/", ":" or ">".
NAME_PATTERN = r"^[^/:>\s](?:[^/:>]*[^/:>\s])?$"

Mode = Literal["static", "dynamic"]


class _Spec(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )


class ModelSpec(_Spec):
    """A named model configuration; agents and the selector refer to it by name."""

    provider: Literal["openai", "scripted"] = "openai"
    """``openai`` for any OpenAI-compatible endpoint, ``scripted`` for offline replies."""
    model: str
    """Model name sent to the endpoint (for ``scripted``: a label)."""
    base_url: str | None = None
    """Endpoint base URL; the OpenAI default when empty."""
    api_key_env: str | None = None
    """Name of the environment variable that holds the API key (never the key itself)."""
    temperature: float | None = None
    """Sampling temperature."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Other request parameters (seed, max_tokens, ...), passed through."""
    replies: list[str] = Field(default_factory=list)
    """For ``provider: scripted``: the replies, in order."""
    capabilities: dict[str, Any] | None = None
    """Known endpoint capabilities (e.g. ``json_schema: false``), to skip probing."""


class _NodeOptions(_Spec):
    max_visits: int | None = Field(default=None, ge=1)
    """The node may be entered at most this many times (a bound on cycles through it)."""
    join: Literal["all", "any"] | None = None
    """Make this a join: wait for all (or any) parallel branches that lead here."""
    allow_repeat: bool = False
    """May this node speak twice in a row (a self-loop edge)."""


class AgentSpec(_NodeOptions):
    """An agent node: defined inline, or made by a Python factory."""

    name: str = Field(pattern=NAME_PATTERN)
    """Unique node name; no ``/``, ``:`` or ``>``, no surrounding spaces."""
    type: Literal["assistant", "user_proxy", "conversable"] = "assistant"
    """Which AutoGen-style agent class to build."""
    description: str = ""
    """What the agent does; a dynamic selector reads it to choose the next speaker."""
    system_message: str | None = None
    """The agent's system prompt (the type's default when empty)."""
    model: str | None = None
    """Name of an entry of ``models``; no model means no LLM replies."""
    human_input_mode: Literal["ALWAYS", "NEVER", "TERMINATE"] | None = None
    """When to ask a human (the type's default when empty)."""
    max_consecutive_auto_reply: int | None = Field(default=None, ge=0)
    """Stop auto-replying after this many consecutive replies."""
    code_execution: bool | dict[str, Any] = False
    """Execute code blocks found in messages: ``true`` or executor options."""
    default_auto_reply: str = ""
    """Reply used when no other reply function answers."""
    factory: str | None = Field(default=None, pattern=REFERENCE_PATTERN)
    """Build the agent by calling ``package.module:function(name=..., **kwargs)`` instead."""
    kwargs: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments for ``factory`` (without one: for the agent class)."""


class SubgroupSpec(_NodeOptions):
    """A node that runs a nested conversation graph and hands back its result."""

    name: str = Field(pattern=NAME_PATTERN)
    """Unique node name; no ``/``, ``:`` or ``>``, no surrounding spaces."""
    graph: GraphSpec | str
    """The nested graph: inline, or a file path relative to the including file."""
    description: str = ""
    """What the subgroup does (the nested graph's description when empty)."""
    summary: Literal["last_msg", "reflection"] = "last_msg"
    """How the result is summarised: its last message, or a reflection by a model."""
    summary_model: str | None = None
    """The model that writes a ``reflection``: a name in the subgroup graph's ``models``, else
    in this graph's (then the top graph's); the subgroup graph's ``selector.model`` when empty."""
    expose: Literal["summary", "all"] = "summary"
    """What the parent sees afterwards: only the summary, or every nested message."""


class EdgeSpec(_Spec):
    """A permitted speaker transition ``from`` -> ``to``."""

    source: str = Field(alias="from")
    """The node that has just spoken."""
    target: str = Field(alias="to")
    """A node that may speak next."""
    guard: Guard | None = None
    """Condition for taking the edge; absent means always allowed."""
    label: str | None = None
    """Short text for pictures of the graph (``CompiledEdge.label``, ``to_networkx()``). A trace
    needs no copy of it: a ``node_entered`` event names the edge it came by through ``via``
    and ``node``."""
    parallel: bool = False
    """Part of a fan-out: all parallel edges of a node are taken together."""
    max_traversals: int | None = Field(default=None, ge=1)
    """The edge may be taken at most this many times."""


class TerminationSpec(_Spec):
    """When a conversation ends."""

    keyword: str | None = "TERMINATE"
    """End when a message contains this text; ``null`` disables it."""
    max_turns: int | None = Field(default=None, ge=1)
    """End after this many turns."""
    token_budget: int | None = Field(default=None, ge=1)
    """End when this many tokens have been spent."""
    terminal: tuple[str, ...] = ()
    """Nodes after whose turn the conversation ends."""
    agents_may_stop: bool = False
    """The agents end the conversation themselves by not replying (the familiar API's way:
    ``is_termination_msg``, ``max_consecutive_auto_reply``, a human typing ``exit``)."""


class SelectorSpec(_Spec):
    """How the next speaker is chosen where several edges are open (dynamic mode)."""

    model: str | None = None
    """Name of an entry of ``models`` that picks the next speaker."""
    fallback: Literal["error", "first", "round_robin"] = "error"
    """What to do without a model, or when the model's answers stay unusable."""
    max_retries: int = Field(default=2, ge=0)
    """How often to re-ask the model after an unusable answer."""
    constraint: Literal["auto", "json_schema", "tool", "json_object", "text"] = "auto"
    """How the answer is constrained; ``auto`` picks the best the endpoint supports."""


class GraphSpec(_Spec):
    """A conversation graph: agents and subgroups as nodes, speaker transitions as edges."""

    version: Literal[1] = 1
    """Version of this file format."""
    name: str | None = None
    """Name of the graph (the file name, or the subgroup name, when empty)."""
    description: str = ""
    """What the conversation is for."""
    mode: Literal["static", "dynamic"] = "static"
    """``static``: guards and declared order decide; ``dynamic``: a selector picks."""
    start: str | None = None
    """The node that speaks first."""
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    """Named model configurations."""
    agents: list[AgentSpec] = Field(default_factory=list)
    """Agent nodes, in declaration order."""
    subgroups: list[SubgroupSpec] = Field(default_factory=list)
    """Nested graph nodes."""
    edges: list[EdgeSpec] = Field(default_factory=list)
    """Permitted speaker transitions, in priority order."""
    termination: TerminationSpec = Field(default_factory=TerminationSpec)
    """When the conversation ends."""
    selector: SelectorSpec = Field(default_factory=SelectorSpec)
    """How the next speaker is chosen among several candidates."""


SubgroupSpec.model_rebuild()
