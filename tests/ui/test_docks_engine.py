"""The docks and main window on the REAL engine in paper mode (temp data dir, fast paper clock)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from tastydesk.engine.domain.enums import OrderPurpose
from tastydesk.ui.main_window import MainWindow
from tastydesk.ui.widgets.settings_dialog import SettingsDialog
from tests.conftest import run_coro
from tests.ui.engine_kit import DialogAnswerer, open_paper_engine, wait_for


@pytest.fixture(name="engine")
def fixture_engine(qloop: Any, qtbot: Any, tmp_path: Path) -> Any:
    engine = open_paper_engine(qtbot, tmp_path / "data")
    # The fast paper clock moves mids between proposal and click; a wide tolerance lets the
    # approval go through instead of being re-priced (re-pricing has its own engine tests).
    run_coro(qtbot, engine.update_config(
        dataclasses.replace(engine.config(), reprice_tolerance=Decimal("5")), "tester"))
    yield engine
    run_coro(qtbot, engine.stop())


@pytest.fixture(name="window")
def fixture_window(engine: Any, qtbot: Any) -> MainWindow:
    window = MainWindow(engine, tray_available=False)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    return window


def _set_speed(qtbot: Any, engine: Any, speed: float) -> None:
    run_coro(qtbot, engine.update_config(dataclasses.replace(engine.config(), paper_speed=speed),
                                         "tester"))


def _wait_pending(qtbot: Any, engine: Any, n: int = 1) -> None:
    """Run the fast paper market until ``n`` trades wait, then slow it to real time so their
    quotes hold still while the test decides (a moved mid is re-priced, not sent)."""
    wait_for(qtbot, lambda: len(engine.pending()) >= n, timeout_s=90)
    _set_speed(qtbot, engine, 1.0)


def _select(window: MainWindow, workflow_ids: list[int]) -> None:
    dock = window.approval_dock
    dock.refresh()
    table = dock.table
    table.clearSelection()
    from PySide6.QtCore import QItemSelectionModel

    for wid in workflow_ids:
        pos = dock.model.position(wid)
        index = table.proxy.mapFromSource(dock.model.index(pos, 0))
        table.selectionModel().select(index, QItemSelectionModel.SelectionFlag.Select
                                      | QItemSelectionModel.SelectionFlag.Rows)


def _entry_orders(engine: Any, wid: int) -> list[Any]:
    return [o for o in engine.orders() if o.workflow_id == wid and o.purpose == OrderPurpose.OPEN]


def test_double_click_approve_sends_one_order_and_records_the_decision(
        window: MainWindow, engine: Any, qtbot: Any) -> None:
    _wait_pending(qtbot, engine)
    view = engine.pending()[0]
    _select(window, [view.workflow_id])
    dock = window.approval_dock
    assert dock.approve_button.isEnabled()
    with DialogAnswerer("Approve & send") as answerer:
        dock.approve_button.click()
        dock.approve_button.click()  # second click in the same turn: refused synchronously
        dock.approve_selected()  # and the shortcut's slot as well
    assert answerer.seen == ["Approve trade"]
    wait_for(qtbot, lambda: not dock.runner.busy_keys)
    approvals = [d for d in engine.decisions()
                 if d.proposal_id == view.proposal_id and d.decision == "approve"]
    assert len(approvals) == 1, dock.status_label.text()
    assert len(_entry_orders(engine, view.workflow_id)) == 1
    assert view.workflow_id not in [v.workflow_id for v in engine.pending()]
    # The history table follows the DecisionRecorded event (no polling of the database).
    assert [d.proposal_id for d in dock.history_model.rows()] == [view.proposal_id]


def test_reject_requires_a_reason_and_is_stored_in_history(
        window: MainWindow, engine: Any, qtbot: Any) -> None:
    _wait_pending(qtbot, engine)
    view = engine.pending()[0]
    _select(window, [view.workflow_id])
    dock = window.approval_dock
    with DialogAnswerer("Reject", reason="spread too wide for me") as answerer:
        dock.reject_button.click()
    assert answerer.seen == ["Reject trade"]
    wait_for(qtbot, lambda: not dock.runner.busy_keys)
    rejects = [d for d in engine.decisions() if d.proposal_id == view.proposal_id]
    assert [(d.decision, d.reason) for d in rejects] == [("reject", "spread too wide for me")]
    assert _entry_orders(engine, view.workflow_id) == []
    dock.refresh()
    history = dock.history_model.rows()
    assert any(d.reason == "spread too wide for me" and d.user for d in history)


def test_bulk_approve_of_a_selection_is_confirmed_once(
        window: MainWindow, engine: Any, qtbot: Any) -> None:
    _wait_pending(qtbot, engine, 2)
    views = engine.pending()[:2]
    _select(window, [v.workflow_id for v in views])
    dock = window.approval_dock
    with DialogAnswerer("Approve & send") as answerer:
        dock.approve_button.click()
    assert answerer.seen == ["Approve trade"]
    wait_for(qtbot, lambda: not dock.runner.busy_keys)
    decided = {d.proposal_id for d in engine.decisions() if d.decision == "approve"}
    assert {v.proposal_id for v in views} <= decided
    for v in views:
        assert len(_entry_orders(engine, v.workflow_id)) == 1


def test_new_pending_trade_shows_an_in_app_notification(
        window: MainWindow, engine: Any, qtbot: Any) -> None:
    _wait_pending(qtbot, engine)
    wait_for(qtbot, lambda: any(a.category == "pending" for a in window.notifier.history))
    assert window.toast.isVisible()
    assert "New trade" in window.toast.text()
    assert not window.notifier.uses_tray  # offscreen: no tray, in-app channel only
    entries = window.activity_dock.model.rows()
    assert any(e.source == "alert" and e.category == "pending" for e in entries)


def test_settings_dialog_names_invalid_fields_and_applies_valid_changes(
        engine: Any, qtbot: Any) -> None:
    dialog = SettingsDialog(engine)
    qtbot.addWidget(dialog)
    dialog.edits["scan_interval_minutes"].setText("0")
    dialog.edits["reprice_tolerance"].setText("abc")
    dialog.edits["watchlist"].setText("SPY, not-a-ticker!")
    dialog.save()  # values that do not parse are reported first
    assert dialog.saved is None
    errors = {name: label.text() for name, label in dialog.errors.items() if label.text()}
    assert list(errors) == ["reprice_tolerance"]
    assert errors["reprice_tolerance"].startswith("Approval tolerance ($):")
    assert dialog.errors["reprice_tolerance"].isVisibleTo(dialog)
    dialog.edits["reprice_tolerance"].setText("0.02")
    dialog.save()  # then range and format checks, each next to its field
    assert dialog.saved is None
    errors = {name: label.text() for name, label in dialog.errors.items() if label.text()}
    assert set(errors) == {"scan_interval_minutes", "watchlist"}
    assert errors["scan_interval_minutes"] == "Scan every (min): must be 1..1440"
    assert "NOT-A-TICKER!" in errors["watchlist"]
    assert "2 field(s)" in dialog.summary.text()
    assert engine.config().scan_interval_minutes != 0
    dialog.edits["scan_interval_minutes"].setText("15")
    dialog.edits["reprice_tolerance"].setText("0.02")
    dialog.edits["watchlist"].setText("spy qqq")
    dialog.notify["fill"].setChecked(False)
    dialog.save()
    assert dialog.saved is not None
    wait_for(qtbot, lambda: engine.config().scan_interval_minutes == 15, timeout_s=5)
    config = engine.config()
    assert config.scan_interval_minutes == 15
    assert str(config.reprice_tolerance) == "0.02"
    assert config.watchlist == ("SPY", "QQQ")
    assert "fill" not in config.notify


def test_layout_round_trip_and_reset(engine: Any, qtbot: Any) -> None:
    settings = QSettings()
    first = MainWindow(engine, tray_available=False, settings=settings)
    qtbot.addWidget(first)
    first.show()
    first.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, first.approval_dock)
    first.position_dock.table.setColumnWidth(2, 233)
    first.position_dock.table.sortByColumn(6, Qt.SortOrder.DescendingOrder)
    first.set_theme("dark")
    first.close()
    second = MainWindow(engine, tray_available=False, settings=settings)
    qtbot.addWidget(second)
    second.show()
    assert second.dockWidgetArea(second.approval_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    assert second.position_dock.table.columnWidth(2) == 233
    header = second.position_dock.table.horizontalHeader()
    assert (header.sortIndicatorSection(), header.sortIndicatorOrder()) == \
        (6, Qt.SortOrder.DescendingOrder)
    second.reset_layout()
    assert second.dockWidgetArea(second.approval_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert second.position_dock.table.columnWidth(2) != 233
    second.set_theme("light")
    second.close()


def test_kill_switch_pauses_at_once_and_asks_before_rearming(
        window: MainWindow, engine: Any, qtbot: Any) -> None:
    assert engine.health().automation_armed
    window.kill_action.trigger()
    wait_for(qtbot, lambda: not engine.health().automation_armed, timeout_s=5)
    wait_for(qtbot, lambda: window.kill_switch.text() == "Automation PAUSED", timeout_s=5)
    assert window.kill_switch.text() == "Automation PAUSED"
    # The chips also refresh on workflow changes, so the text may lead the command's end.
    wait_for(qtbot, lambda: not window.runner.busy_keys, timeout_s=5)
    with DialogAnswerer("Cancel") as answerer:
        window.kill_action.trigger()
    assert answerer.seen == ["Re-arm automation"]
    assert not window.runner.busy_keys and not engine.health().automation_armed
    with DialogAnswerer("Re-arm"):
        window.kill_switch.click()
    wait_for(qtbot, lambda: engine.health().automation_armed, timeout_s=5)
    wait_for(qtbot, window.kill_switch.isChecked, timeout_s=5)
    assert window.kill_switch.isChecked()


def test_position_monitor_shows_live_positions_after_a_fill(
        window: MainWindow, engine: Any, qtbot: Any) -> None:
    run_coro(qtbot, engine.update_config(
        dataclasses.replace(engine.config(), reprice_tolerance=Decimal("0.05")), "tester"))
    _wait_pending(qtbot, engine)
    view = engine.pending()[0]
    outcome = ""
    for _ in range(5):  # a stale proposal is re-priced first; approve the fresh one
        outcome = run_coro(qtbot, engine.approve(view.workflow_id, "tester"))
        if str(outcome) == "sent":
            break
        wait_for(qtbot, lambda: any(v.workflow_id == view.workflow_id
                                    for v in engine.pending()), timeout_s=30)
    assert str(outcome) == "sent"
    _set_speed(qtbot, engine, 3000.0)
    wait_for(qtbot, lambda: any(p.workflow_id == view.workflow_id for p in engine.positions()),
             timeout_s=90)
    wait_for(qtbot, lambda: any(p.workflow_id == view.workflow_id and p.rules
                                for p in engine.positions()), timeout_s=30)
    dock = window.position_dock
    wait_for(qtbot, lambda: dock.model.position(view.workflow_id) is not None, timeout_s=5)
    assert dock.focus_workflow(view.workflow_id)
    # the bridge's 5 Hz flush brings the rule distances in
    wait_for(qtbot, lambda: dock.rules.rowCount() >= 1, timeout_s=5)
    # The position row carries its legs as children, shown expanded.
    parent = dock.model.index(dock.model.position(view.workflow_id), 0)
    legs = next(p for p in engine.positions() if p.workflow_id == view.workflow_id).legs
    assert dock.model.rowCount(parent) == len(legs) >= 1
    assert dock.table.isExpanded(dock.table.proxy.mapFromSource(parent))
    assert dock._figures["open"].text() != "\u2014"
    window.focus_workflow(view.workflow_id)
    assert QApplication.activeModalWidget() is None
