"""Checkpointing a SQLite store's write-ahead log away from the thread that records."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

#: Roughly how much a store writes to the WAL before a checkpoint is asked for (SQLite's own
#: automatic checkpoint starts at 1,000 pages, about 4 MiB).
DEFAULT_CHECKPOINT_BYTES = 4 << 20

#: What one commit costs in the WAL besides its rows: the B-tree pages it rewrites.
_COMMIT_OVERHEAD_BYTES = 8 << 10


class WalCheckpointer:
    """Copies the WAL back into the database file on a daemon thread of its own.

    SQLite's automatic checkpoint runs inside the commit that crosses its threshold, and
    fsyncs there: a pause of milliseconds in the middle of a run, paid by the engine. The
    store's connection turns it off and calls ``wrote`` after each commit instead; once about
    ``threshold_bytes`` have been written, this thread runs a PASSIVE checkpoint on its own
    connection (SQLite releases the GIL while it works, and a PASSIVE checkpoint never blocks
    writers). Durability does not depend on it: every commit is in the WAL already, and any
    later connection can checkpoint what is left.
    """

    def __init__(
        self,
        path: Path,
        *,
        threshold_bytes: int = DEFAULT_CHECKPOINT_BYTES,
        busy_timeout_s: float = 30.0,
    ) -> None:
        self.path = path
        self.threshold_bytes = threshold_bytes
        self.busy_timeout_s = busy_timeout_s
        self.checkpoints = 0
        """How many checkpoints this thread ran."""
        self._written = 0
        self._wanted = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the checkpoint thread is alive (it starts at the first request)."""
        return self._thread is not None and self._thread.is_alive()

    def wrote(self, row_bytes: int) -> None:
        """Account for one commit of ``row_bytes``; ask for a checkpoint past the threshold."""
        self._written += row_bytes + _COMMIT_OVERHEAD_BYTES
        if self._written < self.threshold_bytes or self._closing:
            return
        self._written = 0
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"flowagents-checkpoint {self.path.name}", daemon=True
            )
            self._thread.start()
        self._wanted.set()

    def _run(self) -> None:
        db = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        try:
            while True:
                self._wanted.wait()
                self._wanted.clear()
                if self._closing:
                    return
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    continue  # the WAL stays valid; the next request tries again
                self.checkpoints += 1
        finally:
            db.close()

    def close(self) -> None:
        """Stop the thread (a checkpoint in progress completes first)."""
        self._closing = True
        self._wanted.set()
        if self._thread is not None:
            self._thread.join()
