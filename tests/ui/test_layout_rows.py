"""Tables first: the default layout shows whole tables at the sizes traders use.

At 1600x980 and 1920x1080 the queue shows at least 8 rows next to its detail pane, every leg of
a 4-leg trade, and the Position Monitor at least 8 positions; the queue's deciding columns
(trade, warnings, time left, net, EV, POP, max loss and profit) show without scrolling.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QAbstractItemView

from tastydesk.engine.domain.enums import Side
from tastydesk.ui.main_window import MainWindow
from tests.ui.factories import leg, pending, position
from tests.ui.fake_facade import FakeFacade


def visible_rows(view: QAbstractItemView) -> int:
    """Whole rows the view shows at once (its viewport over one row's height)."""
    first = view.model().index(0, 0)
    height = view.visualRect(first).height() or view.sizeHintForRow(0)
    return view.viewport().height() // max(1, height)


@pytest.mark.parametrize("size", [(1600, 980), (1920, 1080)])
def test_default_layout_shows_tables_first(qloop: Any, qtbot: Any, size: tuple[int, int]) -> None:
    fake = FakeFacade()
    condor = pending(1)
    condor = dataclasses.replace(condor, proposal=dataclasses.replace(
        condor.proposal, legs=(leg("560", Side.SELL), leg("555", Side.BUY),
                               leg("640", Side.SELL), leg("645", Side.BUY))))
    fake.pending_views = [condor, *(pending(i, age_s=i) for i in range(2, 13))]
    fake.position_views = [position(i) for i in range(100, 112)]
    window = MainWindow(fake, tray_available=False)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(100)  # the default sizes follow the window's first size
    queue = window.approval_dock
    assert queue.focus_workflow(1)
    qtbot.wait(50)
    rows = (visible_rows(queue.table), visible_rows(queue.detail.legs_table),
            visible_rows(window.position_dock.table))
    print(f"{size}: queue {rows[0]}, legs {rows[1]}, positions {rows[2]}")
    assert queue.detail.isVisible() and queue.detail.height() > 150
    assert rows[0] >= 8, f"queue shows {rows[0]} rows"
    assert rows[1] >= 4, f"legs table shows {rows[1]} of 4 legs"
    assert rows[2] >= 8, f"position monitor shows {rows[2]} rows"
    deciding = ("symbol", "warnings", "expires", "strategy", "net", "ev", "pop", "max_loss",
                "max_profit")
    header = queue.table.horizontalHeader()
    right = max(header.sectionViewportPosition(queue.model.column_index(k))
                + header.sectionSize(queue.model.column_index(k)) for k in deciding)
    assert right <= queue.table.viewport().width(), (
        f"the deciding columns end at {right} px in a {queue.table.viewport().width()} px queue")


def test_layout_and_theme_are_kept_in_the_data_directory(qloop: Any, tmp_path: Any) -> None:
    from PySide6.QtCore import QSettings

    from tastydesk.ui.window_layout import KEY_THEME, keep_settings_in

    first, second = tmp_path / "one", tmp_path / "two"
    folder = keep_settings_in(first)
    QSettings().setValue(KEY_THEME, "dark")
    QSettings().sync()
    assert Path(QSettings().fileName()).is_relative_to(folder)
    keep_settings_in(second)
    assert QSettings().value(KEY_THEME, "light") == "light"  # another data dir, its own file
    keep_settings_in(first)
    assert QSettings().value(KEY_THEME) == "dark"
