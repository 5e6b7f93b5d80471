"""The Position Monitor dock as a trader reads it: closing debit, header figures explained,
buying power before a balance, the target/stop cell, rules in the builder's words."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QPushButton

from tastydesk.ui.bridge import EngineBridge
from tastydesk.ui.docks.position_monitor import PositionMonitorDock
from tests.ui.engine_kit import wait_for
from tests.ui.factories import position
from tests.ui.fake_facade import FakeFacade


@pytest.fixture(name="fake")
def fixture_fake(qloop: Any) -> FakeFacade:
    return FakeFacade()


@pytest.fixture(name="dock")
def fixture_dock(qtbot: Any, fake: FakeFacade) -> PositionMonitorDock:
    # A credit spread worth 3.26 now: closing it means paying 3.26, a debit.
    fake.position_views = [replace(position(1), quantity=2, mark=Decimal("3.26"),
                                   pnl=Decimal("-33.00"), pnl_pct=-12.0)]
    bridge = EngineBridge(fake)
    dock = PositionMonitorDock(fake, bridge)
    qtbot.addWidget(dock)
    dock.refresh()
    yield dock
    bridge.dispose()


class _Reader:
    """Reads the text of the next modal dialog, then presses ``button``."""

    def __init__(self, button: str) -> None:
        self.button = button
        self.text = ""
        self.title = ""
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._poll)
        self._timer.start()

    def _poll(self) -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None or not dialog.isVisible():
            return
        self.title = dialog.windowTitle()
        self.text = "\n".join(label.text() for label in dialog.findChildren(QLabel))
        for b in dialog.findChildren(QPushButton):
            if b.text() == self.button:
                self._timer.stop()
                b.click()
                return


def test_close_names_the_closing_debit_and_sends_on_confirmation(
        qtbot: Any, fake: FakeFacade, dock: PositionMonitorDock) -> None:
    assert dock.focus_workflow(1)
    reader = _Reader("Close")
    dock.close_selected(100)
    assert "limit near 3.26 db" in reader.text and "3.26 cr" not in reader.text
    assert "buy back" in reader.text and "$652.00 paid" in reader.text
    wait_for(qtbot, lambda: bool(fake.called("close_position")), timeout_s=5)
    assert fake.called("close_position")[0][0] == 1


def test_partial_close_names_the_spreads_it_takes_off(
        qtbot: Any, fake: FakeFacade, dock: PositionMonitorDock) -> None:
    assert dock.focus_workflow(1)
    reader = _Reader("Cancel")
    dock.close_selected(50)
    assert reader.title == "Partial close"
    assert "50% of the position (1 of 2 spreads)" in reader.text
    assert "limit near 3.26 db" in reader.text and "$326.00 paid" in reader.text
    assert not fake.called("close_position")


def test_header_explains_its_figures_and_buying_power_waits_for_a_balance(
        dock: PositionMonitorDock) -> None:
    today = dock.findChild(QLabel, "positions.header.pnl_today")
    realised = dock.findChild(QLabel, "positions.header.realised")
    assert "since today's session opened" in today.toolTip()
    assert "closed trades and partial closes" in realised.toolTip()
    assert realised.text() == "$0.00" and realised.styleSheet() == ""  # no coloured zero
    assert "not yet known" in dock.bp_bar.format()
    assert "$0 of $0" not in dock.bp_bar.format()


def test_target_stop_cell_and_rules_read_in_dollars_and_the_builders_units(
        dock: PositionMonitorDock) -> None:
    model = dock.model
    cell = model.index(0, model.column_index("progress")).data()
    # 2 spreads at 0.85: the 200 % stop fires at a loss of 2 x 0.85 x 100 x 2 = $340.
    assert cell == "stop at \u2212$340 (90% away)"
    assert dock.focus_workflow(1)  # its rules show in the Rules tab
    rules = [dock.rules.index(r, 0).data() for r in range(dock.rules.rowCount())]
    assert rules == ["Profit target", "Stop loss"]
    assert dock.rules.index(1, dock.rules.column_index("threshold")).data() == \
        "loss 200 % of credit received"
