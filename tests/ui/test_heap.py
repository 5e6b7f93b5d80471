"""Objects alive once the window is built are kept out of later garbage collections."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import gc
from typing import Any

from tastydesk.ui.heap import freeze_long_lived


def test_objects_alive_now_leave_the_collectors_sight() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    freeze_long_lived()
    try:
        assert gc.get_freeze_count() > 1000  # the interpreter's and the test run's objects
    finally:
        gc.unfreeze()


def test_the_window_freezes_the_heap_once_built_unless_its_owner_does(qtbot: Any) -> None:
    from tastydesk.ui.main_window import MainWindow
    from tests.ui.fake_facade import FakeFacade

    gc.unfreeze()
    try:
        later = MainWindow(FakeFacade(), tray_available=False,  # type: ignore[arg-type]
                           freeze_heap=False)  # the app freezes after the first paint
        qtbot.addWidget(later)
        qtbot.wait(50)
        assert gc.get_freeze_count() == 0
        window = MainWindow(FakeFacade(), tray_available=False)  # type: ignore[arg-type]
        qtbot.addWidget(window)
        qtbot.waitUntil(lambda: gc.get_freeze_count() > 1000, timeout=5000)
    finally:
        gc.unfreeze()
