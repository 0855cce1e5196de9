"""Recorded runs end to end: start, resume, replay and fork.

Each is "build a Runner for the recorded graph and inputs, put a Recorder in front of the
outside world, and execute from the start": the record answers the prefix, the recording
sink drops the events of the prefix it already has, and the run continues live (resume,
fork) or is checked against its record (replay).
"""

from __future__ import annotations

import functools
import os
import platform
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from flowagents.errors import HumanInputNeeded, ReplayDivergenceError, StoreError
from flowagents.runtime import EventSink, InputProvider, Interceptor, Runner, RunResult
from flowagents.store._cache import DEFAULT_CACHE_SEED, InterceptorChain, LLMCache
from flowagents.store._protocol import CallKind, RunRecord, RunStore
from flowagents.store._recorder import Recorder, RecordingSink
from flowagents.store._verify import ENDING_KINDS, ReplayVerifier, event_keys, recorded_joins

if TYPE_CHECKING:
    from flowagents.agents import ConversableAgent
    from flowagents.graph import CompiledGraph


class RunSpec(BaseModel):
    """What rebuilds a run's Runner: kept in the manifest under ``run_spec``."""

    model_config = ConfigDict(frozen=True)

    graph_file: str | None = None
    graph_hash: str
    task: str | None = None
    seed: int = 0
    max_turns: int | None = None
    cache_seed: int | None = None


class NonInteractiveInput:
    """Human input provider that parks the run (``waiting_for_human``) instead of asking."""

    async def get_input(self, prompt: str, *, agent: str) -> str:
        """Raise HumanInputNeeded: answer later with ``flowagents resume RUN --reply``."""
        raise HumanInputNeeded(prompt, agent=agent)


class ReplayReport(BaseModel):
    """What a replay checked: ``complete`` is False when the record itself stops early."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    run_id: str
    events_checked: int
    answers_replayed: int
    complete: bool
    result: RunResult | None = None


@functools.cache
def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("flowagents", "pydantic", "openai"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def build_manifest(graph: CompiledGraph, spec: RunSpec) -> dict[str, Any]:
    """The manifest of a run: graph and hash, models and parameters, seed, versions, process."""
    models = {
        "/".join((*path, name)): model.model_dump(mode="json", exclude_defaults=True)
        for path, sub in graph.walk()
        for name, model in sub.models.items()
    }
    return {
        "graph_file": spec.graph_file,
        "graph_hash": graph.content_hash,
        "seed": spec.seed,
        "max_turns": spec.max_turns,
        "models": models,
        "versions": dict(_versions()),
        "platform": platform.platform(),
        "process": {"host": socket.gethostname(), "pid": os.getpid()},
        "run_spec": spec.model_dump(mode="json"),
    }


def scripted_models(graph: CompiledGraph) -> set[str]:
    """The model labels of in-process scripted models anywhere in ``graph``."""
    return {
        model.model
        for _, sub in graph.walk()
        for model in sub.models.values()
        if model.provider == "scripted"
    }


def _interceptor(store: RunStore, recorder: Recorder, cache_seed: int | None) -> Interceptor:
    if cache_seed is None:
        return recorder
    return InterceptorChain(recorder, LLMCache(store, cache_seed=cache_seed))


def _run_live(
    graph: CompiledGraph,
    spec: RunSpec,
    store: RunStore,
    recorder: Recorder,
    sink: RecordingSink,
    agents: Mapping[str, ConversableAgent] | None,
    input_provider: InputProvider | None,
    manifest: dict[str, Any],
    run_id: str | None,
    recorded: RunRecord | None = None,
) -> RunResult:
    """Run (or re-execute) ``spec`` recording into ``store``, the recorder answering first.

    A re-execution of ``recorded`` starts from what its selector knew endpoints refuse.
    """
    runner = Runner(
        graph,
        agents=agents,
        sinks=[sink],
        input_provider=input_provider,
        interceptor=_interceptor(store, recorder, spec.cache_seed),
        max_turns=spec.max_turns,
        seed=spec.seed,
        manifest=manifest,
        selector_rejections=None if recorded is None else selector_rejections(recorded),
    )
    return runner.run(spec.task, run_id=run_id)


def selector_rejections(run: RunRecord) -> dict[str, list[str]]:
    """What ``run``'s speaker selectors knew endpoints refuse when it started."""
    known = run.manifest.get("selector_rejections")
    return dict(known) if isinstance(known, Mapping) else {}


def record_run(
    store: RunStore,
    graph: CompiledGraph,
    task: str | None,
    *,
    graph_file: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
    seed: int = 0,
    max_turns: int | None = None,
    cache: bool = False,
    cache_seed: int | None = None,
    sinks: Sequence[EventSink] = (),
    input_provider: InputProvider | None = None,
    agents: Mapping[str, ConversableAgent] | None = None,
) -> RunResult:
    """Run ``graph`` on ``task``, recording every event and answer into ``store``.

    ``cache`` (or a ``cache_seed``) answers repeated model requests from the store's cache.
    Pass ``graph_file`` so that ``flowagents resume``/``replay`` can rebuild the run.
    """
    if cache and cache_seed is None:
        cache_seed = DEFAULT_CACHE_SEED
    spec = RunSpec(
        graph_file=str(Path(graph_file).resolve()) if graph_file is not None else None,
        graph_hash=graph.content_hash,
        task=task,
        seed=seed,
        max_turns=max_turns,
        cache_seed=cache_seed,
    )
    sink = RecordingSink(store, forward=sinks)
    recorder = Recorder(store, sink=sink)
    return _run_live(
        graph,
        spec,
        store,
        recorder,
        sink,
        agents,
        input_provider,
        build_manifest(graph, spec),
        run_id,
    )


def run_spec(run: RunRecord) -> RunSpec:
    """The RunSpec kept in ``run``'s manifest; StoreError when it has none."""
    data = run.manifest.get("run_spec")
    try:
        return RunSpec.model_validate(data)
    except ValidationError as exc:
        raise StoreError(
            f"run {run.run_id} was not recorded by record_run/flowagents run, so it cannot be "
            "rebuilt (no run_spec in its manifest)"
        ) from exc


def load_graph(run: RunRecord, *, force: bool = False) -> CompiledGraph:
    """Compile the graph file ``run`` was started from; refuse one that changed since."""
    from flowagents.graph import compile_graph

    spec = run_spec(run)
    if spec.graph_file is None:
        raise StoreError(
            f"run {run.run_id} was not started from a graph file; pass graph= to rebuild it"
        )
    graph = compile_graph(spec.graph_file)
    if graph.content_hash != spec.graph_hash and not force:
        raise StoreError(
            f"the graph file {spec.graph_file} changed since run {run.run_id} was recorded "
            f"(content hash {spec.graph_hash[:12]} then, {graph.content_hash[:12]} now); "
            "restore it, or pass --force to continue anyway"
        )
    return graph


def _process_alive(manifest: Mapping[str, Any]) -> int | None:
    process = manifest.get("process") or {}
    pid = process.get("pid")
    if not isinstance(pid, int) or process.get("host") != socket.gethostname():
        return None
    if pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def resume_run(
    store: RunStore,
    run_id: str,
    *,
    reply: str | None = None,
    force: bool = False,
    sinks: Sequence[EventSink] = (),
    input_provider: InputProvider | None = None,
    graph: CompiledGraph | None = None,
    agents: Mapping[str, ConversableAgent] | None = None,
) -> RunResult:
    """Continue a crashed, paused or failed run from its last committed step, same run id.

    ``reply`` answers the human input the run is waiting for. ``sinks`` only see the events
    that are new (not those of the re-executed prefix).
    """
    run = store.get_run(run_id)
    if reply is not None and run.status != "waiting_for_human":
        raise StoreError(
            f"run {run_id} is not waiting for human input (its status is {run.status}), so "
            "there is nothing for --reply to answer; resume it without --reply"
        )
    if run.status == "completed":
        raise StoreError(
            f"run {run_id} already completed; nothing to resume "
            f"(fork it instead: flowagents replay {run_id} --from STEP)"
        )
    pid = _process_alive(run.manifest)
    if run.status == "running" and pid is not None and not force:
        raise StoreError(
            f"run {run_id} is still running (process {pid}); pass --force if it is not"
        )
    spec = run_spec(run)
    if graph is None:
        graph = load_graph(run, force=force)
    elif graph.content_hash != spec.graph_hash and not force:
        raise StoreError(f"the graph given for run {run_id} is not the one it was recorded with")
    events = store.events(run_id)
    kept = len(events)
    while kept and events[kept - 1].kind in ENDING_KINDS:
        kept -= 1  # the previous attempt's ending goes; the new one replaces it
    store.truncate_events(run_id, kept)
    history = [
        *run.manifest.get("resumed", []),
        {
            "at": time.time(),
            "from_status": run.status,
            "reason": run.reason,
            "events": kept,
        },
    ]
    manifest = run.manifest | {
        "resumed": history,
        "process": {"host": socket.gethostname(), "pid": os.getpid()},
    }
    store.update_run(
        run.model_copy(
            update={"status": "running", "reason": "", "ended_at": None, "manifest": manifest}
        )
    )
    recorder = Recorder(
        store,
        record=store.calls(run_id),
        call_through=scripted_models(graph),
        replies=[reply] if reply is not None else [],
        joins=recorded_joins(events[:kept]),
        sink=(
            sink := RecordingSink(
                store, forward=sinks, run_id=run_id, recorded=event_keys(events[:kept])
            )
        ),
    )
    return _run_live(
        graph, spec, store, recorder, sink, agents, input_provider, manifest, run_id, run
    )


def replay_run(
    store: RunStore,
    run_id: str,
    *,
    sinks: Sequence[EventSink] = (),
    graph: CompiledGraph | None = None,
    agents: Mapping[str, ConversableAgent] | None = None,
) -> ReplayReport:
    """Re-execute ``run_id`` offline from its record and check every step matches.

    Nothing is called (models, humans, code, tools all answer from the record) and nothing is
    written. Raises ReplayDivergenceError at the first difference.
    """
    run = store.get_run(run_id)
    spec = run_spec(run)
    if graph is None:
        graph = load_graph(run, force=True)
    recorded = store.events(run_id)
    verifier = ReplayVerifier(recorded)
    recorder = Recorder(
        None, record=store.calls(run_id), strict=True, joins=recorded_joins(recorded)
    )
    runner = Runner(
        graph,
        agents=agents,
        sinks=[verifier, *sinks],
        interceptor=recorder,
        input_provider=NonInteractiveInput(),
        max_turns=spec.max_turns,
        seed=spec.seed,
        manifest=run.manifest,
        selector_rejections=selector_rejections(run),
    )
    result: RunResult | None = None
    complete = False  # until the replay went through the whole record
    try:
        result = runner.run(spec.task, run_id=run_id)
        verifier.finish(tools_not_run=recorder.tools_not_run)
        complete = True
    except ReplayDivergenceError as error:
        # A record that stops early (crash, failure, cancel, a pause inside a tool) matches
        # when the replay got that far.
        stopped_early = run.status in ("running", "failed", "cancelled", "waiting_for_human")
        if (
            not stopped_early
            or verifier.contradicted
            or verifier.missing(ignore_ending=True, tools_not_run=recorder.tools_not_run)
            is not None
        ):
            if graph.content_hash != spec.graph_hash:
                error.add_note(
                    f"the graph changed since the run was recorded (content hash "
                    f"{spec.graph_hash[:12]} then, {graph.content_hash[:12]} now)"
                )
            raise
    except Exception as error:
        # A record that ends with an error matches a replay that raises the same one (type
        # and message) at the same step, the record's ending included.
        if not verifier.error_matched:
            raise
        try:
            verifier.finish(tools_not_run=recorder.tools_not_run)
        except ReplayDivergenceError as divergence:
            raise divergence from error
    return ReplayReport(
        run_id=run_id,
        events_checked=verifier.checked,
        answers_replayed=recorder.replayed,
        complete=complete,
        result=result if complete else None,
    )


_ANSWER_EVENT: dict[CallKind, str] = {
    "model": "model_called",
    "human": "human_input_received",
    "code": "code_executed",
    "tools": "tool_called",
}


def fork_run(
    store: RunStore,
    run_id: str,
    from_step: str,
    *,
    new_run_id: str | None = None,
    sinks: Sequence[EventSink] = (),
    input_provider: InputProvider | None = None,
    graph: CompiledGraph | None = None,
    agents: Mapping[str, ConversableAgent] | None = None,
) -> RunResult:
    """A new run that replays ``run_id`` up to ``from_step`` and is live from there.

    The graph may have changed after ``from_step`` (that is the point of a what-if); a
    change that alters the recorded prefix raises ReplayDivergenceError.
    """
    run = store.get_run(run_id)
    spec = run_spec(run)
    if graph is None:
        graph = load_graph(run, force=True)
    events = store.events(run_id)
    keys = event_keys(events)
    cut = next(
        (
            i
            for i, (step, _, _) in enumerate(keys)
            if step == from_step or step.startswith(from_step + "/")
        ),
        None,
    )
    if cut is None:
        steps = list(dict.fromkeys(step for step, _, _ in keys))
        raise StoreError(
            f"run {run_id} has no step {from_step!r}; its steps are: "
            + ", ".join(steps[:30])
            + (" ..." if len(steps) > 30 else "")
        )
    before = {key for key in keys[:cut]}

    def replay_filter(step: str, kind: CallKind, ordinal: int) -> bool:
        if kind == "tools":  # a batch of tool calls is counted by its first call
            return (step, "tool_called", 0) in before
        return (step, _ANSWER_EVENT[kind], ordinal) in before

    recorder = Recorder(
        store,
        record=store.calls(run_id),
        replay_filter=replay_filter,
        call_through=scripted_models(graph),
        joins=recorded_joins(events[:cut]),
        sink=(sink := RecordingSink(store, forward=sinks)),
    )
    manifest = build_manifest(graph, spec.model_copy(update={"graph_hash": graph.content_hash}))
    manifest["forked_from"] = {"run_id": run_id, "step": from_step}
    return _run_live(
        graph, spec, store, recorder, sink, agents, input_provider, manifest, new_run_id, run
    )


def stdin_is_interactive() -> bool:
    """Whether a human can answer on standard input."""
    return sys.stdin is not None and sys.stdin.isatty()
