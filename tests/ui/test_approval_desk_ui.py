"""The Approval Queue in the trader's time: the approval window counts down in real time,
whatever the paper speed, in its own Expires column."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tastydesk.engine.domain.enums import StreamHealth, WorkflowState
from tastydesk.engine.domain.events import WorkflowChanged
from tastydesk.ui.bridge import EngineBridge
from tastydesk.ui.docks.approval_queue import ApprovalQueueDock
from tastydesk.ui.main_window import MainWindow
from tastydesk.ui.models.proposals import countdown
from tests.ui.factories import T0, pending
from tests.ui.fake_facade import FakeFacade


@pytest.fixture(name="fake")
def fixture_fake(qloop: Any) -> FakeFacade:
    return FakeFacade()


def _cell(dock: ApprovalQueueDock, row: int, key: str) -> str:
    proxy = dock.table.proxy
    return str(proxy.index(row, dock.model.column_index(key)).data())


def test_countdown_reads_minutes_and_seconds() -> None:
    assert [countdown(s) for s in (300, 299.6, 7, 0, -3, None, 3725)] == [
        "5:00", "4:59", "0:07", "expired", "expired", "\u2014", "1h 02m"]


def test_expires_column_counts_down_on_the_wall_clock_not_paper_time(
        qtbot: Any, fake: FakeFacade) -> None:
    fake.pending_views = [dataclasses.replace(pending(1), expires_at=T0 + timedelta(minutes=5))]
    bridge = EngineBridge(fake)
    dock = ApprovalQueueDock(fake, bridge)
    qtbot.addWidget(dock)
    assert _cell(dock, 0, "expires") == "5:00"
    fake.clock.advance(T0 + timedelta(hours=1))  # an hour of paper time changes nothing
    qtbot.wait(1200)  # past a countdown tick
    assert _cell(dock, 0, "expires") == "5:00"
    fake.wall_clock.advance(T0 + timedelta(seconds=90))
    qtbot.waitUntil(lambda: _cell(dock, 0, "expires") == "3:30", timeout=3000)
    dock.table.selectRow(0)
    assert "expires in 3:30 (real time)" in dock.title_label.text()
    bridge.dispose()


def test_pending_chip_follows_workflow_changes_and_streams_chip_is_coloured(
        qtbot: Any, fake: FakeFacade) -> None:
    window = MainWindow(fake, tray_available=False)
    qtbot.addWidget(window)
    assert window.chips["pending"].text() == "Pending 0"
    fake.pending_views = [pending(i) for i in range(1, 8)]
    for i in range(1, 8):  # a burst of proposals: the chip follows without waiting for ticks
        fake.bus.publish(WorkflowChanged(i, "SPY", WorkflowState.PENDING_APPROVAL,
                                         WorkflowState.SCANNING, "proposed", T0))
    QApplication.processEvents()  # one turn of the loop, not the five ticks of the old refresh
    assert window.chips["pending"].text() == "Pending 7"
    fake.stream_health = {"market": StreamHealth.CONNECTED, "account": StreamHealth.STALE}
    window.refresh_status()
    chip = window.chips["streams"]
    assert chip.textFormat() == Qt.TextFormat.RichText
    assert "color:" in chip.text() and "Market" in chip.text()
    assert "Account: stale" in chip.toolTip()
