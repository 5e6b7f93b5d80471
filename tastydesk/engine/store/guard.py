"""A switch that makes synchronous store calls on an event-loop thread fail loudly.

Under qasync the event loop is the GUI thread, so a synchronous :class:`Store` call made there
freezes the window while SQLite fsyncs. Code on the loop must ``await`` the
:class:`AsyncStore` instead, whose methods reach the repositories without passing through this
check (on its writer thread, or inline in the headless simulation, where no UI shares the
loop). A Store used outside any running loop (command-line tools, scripts, the writer thread)
is never affected; opening and closing a store are allowed anywhere.

The guard is off unless switched on: ``LOOP_GUARD.enable()`` in code, the ``store_loop_guard``
test fixture, or ``TASTYDESK_STORE_LOOP_GUARD=1`` in the environment (read at import).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tastydesk.engine.store.errors import SyncCallOnEventLoop

ENV_VAR = "TASTYDESK_STORE_LOOP_GUARD"
#: Refusals kept until taken (a guarded app that nobody reads must not grow without bound).
KEPT_VIOLATIONS = 100


class _Permits(threading.local):
    def __init__(self) -> None:
        self.depth = 0


@dataclass(frozen=True, slots=True)
class Violation:
    """One refused call: the error's message and the stack that made the call."""

    message: str
    stack: str


class LoopGuard:
    """Raises :class:`SyncCallOnEventLoop` for a guarded call made on a running loop's thread.

    Every refusal is also recorded, because the error may be caught far from the call: the bus
    logs a failing handler, the task supervisor logs a failed task, the UI's command runner shows
    a failed command. A test harness reads :meth:`take_violations` after each test so a refused
    call fails the test wherever it was swallowed.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.exempt_callers: Callable[[str], bool] | None = None
        self._permits = _Permits()
        self._violations: list[Violation] = []
        self._violations_lock = threading.Lock()

    def enable(self, on: bool = True, *, exempt_callers: Callable[[str], bool] | None = None
               ) -> None:
        """Switch the guard; ``exempt_callers`` (a test harness's predicate on the calling
        file's path) lets the harness inspect the database from its coroutines while the
        product's own calls stay guarded."""
        self.enabled = on
        self.exempt_callers = exempt_callers

    @contextmanager
    def permitted(self) -> Iterator[None]:
        """Calls inside this block pass (AsyncStore.run executing inline on the loop)."""
        depth = self._permits.depth
        self._permits.depth = depth + 1
        try:
            yield
        finally:
            self._permits.depth = depth

    def check(self) -> None:
        """Call first thing in a guarded method; cheap when the guard is off."""
        if not self.enabled or asyncio._get_running_loop() is None:
            return
        if self._permits.depth:
            return
        if self.exempt_callers is not None and \
                self.exempt_callers(sys._getframe(2).f_code.co_filename):
            return
        method = sys._getframe(1).f_code.co_name
        message = (f"Store.{method} was called synchronously on the thread running the event "
                   f"loop; await AsyncStore.{method} instead so the loop never waits on SQLite")
        stack = "".join(traceback.format_stack(sys._getframe(1)))
        with self._violations_lock:
            if len(self._violations) < KEPT_VIOLATIONS:
                self._violations.append(Violation(message, stack))
        raise SyncCallOnEventLoop(message)

    def take_violations(self) -> list[Violation]:
        """The calls refused since the last take, oldest first; the record is emptied."""
        with self._violations_lock:
            taken, self._violations = self._violations, []
        return taken


LOOP_GUARD = LoopGuard(os.environ.get(ENV_VAR, "").strip() not in ("", "0"))
