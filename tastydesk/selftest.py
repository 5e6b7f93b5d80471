"""``tastydesk --self-test``: the real app, offscreen, through one full trade cycle, then exit.

It proves that a build works end to end where no one is watching (CI, a frozen bundle on a fresh
machine): Qt starts with its platform plugin, the qasync loop runs, the database opens and
migrates, the main window shows, and the paper market drives one workflow through entry order,
monitoring, closing order and completion with the auto-approve policy. Paper time is stepped as
fast as the engine can go (the same stepping as ``tastydesk simulate``), bounded in simulated days
and in wall time. Every check prints one ``ok``/``FAIL`` line; the exit code is 0 only when all
passed. Window layout is saved to a settings file inside the data directory, never to the user's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tastydesk import paths

if TYPE_CHECKING:  # the engine is imported when the check runs, not when the CLI loads
    from tastydesk.engine.bootstrap import PaperDriver
    from tastydesk.engine.kernel import Kernel

SIM_START = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # a Monday, 09:30 New York
STEP_S = 300.0  # simulated seconds per step
MAX_SIM_DAYS = 120.0
MAX_WALL_S = 90.0
FULL_CYCLE = ("EXECUTING", "MONITORING", "CLOSING", "COMPLETED")


@dataclass(slots=True)
class Checks:
    """Outcome lines in the order they were checked."""

    results: list[tuple[bool, str, str]] = field(default_factory=list)

    def add(self, ok: bool, what: str, detail: str = "") -> bool:
        self.results.append((ok, what, detail))
        line = f"{'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail else "")
        print(line, flush=True)
        return ok

    @property
    def failed(self) -> list[str]:
        return [what for ok, what, _ in self.results if not ok]


def run_self_test(args: argparse.Namespace) -> int:
    """Run every check; 0 when all passed, 1 naming the failures otherwise.

    ``args`` carries ``data_dir`` (a temporary directory, removed afterwards, when None), ``seed``
    (paper market seed, default 1) and ``speed`` (paper clock speed kept in the engine config).
    Optional ``max_days`` and ``max_wall_s`` tighten the bounds of the trade cycle.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    started = time.perf_counter()
    checks = Checks()
    given = getattr(args, "data_dir", None)
    base = Path(given) if given else Path(tempfile.mkdtemp(prefix="tastydesk-selftest-"))
    try:
        base.mkdir(parents=True, exist_ok=True)
        _run(args, base, checks)
    except Exception as exc:  # any crash becomes a named failure, never a bare traceback
        checks.add(False, "self-test ran to completion",
                   f"{type(exc).__name__}: {exc}\n" + traceback.format_exc(limit=8))
    finally:
        if not given:
            shutil.rmtree(base, ignore_errors=True)
    wall = time.perf_counter() - started
    if checks.failed:
        print(f"self-test FAILED ({len(checks.failed)} of {len(checks.results)} checks, "
              f"{wall:.1f} s): {'; '.join(checks.failed)}", flush=True)
        return 1
    print(f"self-test passed ({len(checks.results)} checks, {wall:.1f} s)", flush=True)
    return 0


run = run_self_test


def _run(args: argparse.Namespace, base: Path, checks: Checks) -> None:
    import qasync
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName(paths.ORG_NAME)
    QCoreApplication.setApplicationName(paths.APP_NAME)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    quit_on_close = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)  # closing the window is a check, not the end of the run
    checks.add(isinstance(app, QApplication), "Qt application",
               f"platform {QApplication.platformName()}")
    from tastydesk.ui.gui_gc import collect_on_gui_thread

    collector = collect_on_gui_thread()  # noqa: F841  (lives while the check runs)
    loop = qasync.QEventLoop(app)
    previous_loop = _current_loop()
    asyncio.set_event_loop(loop)
    errors: list[str] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(_describe(ctx)))
    previous_hook = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        errors.append(f"{kind.__name__}: {exc}")

    sys.excepthook = hook  # exceptions escaping Qt slots land here
    try:
        with loop:
            loop.run_until_complete(_cycle(args, base, checks, errors))
    finally:
        sys.excepthook = previous_hook
        asyncio.set_event_loop(previous_loop)
        app.setQuitOnLastWindowClosed(quit_on_close)


def _current_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return None


def _describe(context: dict[str, Any]) -> str:
    exc = context.get("exception")
    if exc is not None:
        return f"{type(exc).__name__}: {exc}"
    return str(context.get("message", "unknown loop error"))


async def _cycle(args: argparse.Namespace, base: Path, checks: Checks, errors: list[str]) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from tastydesk.engine.bootstrap import PAPER_CLOCK_KEY, open_paper_engine
    from tastydesk.engine.clock import RealClock
    from tastydesk.engine.config import EngineConfig
    from tastydesk.engine.domain.enums import ErrorCategory
    from tastydesk.engine.domain.events import WorkflowChanged
    from tastydesk.engine.store.service import Store

    db = paths.db_path(base)
    try:
        store = Store.open(db)
    except Exception as exc:
        checks.add(False, "database opens", f"{db}: {type(exc).__name__}: {exc}")
        return
    checks.add(True, "database opens", str(db))
    engine: Any = None
    window: Any = None
    try:
        seed = 1 if getattr(args, "seed", None) is None else int(args.seed)

        def prepare() -> datetime | None:  # on a worker thread: the loop never waits on SQLite
            config = EngineConfig.from_dict({**(store.get_config("engine", None) or {}),
                                             "auto_approve": True, "paper_seed": seed})
            store.set_config("engine", config.to_dict())
            return None if store.get_config(PAPER_CLOCK_KEY, None) else SIM_START

        start = await asyncio.to_thread(prepare)
        # Approvals expire on the trader's (real) clock, as in the app, not on paper time.
        engine, driver = await open_paper_engine(base, seed=seed, speed=getattr(args, "speed", None),
                                                 start=start, store=store, wall=RealClock())
        checks.add(True, "paper engine opens",
                   f"seed {seed}, paper time {engine.clock.now():%Y-%m-%d %H:%M}Z")

        from tastydesk.ui.main_window import MainWindow

        settings = QSettings(str(base / "selftest-window.ini"), QSettings.Format.IniFormat)
        window = MainWindow(engine.facade, settings=settings, tray_available=False)
        window.show()
        QApplication.processEvents()
        if not checks.add(window.isVisible(), "main window shown", window.windowTitle()):
            return
        await engine.start(start_driver=False)
        window_min = engine.settings.config.approval_expiry_minutes
        checks.add(True, "engine started", f"mode {engine.mode}, auto-approve on, approvals "
                   f"expire after {window_min} real minute{'s' if window_min != 1 else ''}"
                   f"{'' if engine.wall is not engine.clock else ' (PAPER TIME)'}")

        seen: dict[int, list[str]] = {}
        subscription = engine.bus.subscribe(
            WorkflowChanged, lambda e: seen.setdefault(e.workflow_id, []).append(str(e.state)))
        try:
            done, detail = await _drive(engine, driver, seen, args)
        finally:
            subscription.dispose()
        checks.add(done, "full workflow cycle (open -> monitoring -> closing -> completed)", detail)
        await engine.tasks.drain()

        problems = await engine.store.integrity_check()
        checks.add(not problems, "store integrity check",
                   "no problems" if not problems else "; ".join(problems[:5]))
        journal = await engine.store.journal()
        checks.add(bool(journal), "journal has an entry",
                   f"{len(journal)} closed position(s)" + (
                       f", first {journal[0].strategy} on {journal[0].symbol} "
                       f"P&L {journal[0].realised_pnl}" if journal else ""))
        task_errors = [e for e in await engine.store.errors() if e.category is ErrorCategory.TASK]
        checks.add(not task_errors, "no engine task failures",
                   "none" if not task_errors else "; ".join(e.message for e in task_errors[:3]))

        QApplication.processEvents()
        window.close()
        QApplication.processEvents()
        checks.add(not window.isVisible(), "main window closed")
        window = None
    finally:
        if window is not None:
            window.close()
        if engine is not None:
            await engine.stop()
        else:
            store.close()
    checks.add(not errors, "no unhandled exceptions", "none" if not errors else "; ".join(errors[:3]))


async def _drive(engine: Kernel, driver: PaperDriver, seen: dict[int, list[str]],
                 args: argparse.Namespace) -> tuple[bool, str]:
    """Step paper time until some workflow has gone through the whole cycle, within the bounds."""
    max_days = float(getattr(args, "max_days", None) or MAX_SIM_DAYS)
    max_wall = float(getattr(args, "max_wall_s", None) or MAX_WALL_S)
    wall0 = time.perf_counter()
    sim0 = engine.clock.now()
    limit = sim0 + timedelta(days=max_days)
    steps = 0
    while True:
        finished = next((wid for wid, states in seen.items() if _has_cycle(states)), None)
        sim_days = (engine.clock.now() - sim0).total_seconds() / 86400
        wall = time.perf_counter() - wall0
        if finished is not None:
            return True, (f"workflow {finished} in {sim_days:.1f} simulated days, {steps} steps, "
                          f"{wall:.1f} s wall")
        if engine.clock.now() >= limit or wall >= max_wall:
            furthest = max(seen.items(), key=lambda kv: _progress(kv[1]), default=(None, []))
            return False, (f"no workflow completed a cycle after {sim_days:.1f} simulated days and "
                           f"{wall:.1f} s wall (limits {max_days:g} days, {max_wall:g} s); furthest: "
                           f"workflow {furthest[0]} reached {' -> '.join(furthest[1][-6:]) or 'nothing'}")
        driver.advance(STEP_S)
        await engine.tasks.drain()
        steps += 1
        await asyncio.sleep(0)  # let Qt paint and the bridge flush between steps


def _has_cycle(states: list[str]) -> bool:
    return _progress(states) == len(FULL_CYCLE)


def _progress(states: list[str]) -> int:
    """How many of the cycle's states appear, in order, in ``states``."""
    i = 0
    for state in states:
        if i < len(FULL_CYCLE) and state == FULL_CYCLE[i]:
            i += 1
    return i
