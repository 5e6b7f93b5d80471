"""Durable journal of the paper world: the latest snapshot of the paper broker and market.

A paper account has to survive restarting the app, and a killed process has to come back in a
state the engine can reconcile against. The journal is one small SQLite file in WAL mode with
``synchronous=NORMAL``: every commit is in the write-ahead log before ``save`` returns, so a
killed process loses nothing it saved (only a power loss may drop the last commits), while a
commit costs no fsync, which keeps per-step saves of a simulation cheap.

Each snapshot is stored as named JSON parts, so the market can rewrite the part that moves
every step (paths, clock, random state) without rewriting the parts that change daily
(closing prices) or rarely (one listed series per part).

Write-behind: in the desktop app the event loop is the GUI thread, so a save must not wait on
SQLite there. With :meth:`PaperState.write_behind` a save encodes its parts on the caller (the
snapshot is taken at that instant) and hands the transaction to the engine store's
single-writer thread. That queue runs in order, so an older snapshot never overwrites a newer
one, and a paper save queued before the engine records what it caused (a fill, say) is
committed before that record. :meth:`PaperState.flush` waits for the queue; :meth:`close`
flushes. Without write-behind (the headless simulation) a save commits before it returns.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, wait
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Queues a callable on the writer thread and returns its future.
Submit = Callable[[Callable[[], None]], "Future[None]"]

BROKER = "broker"
IDENTITY = "identity"  # the account this paper world belongs to (see tastydesk.accounts)
GENERATION = "generation"  # counts saves; the app database records the one it last saw
MARKET_CORE = "market/core"
MARKET_HISTORY = "market/history"
MARKET_SERIES = "market/series/"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS part (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    saved_at REAL NOT NULL
)
"""


class PaperState:
    """The paper world's snapshot file; see the module docstring.

    One instance per process and file, used from the event-loop thread; with write-behind its
    transactions run on the writer thread (the connection is used by one thread at a time).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=10.0,
                                         check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
            row = self._conn.execute("SELECT body FROM part WHERE name = ?",
                                     (GENERATION,)).fetchone()
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"path: {self.path} is not a paper state file ({exc})") from exc
        self._lock = threading.Lock()  # one user of the connection at a time
        self._generation = int(row[0]) if row else 0  # committed saves
        self._submit: Submit | None = None
        self._last: Future[None] | None = None  # the latest queued write

    def write_behind(self, submit: Submit | None) -> None:
        """Queue saves with ``submit`` (the store's single-writer thread) instead of committing
        them on the caller; None goes back to committing on the caller after a flush."""
        if submit is None:
            self.flush()
        self._submit = submit

    def flush(self) -> None:
        """Wait until every queued save is committed."""
        last = self._last
        if last is not None:
            wait([last])  # a failed save was logged when it failed

    # -- generic parts ---------------------------------------------------------------------

    def save(self, parts: Mapping[str, Any], drop: Iterable[str] = ()) -> None:
        """Write ``parts`` (JSON-serialisable) and delete ``drop`` in one transaction.

        The parts are encoded now; with write-behind the transaction is queued (see the module
        docstring)."""
        now = time.time()
        rows = [(name, json.dumps(body, separators=(",", ":")), now)
                for name, body in parts.items()]
        dropped = [(name,) for name in drop]
        if self._submit is None:
            self._write(rows, dropped, now)
            return
        try:
            future = self._submit(lambda: self._write(rows, dropped, now))
        except RuntimeError:  # the writer thread has stopped: commit here, in order
            self.flush()
            self._write(rows, dropped, now)
            return
        future.add_done_callback(_log_failure)
        self._last = future

    def _write(self, rows: list[tuple[str, str, float]], dropped: list[tuple[str]],
               now: float) -> None:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT INTO part (name, body, saved_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET body = excluded.body, "
                    "saved_at = excluded.saved_at",
                    rows,
                )
                conn.executemany("DELETE FROM part WHERE name = ?", dropped)
                conn.execute("INSERT INTO part (name, body, saved_at) VALUES (?, '1', ?) "
                             "ON CONFLICT(name) DO UPDATE SET body = CAST(body AS INTEGER) + 1, "
                             "saved_at = excluded.saved_at", (GENERATION, now))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            self._generation += 1

    def load(self, prefix: str) -> dict[str, Any]:
        """Every part whose name starts with ``prefix``, decoded (after any queued save)."""
        self.flush()
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, body FROM part WHERE substr(name, 1, ?) = ? ORDER BY name",
                (len(prefix), prefix),
            ).fetchall()
        return {name: json.loads(body) for name, body in rows}

    def generation(self) -> int:
        """How many saves this file has committed (0 for a new file): a save still queued is
        not counted, so the app database never records a generation a kill could lose."""
        with self._lock:
            return self._generation

    def identity(self) -> dict[str, Any] | None:
        return self.load(IDENTITY).get(IDENTITY)

    def set_identity(self, identity: Mapping[str, Any]) -> None:
        self.save({IDENTITY: dict(identity)})

    # -- broker and market -----------------------------------------------------------------

    def save_broker(self, snapshot: Mapping[str, Any]) -> None:
        self.save({BROKER: snapshot})

    def load_broker(self) -> dict[str, Any] | None:
        """The broker's last snapshot, or None when the file holds none yet."""
        return self.load(BROKER).get(BROKER)

    def load_market(self) -> dict[str, Any] | None:
        """The market's last snapshot as :meth:`PaperMarket.snapshot` returns it, or None."""
        parts = self.load("market/")
        core = parts.get(MARKET_CORE)
        history = parts.get(MARKET_HISTORY)
        if core is None or history is None:
            return None
        series = {name[len(MARKET_SERIES):]: body for name, body in parts.items()
                  if name.startswith(MARKET_SERIES)}
        return {"core": core, "history": history, "series": series}

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._conn.close()

    def __enter__(self) -> PaperState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _log_failure(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("paper state save failed: %s", exc, exc_info=exc)
