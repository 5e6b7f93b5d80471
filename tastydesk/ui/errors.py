"""How errors reach the trader.

Expected failures of a command (a refusal, a validation message) become a one-line
:class:`CommandFailure` naming the field when the error names one; they are shown inline or on a
status line, never as a traceback. Unexpected exceptions (defects) go through the global
surface: sys, threading and asyncio handlers log, then show one dialog. Errors from other
threads are marshalled to the GUI thread through a queued Qt signal; the app keeps running after
showing them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import threading
import traceback
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal

from tastydesk.engine.config import ConfigError
from tastydesk.engine.errors import EngineError
from tastydesk.engine.strategies.validation import StrategyValidationError

if TYPE_CHECKING:
    from tastydesk.ui.widgets.error_dialog import ErrorDialog

log = logging.getLogger("tastydesk.errors")

# "filters.min_credit: must be >= 0", "rules[2].threshold: must be positive"
_FIELD_MESSAGE = re.compile(r"^([A-Za-z_]\w*(?:\[\d+\])?(?:\.[A-Za-z_]\w*(?:\[\d+\])?)*): (.+)$",
                            re.DOTALL)
# Failures that are answers for the trader, not defects: shown as one line, never a traceback.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (EngineError, ValueError, TimeoutError,
                                                     ConnectionError)


@dataclass(frozen=True, slots=True)
class CommandFailure:
    """Why a command did not happen, as the trader reads it.

    ``message`` is one line; ``fields`` lists (path, reason) for every field the error names
    (validation errors name several); ``expected`` is False for defects (logged with their
    traceback).
    """

    message: str
    fields: tuple[tuple[str, str], ...] = ()
    expected: bool = True
    cancelled: bool = False

    @property
    def path(self) -> str | None:
        """The first field the error names, if any."""
        return self.fields[0][0] if self.fields else None

    def __str__(self) -> str:
        return self.message


def describe_failure(exc: BaseException) -> CommandFailure:
    """One line for ``exc``, with the field paths it names."""
    if isinstance(exc, StrategyValidationError):
        fields = tuple((e.path, e.message) for e in exc.errors)
    elif isinstance(exc, ConfigError):
        fields = tuple(exc.errors.items())
    else:
        text = " ".join(str(exc).split())
        match = _FIELD_MESSAGE.match(text)
        fields = ((match.group(1), match.group(2)),) if match else ()
        if not isinstance(exc, EXPECTED_ERRORS):
            return CommandFailure(f"Unexpected error ({type(exc).__name__}): {text or '?'}; "
                                  "details are in the log", fields, expected=False)
        return CommandFailure(text or type(exc).__name__, fields)
    first = f"{fields[0][0]}: {fields[0][1]}" if fields else str(exc)
    more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
    return CommandFailure(first + more, fields)


class ErrorReporter(QObject):
    reported = Signal(str, str)  # summary, details

    def __init__(self, parent: QObject | None = None, show_dialog: bool = True) -> None:
        super().__init__(parent)
        self._dialog: ErrorDialog | None = None  # built on the first error
        self._show_dialog = show_dialog
        self.reported.connect(self._show, Qt.ConnectionType.QueuedConnection)
        self._previous: tuple[Any, Any] | None = None

    @property
    def dialog(self) -> ErrorDialog | None:
        return self._dialog

    def report(self, exc_type: type[BaseException], exc: BaseException,
               tb: TracebackType | None, where: str = "") -> None:
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unhandled exception%s:\n%s", f" in {where}" if where else "", details)
        summary = f"{exc_type.__name__}: {exc}"
        self.reported.emit(summary, details)

    def install(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Install sys, threading and (when given) asyncio loop exception handlers."""
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self._sys_hook
        threading.excepthook = self._thread_hook
        if loop is not None:
            loop.set_exception_handler(self._loop_handler)

    def uninstall(self) -> None:
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous
            self._previous = None

    # ---- Hooks
    def _sys_hook(self, exc_type: type[BaseException], exc: BaseException,
                  tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        self.report(exc_type, exc, tb)

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "thread"
        self.report(args.exc_type, args.exc_value, args.exc_traceback, where=name)

    def _loop_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        message = context.get("message", "asyncio error")
        if exc is None:
            log.error("event loop: %s", message)
            self.reported.emit(message, repr(context))
            return
        self.report(type(exc), exc, exc.__traceback__, where=message)

    def _show(self, summary: str, details: str) -> None:
        if not self._show_dialog:
            return
        if self._dialog is None:
            from tastydesk.ui.widgets.error_dialog import ErrorDialog

            self._dialog = ErrorDialog()
        self._dialog.show_error(summary, details)
