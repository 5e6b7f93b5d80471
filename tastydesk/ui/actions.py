"""Running engine commands from the UI: one in-flight guard per key, errors surfaced, never lost.

Every user action that asks the engine to change something goes through :class:`CommandRunner`,
so every dock gets the same guard against double clicks and the same error reporting. The guard
is taken synchronously, before any coroutine is created, so two clicks in the same event-loop
turn (a double click, a repeated shortcut) can never schedule the command twice.

A command is a callable returning either a coroutine or a plain value: engine commands that
still answer synchronously and those that are coroutines run through the same path, and the
call itself happens inside the task, never in the click handler.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Hashable
from typing import Any

from PySide6.QtCore import QObject, Signal

from tastydesk.ui.failures import CommandFailure, describe_failure

log = logging.getLogger(__name__)

Command = Callable[[], Any]
OnSuccess = Callable[[Any], None]
OnFailure = Callable[[CommandFailure], None]


class CommandRunner(QObject):
    """Schedules commands on the event loop, one per key, and reports how each ended.

    ``failed`` carries the one-line message (the field path first when the error names one);
    a caller that marks fields passes ``on_failure`` and gets the full :class:`CommandFailure`.
    """

    started = Signal(object)  # key
    finished = Signal(object, object)  # key, result
    failed = Signal(object, str)  # key, one-line message ("cancelled" when cancelled)

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

    def run(self, key: Hashable, command: Command, claimed: bool = False, *,
            on_success: OnSuccess | None = None,
            on_failure: OnFailure | None = None) -> bool:
        """Schedule ``command()`` unless ``key`` is in flight; returns whether it was scheduled.

        ``command`` may return a coroutine (awaited) or a plain value. ``on_success`` and
        ``on_failure`` are called on the GUI thread when it ends, before the signals. Pass
        ``claimed=True`` when the caller already holds the key through :meth:`claim`.
        """
        return self.submit(key, command, claimed, on_success=on_success,
                           on_failure=on_failure) is not None

    def submit(self, key: Hashable, command: Command, claimed: bool = False, *,
               on_success: OnSuccess | None = None,
               on_failure: OnFailure | None = None) -> asyncio.Task[Any] | None:
        """Like :meth:`run` but returns the task (None when refused), for callers that await."""
        if claimed:
            reserved = self._in_flight.get(key)
            if reserved is None:
                raise RuntimeError(f"key {key!r} was not claimed")
        elif key in self._in_flight:
            return None
        else:
            reserved = None
        task = asyncio.ensure_future(_call(command))
        if reserved is not None and not reserved.done():
            reserved.cancel()
        self._in_flight[key] = task
        task.add_done_callback(lambda t: self._done(key, t, on_success, on_failure))
        self.started.emit(key)
        return task

    async def drain(self) -> None:
        """Wait for every running command (used at shutdown and in tests)."""
        tasks = [t for t in self._in_flight.values() if isinstance(t, asyncio.Task)]
        if tasks:
            await asyncio.wait(tasks)

    def _done(self, key: Hashable, task: asyncio.Future[Any], on_success: OnSuccess | None,
              on_failure: OnFailure | None) -> None:
        if self._in_flight.get(key) is task:
            del self._in_flight[key]
        if task.cancelled():
            failure = CommandFailure("cancelled", cancelled=True)
        else:
            exc = task.exception()
            if exc is None:
                result = task.result()
                if on_success is not None:
                    on_success(result)
                self.finished.emit(key, result)
                return
            failure = describe_failure(exc)
            if failure.expected:
                log.info("command %r refused: %s", key, failure.message)
            else:
                log.error("command %r failed", key, exc_info=exc)
        if on_failure is not None:
            on_failure(failure)
        self.failed.emit(key, failure.message)


async def settle(value: Any) -> Any:
    """``value`` itself, or what it resolves to when it is awaitable.

    Lets a command call engine methods that are coroutines on one facade and plain functions
    on another (or before and after a method became a coroutine) in the same way.
    """
    if inspect.isawaitable(value):
        return await value
    return value


async def _call(command: Command) -> Any:
    return await settle(command())


def current_user() -> str:
    """The operating-system user name recorded as "who" on every decision."""
    import getpass

    try:
        return getpass.getuser() or "user"
    except Exception:  # no login name in some sandboxes/containers
        return "user"
