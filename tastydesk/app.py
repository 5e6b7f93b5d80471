"""Composition root of the desktop app: Qt application, qasync loop, engine, main window.

Start-up is kept short: the window is shown before the engine connects to its broker, and
pyqtgraph (about half a second to import) is loaded only when a chart is first needed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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

    # Collection belongs to the GUI thread's collector (started below, see tastydesk.ui.gui_gc);
    # turned off from here, the imports and the window's construction run without the full
    # passes the growing heap would otherwise trigger, and the heap is collected once, when
    # it is frozen (tastydesk.ui.heap).
    gc.disable()
    base = paths.data_dir(getattr(args, "data_dir", None))  # the account's directory
    paths.setup_logging(paths.data_dir(getattr(args, "data_root", None) or base))
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

    from tastydesk.ui.gui_gc import collect_on_gui_thread

    collector = collect_on_gui_thread()  # noqa: F841  (lives while the app runs)
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

    from tastydesk.engine.bootstrap import LoginUnavailable, open_engine, open_read_only_engine
    from tastydesk.ui.main_window import MainWindow

    account = getattr(args, "account", None)
    refused, read_only = _check_account(base, account)
    if refused is not None:
        splash.close()
        return refused
    try:
        if read_only is not None:
            # The writer lock taken above stays held: nobody may write the files shown.
            engine = await open_read_only_engine(base, read_only, account=account)
        else:
            engine = await open_engine(base,
                                       paper=True if getattr(args, "paper", False) else None,
                                       speed=getattr(args, "speed", None),
                                       **_account_options(args, account))
    except LoginUnavailable as exc:
        # The chosen tastytrade account has no usable login: say so, open paper instead.
        log.warning("%s; opening the default paper account", exc)
        print(f"tastydesk: {exc}; opening the default paper account", file=sys.stderr)
        from tastydesk.accounts.model import AccountRef

        return await _switch(args, AccountRef.default_paper(), guard, started, splash)
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

    window = MainWindow(engine, freeze_heap=False)  # frozen once painted: _start_engine
    if account is not None and getattr(args, "data_root", None):
        from pathlib import Path

        window.account.set_context(Path(args.data_root), account)
    if engine.read_only is not None:
        window.account.show_read_only(engine.read_only)
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
        # After a login or File > Switch account: reopen on the chosen account.
        return await _switch(args, window.switch_target, guard, started, splash)
    return 0


def _account_options(args: argparse.Namespace, account: Any) -> dict[str, Any]:
    """The engine options of the chosen account (its seed and cash when it is a paper one);
    the choice is remembered so the next start opens it again."""
    seed = getattr(args, "seed", None)
    root = getattr(args, "data_root", None)
    if account is None or root is None:
        return {"seed": seed}
    from pathlib import Path

    from tastydesk.accounts.registry import paper_spec, set_last_used

    set_last_used(Path(root), account)
    if not account.is_paper:
        return {"account": account, "seed": seed}
    spec = paper_spec(Path(root), account)
    return {"account": account, "seed": spec.seed if seed is None else seed,
            "starting_cash": spec.starting_cash}


async def _switch(args: argparse.Namespace, target: Any, guard: Any, started: float,
                  splash: Any) -> int:
    """Release this account's lock, take the other's, and open its window."""
    from pathlib import Path

    from tastydesk.accounts.selection import apply_to_args
    from tastydesk.ui.single_instance import SingleInstance

    root = getattr(args, "data_root", None)
    if target is None or root is None:
        args.paper = False  # an older layout: reopen on the stored login
        return await _run_window(args, paths.data_dir(args.data_dir), guard, started, splash)
    guard.release()
    apply_to_args(args, Path(root), target.slug, create=True)
    base = Path(args.data_dir)
    new_guard = SingleInstance(base)
    if not new_guard.acquire():
        log.error("account %s is in use by another process", target)
        guard.acquire()
        return int(ExitCode.LOCKED)
    try:
        return await _run_window(args, base, new_guard, started, splash)
    finally:
        new_guard.release()


def _check_account(base: Any, account: Any, *, ask: bool | None = None
                   ) -> tuple[int | None, str | None]:
    """Refuse an account whose files do not prove they belong together, before the engine
    opens: nothing is armed, nothing starts fresh over it. With a display (``ask``: None
    decides by the platform) the trader restores the latest backup, starts the account anew on
    purpose or opens it read-only; without one the app exits naming the file. Returns (exit
    code, None) when the app must exit, (None, reason) to open read-only, (None, None) when the
    account may open (its day's first backup is then taken)."""
    from tastydesk.accounts.backup import latest_backup, restore_latest, set_aside, take_backup
    from tastydesk.commands.state_files import (
        app_database_problems,
        check_state_files,
        inspect_app_database,
    )

    while True:
        if account is None or account.is_paper:
            problems = check_state_files(base)
        else:
            problems = app_database_problems(inspect_app_database(paths.db_path(base)))
        if not problems:
            take_backup(base, replace=False)
            return None, None
        lines = [str(p) for p in problems]
        name = account.slug if account is not None else str(base)
        log.error("account %s refused: %s", name, "; ".join(lines))
        if ask is None:
            ask = os.environ.get(STARTUP_PROBE_ENV) != "1" and _has_display()
        if not ask:
            print(f"tastydesk: automation not armed; account {name} not opened: "
                  + "; ".join(lines), file=sys.stderr)
            return int(ExitCode.DAMAGED_STATE), None
        from tastydesk.accounts.model import AccountRef
        from tastydesk.ui.widgets.account_dialogs import StateChoice, StateProblemDialog

        backup = latest_backup(base)
        dialog = StateProblemDialog(account or AccountRef.default_paper(), lines,
                                    backup.name if backup else None,
                                    no_read_only=_why_not_read_only(base))
        dialog.exec()
        if dialog.choice is StateChoice.RESTORE:
            restore_latest(base)
        elif dialog.choice is StateChoice.NEW_ACCOUNT:
            set_aside(base, "set-aside")
        elif dialog.choice is StateChoice.READ_ONLY:
            return None, "; ".join(lines)
        else:
            return int(ExitCode.DAMAGED_STATE), None


def _why_not_read_only(base: Any) -> str | None:
    """Why the account's app database cannot be opened read-only; None when it can."""
    from tastydesk.commands.state_files import inspect_app_database

    app = inspect_app_database(paths.db_path(base))
    if not app.exists or app.size == 0:
        return f"{app.path}: missing or empty, so there is nothing to look at"
    if app.problem:
        return f"{app.path}: {app.problem}"
    if app.revision != app.head:
        return (f"{app.path}: at schema revision {app.revision}, this tastydesk reads "
                f"{app.head} (read-only opening does not migrate)")
    return None


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
    from tastydesk.ui.heap import freeze_long_lived

    # The window and the opened engine live for the session: collected once and frozen here,
    # after the first paint rather than before it (the engine's start freezes what it adds).
    freeze_long_lived()
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
