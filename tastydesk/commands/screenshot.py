"""``tastydesk screenshot --out DIR``: run the app offscreen on the paper market and save PNGs.

The paper clock runs fast until the desk has pending approvals, working orders and open
positions (trades are approved the way a user would, through the engine facade), then the main
window and every dock are written as PNG files. The lifecycle scenes follow (assignment risk in
the Position Monitor, a follow-up after an assignment in the approval queue): see
:mod:`tastydesk.commands.screenshot_scenes`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tastydesk.engine.domain.ids import WorkflowId

WINDOW_SIZE = (1600, 980)


def window_size(text: str) -> tuple[int, int]:
    """``1600x980`` as (width, height); argparse reports anything else as a bad --size."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected WIDTHxHEIGHT, e.g. 1600x980") from None
    if not (800 <= width <= 7680 and 600 <= height <= 4320):
        raise argparse.ArgumentTypeError(f"{text!r}: between 800x600 and 7680x4320")
    return width, height


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="directory for the PNG files")
    parser.add_argument("--seed", type=int, default=7, help="paper market seed")
    parser.add_argument("--speed", type=float, default=600.0,
                        help="paper clock speed while the market runs up")
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--size", type=window_size, default=WINDOW_SIZE,
                        help="main window size as WIDTHxHEIGHT (default 1600x980); the main "
                             "window's PNG has exactly this size")
    parser.add_argument("--timeout", type=float, default=150.0,
                        help="seconds to wait for pending trades, orders and positions")
    parser.add_argument("--positions", type=int, default=3,
                        help="open positions to reach before capturing")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    explicit = getattr(args, "data_dir", None)
    with tempfile.TemporaryDirectory(prefix="tastydesk-shot-") as tmp:
        base = Path(explicit) if explicit else Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        return _run_app(args, base, out)


def _run_app(args: argparse.Namespace, base: Path, out: Path) -> int:
    import qasync
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    from tastydesk import paths
    from tastydesk.ui.theme import apply_theme

    paths.setup_logging(base, console=False)
    QCoreApplication.setOrganizationName(paths.ORG_NAME)
    QCoreApplication.setApplicationName(paths.APP_NAME + "-screenshot")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(base / "qt"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)  # closing the window must not stop the loop early
    apply_theme(app, args.theme)
    from tastydesk.ui.gui_gc import collect_on_gui_thread

    collector = collect_on_gui_thread()  # noqa: F841  (lives while the capture runs)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            return loop.run_until_complete(_capture_with_ticker(args, base, out, app))
    finally:
        _close_log_files()


def _close_log_files() -> None:
    """Release the log file before a temporary data directory is deleted."""
    import logging

    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_tastydesk", False):
            root.removeHandler(handler)
            handler.close()
    if hasattr(root, "_tastydesk_configured"):
        del root._tastydesk_configured


async def _capture_with_ticker(args: argparse.Namespace, base: Path, out: Path,
                               app: Any) -> int:
    from tastydesk.app import keep_loop_turning

    ticker = asyncio.ensure_future(keep_loop_turning())
    try:
        return await _capture(args, base, out, app)
    finally:
        ticker.cancel()


async def _capture(args: argparse.Namespace, base: Path, out: Path, app: Any) -> int:
    import dataclasses

    from tastydesk.commands import screenshot_scenes
    from tastydesk.engine.bootstrap import open_kernel
    from tastydesk.ui.main_window import MainWindow

    _start_at_monday_open(base)
    kernel = await open_kernel(base, paper=True, seed=args.seed, speed=args.speed)
    engine = kernel.facade
    window = MainWindow(engine, tray_available=False)
    size = getattr(args, "size", WINDOW_SIZE)
    window.resize(*size)
    window.show()
    await engine.start()
    user = "screenshot"
    deadline = time.monotonic() + args.timeout
    ok = False
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        health = engine.health()
        pending = sorted(engine.pending(), key=lambda v: v.created_at)
        if health.open_positions < args.positions and len(pending) >= 2:
            # Approve the oldest and keep the others waiting for the queue's picture.
            await _approve(engine, pending[0].workflow_id, user)
        if health.open_positions >= args.positions and pending:
            if not engine.orders(open_only=True) and len(pending) >= 2:
                await _approve(engine, pending[0].workflow_id, user)
            if engine.orders(open_only=True):
                ok = True
                break
    # Freeze the market while drawing.
    config = engine.config()
    await engine.update_config(dataclasses.replace(config, paper_speed=1.0), user)
    missing = _missing(engine, args.positions)
    await _settle(app)
    _select_first_rows(window)
    await _settle(app)
    window.resize(*size)  # the window may have grown to its docks' minimum sizes
    await _settle(app)
    shot = window.grab()
    if (shot.width(), shot.height()) != tuple(size):
        print(f"warning: main window drawn at {shot.width()}x{shot.height()}, not "
              f"{size[0]}x{size[1]}", file=sys.stderr)
    shot.save(str(out / "main_window.png"))
    for dock in window.docks:
        dock.show()
        dock.raise_()
        await _settle(app)
        name = dock.objectName().removeprefix("dock.")
        dock.grab().save(str(out / f"{name}.png"))
    for index, title in ((1, "health"), (2, "analytics"), (3, "history")):
        window.workflow_dock.raise_()
        window.workflow_dock.tabs.setCurrentIndex(index)
        await _settle(app, 0.6 if title == "analytics" else 0.2)
        window.workflow_dock.grab().save(str(out / f"workflow_status_{title}.png"))
    window.workflow_dock.tabs.setCurrentIndex(0)
    await _capture_roll_ticket(window, out)
    missing += await screenshot_scenes.capture(kernel, window, out, _settle, args.timeout,
                                               tuple(size))
    window.close()
    try:
        await asyncio.wait_for(engine.stop(), timeout=20)
    except Exception as exc:  # the pictures are written; a slow shutdown must not hide them
        print(f"warning: engine did not stop cleanly: {exc!r}", file=sys.stderr)
    written = sorted(p.name for p in out.glob("*.png"))
    print(f"wrote {len(written)} PNG files to {out}: {', '.join(written)}")
    if not ok or missing:
        print("warning: not every state was reached before the timeout: "
              + (", ".join(missing) or "working orders"), file=sys.stderr)
        return 1
    return 0


async def _capture_roll_ticket(window: Any, out: Path) -> None:
    """The Roll ticket of the first position, once priced (then cancelled: nothing is sent)."""
    dock = window.position_dock
    dock.raise_()
    if not dock.model.rowCount():
        return
    dock.table.selectRow(0)
    dock.roll_selected()
    ticket = dock.roll_ticket
    if ticket is None:
        return
    for _ in range(100):
        await asyncio.sleep(0.1)
        if ticket.preview is not None and not ticket.busy:
            break
    await asyncio.sleep(0.3)
    ticket.grab().save(str(out / "roll_ticket.png"))
    ticket.reject()
    await asyncio.sleep(0.1)


def _start_at_monday_open(base: Path) -> None:
    """Start the paper clock at a Monday open so a run never begins at a session's close."""
    from datetime import UTC, datetime

    from tastydesk.engine.bootstrap import PAPER_CLOCK_KEY
    from tastydesk.engine.store.service import Store
    from tastydesk.paths import db_path

    store = Store.open(db_path(base))
    try:
        if store.get_config(PAPER_CLOCK_KEY, None) is None:
            store.set_config(PAPER_CLOCK_KEY, datetime(2026, 1, 5, 14, 35, tzinfo=UTC).isoformat())
    finally:
        store.close()


async def _approve(engine: Any, workflow_id: WorkflowId, user: str) -> None:
    try:
        await asyncio.wait_for(engine.approve(workflow_id, user), timeout=15)
    except Exception as exc:  # a refused or re-priced approval is retried on the next pass
        print(f"approval of #{workflow_id} not sent: {exc}", file=sys.stderr)


def _missing(engine: Any, positions: int) -> list[str]:
    health = engine.health()
    missing = []
    if not engine.pending():
        missing.append("pending approvals")
    if health.open_positions < positions:
        missing.append(f"{positions} open positions (have {health.open_positions})")
    return missing


def _select_first_rows(window: Any) -> None:
    for table in (window.approval_dock.table, window.position_dock.table,
                  window.workflow_dock.workflow_table):
        if table.model().rowCount():
            table.selectRow(0)


async def _settle(app: Any, seconds: float = 0.2) -> None:
    # Sleeping lets the Qt loop paint; calling processEvents() from inside a coroutine would
    # re-enter qasync's dispatcher and can wedge the loop.
    await asyncio.sleep(seconds)
