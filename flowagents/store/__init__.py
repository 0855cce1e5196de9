"""Runs you can trust and repeat: recording, resume, replay, the LLM cache.

General layout:

- ``_protocol``: the ``RunStore`` interface and its records (``RunRecord``, ``CallRecord``);
- ``_sqlite`` / ``_memory``: the embedded SQLite store (the default, ``.flowagents/runs.db``)
  and an in-process one;
- ``_recorder``: ``RecordingSink`` (group-commits events: at once before every outside call,
  pause, error and the end of a run, otherwise within 25 ms) and ``Recorder`` (the
  interceptor that records answers and feeds them back);
- ``_cache``: ``LLMCache``, ``CachedModel`` (``cache_seed`` in an llm_config) and
  ``InterceptorChain``;
- ``_verify``: ``ReplayVerifier``, which checks a replay event by event;
- ``_runs``: ``record_run``, ``resume_run``, ``replay_run``, ``fork_run``;
- ``_transfer``: ``export_run`` / ``import_run``.
"""

from flowagents.store._cache import (
    DEFAULT_CACHE_SEED,
    CachedModel,
    InterceptorChain,
    LLMCache,
)
from flowagents.store._memory import MemoryRunStore
from flowagents.store._protocol import (
    SCHEMA_VERSION,
    CallKind,
    CallRecord,
    RunRecord,
    RunState,
    RunStore,
)
from flowagents.store._recorder import Recorder, RecordingSink
from flowagents.store._runs import (
    NonInteractiveInput,
    ReplayReport,
    RunSpec,
    build_manifest,
    fork_run,
    record_run,
    replay_run,
    resume_run,
)
from flowagents.store._sqlite import MIGRATIONS, SQLiteRunStore, default_store_path, open_store
from flowagents.store._transfer import ExportFormat, export_run, import_run
from flowagents.store._verify import ReplayVerifier

__all__ = [
    "DEFAULT_CACHE_SEED",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "CachedModel",
    "CallKind",
    "CallRecord",
    "ExportFormat",
    "InterceptorChain",
    "LLMCache",
    "MemoryRunStore",
    "NonInteractiveInput",
    "Recorder",
    "RecordingSink",
    "ReplayReport",
    "ReplayVerifier",
    "RunRecord",
    "RunSpec",
    "RunState",
    "RunStore",
    "SQLiteRunStore",
    "build_manifest",
    "default_store_path",
    "export_run",
    "fork_run",
    "import_run",
    "open_store",
    "record_run",
    "replay_run",
    "resume_run",
]
