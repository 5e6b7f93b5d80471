"""Composition root of the desktop app: Qt application, qasync loop, engine, main window.

Start-up is kept short: the window is shown before the engine connects to its broker, and
pyqtgraph (about half a second to import) is loaded only when a chart is first needed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from typing import Any

from tastydesk import paths
from tastydesk.exit_codes import ExitCode

log = logging.getLogger("tastydesk.app")

STARTUP_PROBE_ENV = "TASTYDESK_STARTUP_PROBE"  # print time to first window and quit (benchmark)


def run_app(args: argparse.Namespace) -> int:
    """Run the desktop app until its window closes; returns the process exit code."""
    started = time.perf_counter()
    if getattr(args, "self_test", False):
        try:
            from tastydesk import selftest  # type: ignore[attr-defined]
        except ImportError:
            print("tastydesk: --self-test is not available in this build", file=sys.stderr)
            return 2
        return int(selftest.run(args))

    base = paths.data_dir(getattr(args, "data_dir", None))
    paths.setup_logging(base)
    import qasync
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    from tastydesk.ui.errors import ErrorReporter
    from tastydesk.ui.single_instance import SingleInstance
    from tastydesk.ui.theme import apply_theme
    from tastydesk.ui.window_layout import keep_settings_in

    QCoreApplication.setOrganizationName(paths.ORG_NAME)
    QCoreApplication.setApplicationName(paths.APP_NAME)
    keep_settings_in(base)  # layout and theme per data directory
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    apply_theme(app, str(QSettings().value("window/theme", "light")))

    guard = SingleInstance(base)
    if not guard.acquire():
        # Another writer holds the data directory: the app (raise its window) or a command.
        raised = guard.ask_running_instance_to_raise()
        holder = guard.holder
        who = holder.describe() if holder is not None else "another process"
        print(f"tastydesk: {base} is in use by {who}"
              + ("; its window was raised" if raised else ""), file=sys.stderr)
        return int(ExitCode.LOCKED)
    splash = _show_splash(app)
    if os.environ.get(STARTUP_PROBE_ENV) == "1":
        print(f"first-window-s {time.perf_counter() - started:.4f}", flush=True)

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    reporter = ErrorReporter(app)
    reporter.install(loop)
    try:
        with loop:
            return loop.run_until_complete(_main(args, base, guard, started, splash))
    finally:
        reporter.uninstall()
        guard.release()


async def _main(args: argparse.Namespace, base: Any, guard: Any, started: float,
                splash: Any) -> int:


    ticker = asyncio.ensure_future(keep_loop_turning())
    try:
        return await _run_window(args, base, guard, started, splash)
    finally:
        ticker.cancel()


async def _run_window(args: argparse.Namespace, base: Any, guard: Any, started: float,
                      splash: Any) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QMessageBox

    from tastydesk.engine.bootstrap import open_engine
    from tastydesk.ui.main_window import MainWindow

    try:
        engine = await open_engine(base, paper=True if getattr(args, "paper", False) else None,
                                   seed=getattr(args, "seed", None),
                                   speed=getattr(args, "speed", None))
    except Exception as exc:
        splash.close()
        log.exception("could not open the engine")
        if os.environ.get(STARTUP_PROBE_ENV) == "1" or not _has_display():
            print(f"tastydesk: the engine could not be opened: {exc}", file=sys.stderr)
            return 1
        QMessageBox.critical(None, "tastydesk cannot start",
                             f"The engine could not be opened:\n{type(exc).__name__}: {exc}\n\n"
                             f"Data directory: {base}")
        return 1

    window = MainWindow(engine)
    guard.activated.connect(lambda: window.focus_workflow(None))
    closed = asyncio.Event()
    window.closing.connect(closed.set)
    window.show()
    splash.close()
    probe = os.environ.get(STARTUP_PROBE_ENV) == "1"
    start_task: list[asyncio.Task[Any]] = []

    def after_first_paint() -> None:
        if probe:
            print(f"main-window-s {time.perf_counter() - started:.4f}", flush=True)
            window.close()
            return
        start_task.append(asyncio.ensure_future(_start_engine(engine, window)))

    QTimer.singleShot(0, after_first_paint)
    await closed.wait()
    if start_task and not start_task[0].done():
        await asyncio.wait(start_task, timeout=10)
    try:
        await asyncio.wait_for(engine.stop(), timeout=15)
    except Exception:
        log.exception("engine did not stop cleanly")
    if window.switch_requested:
        # After a login: reopen on the stored tastytrade login (paper only if it is unusable).
        args.paper = False
        return await _run_window(args, base, guard, started, splash)
    return 0


async def keep_loop_turning(interval_s: float = 0.05) -> None:
    """Run for as long as the app runs, waking the loop every ``interval_s``.

    Under qasync a ready callback (a task wake-up) can sit unprocessed until the next timer
    event fires: shutdown, with the window closed and no other timer left, then stalls inside
    ``engine.stop()``. A periodic asyncio timer bounds every such wait to one interval.
    """
    while True:
        await asyncio.sleep(interval_s)


def _show_splash(app: Any) -> Any:
    """A small window painted at once, while the engine's modules load and the store opens."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QPixmap
    from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

    from tastydesk.ui.resources import resource

    splash = QWidget(None, Qt.WindowType.SplashScreen | Qt.WindowType.FramelessWindowHint)
    splash.setObjectName("splash")
    layout = QVBoxLayout(splash)
    logo = QLabel()
    logo.setPixmap(QPixmap(str(resource("icons", "tastydesk-128.png"))))
    logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
    text = QLabel("Opening tastydesk\u2026")
    text.setAlignment(Qt.AlignmentFlag.AlignCenter)
    layout.addWidget(logo)
    layout.addWidget(text)
    splash.resize(260, 200)
    splash.show()
    app.processEvents()
    return splash


async def _start_engine(engine: Any, window: Any) -> None:
    try:
        await engine.start()
    except Exception as exc:
        log.exception("engine start failed")
        window.toast_message(f"Engine could not start: {type(exc).__name__}: {exc}")
        return
    window.refresh_status()


def _has_display() -> bool:
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.platformName() not in ("offscreen", "minimal")
