"""Helpers for UI tests on the REAL engine in paper mode: open it fast, wait, answer dialogs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QPushButton

from tastydesk.engine.store.guard import LOOP_GUARD
from tastydesk.ui.widgets.dialogs import ReasonDialog
from tests.conftest import run_coro


@cache
def _holidays(years: tuple[int, int]) -> list[str]:
    from tastydesk.engine.clock import load_nyse_holidays

    return [d.isoformat() for d in load_nyse_holidays(*years)]


@cache
def _early_closes(years: tuple[int, int]) -> dict[str, str]:
    from tastydesk.engine.clock import load_nyse_early_closes

    return {d.isoformat(): t.isoformat() for d, t in load_nyse_early_closes(*years).items()}


PAPER_START = datetime(2026, 1, 5, 14, 35, tzinfo=UTC)  # a Monday, just after the open


def seed_calendar(data_dir: Path) -> None:
    """Store the exchange calendar once computed, so each test skips importing pandas."""
    from tastydesk.engine.bootstrap import HOLIDAYS_KEY
    from tastydesk.engine.store.service import Store
    from tastydesk.paths import db_path

    now = datetime.now(UTC)
    years = (now.year - 1, now.year + 2)
    store = Store.open(db_path(data_dir))
    try:
        with LOOP_GUARD.permitted():  # arranging the data directory before any engine opens
            store.set_config(HOLIDAYS_KEY, {"years": list(years), "days": _holidays(years),
                                            "early": _early_closes(years)})
    finally:
        store.close()


def seed_store(data_dir: Path) -> None:
    """Seed the calendar and start the paper clock at a Monday open, so a test never races the
    close of the session."""
    from tastydesk.engine.bootstrap import PAPER_CLOCK_KEY
    from tastydesk.engine.store.service import Store
    from tastydesk.paths import db_path

    seed_calendar(data_dir)
    store = Store.open(db_path(data_dir))
    try:
        with LOOP_GUARD.permitted():
            store.set_config(PAPER_CLOCK_KEY, PAPER_START.isoformat())
    finally:
        store.close()


def open_paper_engine(qtbot: Any, data_dir: Path, speed: float = 3000.0, seed: int = 7) -> Any:
    from tastydesk.engine.bootstrap import open_engine

    data_dir.mkdir(parents=True, exist_ok=True)
    seed_store(data_dir)
    engine = run_coro(qtbot, open_engine(data_dir, paper=True, seed=seed, speed=speed))
    run_coro(qtbot, engine.start())
    return engine


def wait_for(qtbot: Any, condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    qtbot.waitUntil(condition, timeout=int(timeout_s * 1000))


class DialogAnswerer:
    """Answers every modal dialog that opens by clicking the button labelled ``button``."""

    def __init__(self, button: str, reason: str | None = None) -> None:
        self.button = button
        self.reason = reason
        self.seen: list[str] = []
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._poll)
        self._timer.start()

    def _poll(self) -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None or not dialog.isVisible():
            return
        if isinstance(dialog, ReasonDialog) and self.reason is not None:
            dialog.reason_edit.setPlainText(self.reason)
        for b in dialog.findChildren(QPushButton):
            if b.text().replace("&&", "&").replace("&", "") == self.button.replace("&", "") \
                    and b.isEnabled():
                self.seen.append(dialog.windowTitle())
                b.click()
                return

    def stop(self) -> None:
        self._timer.stop()

    def __enter__(self) -> DialogAnswerer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def settle(qtbot: Any, seconds: float = 0.05) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        run_coro(qtbot, asyncio.sleep(0.005))
