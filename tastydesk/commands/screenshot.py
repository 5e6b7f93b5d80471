"""``tastydesk screenshot --out DIR``: run the app offscreen on the paper market and save PNGs.

The paper clock runs fast until the desk has pending approvals, working orders and open
positions (trades are approved the way a user would, through the engine facade), then the main
window and every dock are written as PNG files.
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

WINDOW_SIZE = (1680, 1020)


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="directory for the PNG files")
    parser.add_argument("--seed", type=int, default=7, help="paper market seed")
    parser.add_argument("--speed", type=float, default=3000.0,
                        help="paper clock speed while the market runs up")
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
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
    apply_theme(app, args.theme)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        return loop.run_until_complete(_capture(args, base, out, app))


async def _capture(args: argparse.Namespace, base: Path, out: Path, app: Any) -> int:
    import dataclasses

    from tastydesk.engine.bootstrap import open_engine
    from tastydesk.ui.main_window import MainWindow

    engine = await open_engine(base, paper=True, seed=args.seed, speed=args.speed)
    window = MainWindow(engine, tray_available=False)
    window.resize(*WINDOW_SIZE)
    window.show()
    app.processEvents()
    await engine.start()
    user = "screenshot"
    deadline = time.monotonic() + args.timeout
    approved: set[int] = set()
    ok = False
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        health = engine.health()
        pending = sorted(engine.pending(), key=lambda v: v.created_at)
        if health.open_positions < args.positions and len(pending) >= 2:
            # Approve the oldest and keep the others waiting for the queue's picture.
            view = pending[0]
            if view.workflow_id not in approved:
                approved.add(view.workflow_id)
                await engine.approve(view.workflow_id, user)
        if health.open_positions >= args.positions and pending:
            if not engine.orders(open_only=True) and len(pending) >= 2:
                await engine.approve(pending[0].workflow_id, user)
            if engine.orders(open_only=True):
                ok = True
                break
    # Freeze the market while drawing.
    config = engine.config()
    engine.update_config(dataclasses.replace(config, paper_speed=1.0), user)
    missing = _missing(engine, args.positions)
    await _settle(app)
    _select_first_rows(window)
    await _settle(app)
    window.grab().save(str(out / "main_window.png"))
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
    window.close()
    await engine.stop()
    written = sorted(p.name for p in out.glob("*.png"))
    print(f"wrote {len(written)} PNG files to {out}: {', '.join(written)}")
    if not ok or missing:
        print("warning: not every state was reached before the timeout: "
              + (", ".join(missing) or "working orders"), file=sys.stderr)
        return 1
    return 0


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
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        await asyncio.sleep(0.02)
