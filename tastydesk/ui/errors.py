"""Global exception surface: sys, threading and asyncio handlers log, then show one dialog.

This is for defects. A command's expected failure (a refusal, a validation message) never gets
here: the command runner turns it into one line naming the field (``ui.failures``). Errors from
other threads are marshalled to the GUI thread through a queued Qt signal; the app keeps running
after showing them. Imported before the first window is painted, so it stays light: the dialog
is built (and imported) on the first error.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import traceback
from types import TracebackType
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal

if TYPE_CHECKING:
    from tastydesk.ui.widgets.error_dialog import ErrorDialog

log = logging.getLogger("tastydesk.errors")

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
