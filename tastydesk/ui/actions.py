"""Running engine commands from the UI: one in-flight guard per key, errors surfaced, never lost.

The guard is taken synchronously, before any coroutine is created, so two clicks in the same
event-loop turn (a double click, a repeated shortcut) can never schedule the command twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class CommandRunner(QObject):
    started = Signal(object)  # key
    finished = Signal(object, object)  # key, result
    failed = Signal(object, str)  # key, message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._in_flight: dict[Hashable, asyncio.Future[Any]] = {}

    def in_flight(self, key: Hashable) -> bool:
        return key in self._in_flight

    @property
    def busy_keys(self) -> set[Hashable]:
        return set(self._in_flight)

    def claim(self, key: Hashable) -> bool:
        """Reserve ``key`` (e.g. while a confirmation dialog is open); False if already taken."""
        if key in self._in_flight:
            return False
        self._in_flight[key] = asyncio.get_event_loop().create_future()
        return True

    def release(self, key: Hashable) -> None:
        """Give back a key claimed with :meth:`claim` without running anything."""
        future = self._in_flight.pop(key, None)
        if future is not None and not future.done():
            future.cancel()

    def run(self, key: Hashable, command: Callable[[], Awaitable[Any]],
            claimed: bool = False) -> bool:
        """Schedule ``command()`` unless ``key`` is in flight; returns whether it was scheduled.

        Pass ``claimed=True`` when the caller already holds the key through :meth:`claim`.
        """
        if claimed:
            reserved = self._in_flight.get(key)
            if reserved is None:
                raise RuntimeError(f"key {key!r} was not claimed")
        elif key in self._in_flight:
            return False
        else:
            reserved = None
        task = asyncio.ensure_future(command())
        if reserved is not None and not reserved.done():
            reserved.cancel()
        self._in_flight[key] = task
        task.add_done_callback(lambda t: self._done(key, t))
        self.started.emit(key)
        return True

    async def drain(self) -> None:
        """Wait for every running command (used at shutdown and in tests)."""
        tasks = [t for t in self._in_flight.values() if isinstance(t, asyncio.Task)]
        if tasks:
            await asyncio.wait(tasks)

    def _done(self, key: Hashable, task: asyncio.Future[Any]) -> None:
        if self._in_flight.get(key) is task:
            del self._in_flight[key]
        if task.cancelled():
            self.failed.emit(key, "cancelled")
            return
        exc = task.exception()
        if exc is not None:
            log.error("command %r failed", key, exc_info=exc)
            self.failed.emit(key, f"{type(exc).__name__}: {exc}")
            return
        self.finished.emit(key, task.result())


def current_user() -> str:
    """The operating-system user name recorded as "who" on every decision."""
    import getpass

    try:
        return getpass.getuser() or "user"
    except Exception:  # no login name in some sandboxes/containers
        return "user"
