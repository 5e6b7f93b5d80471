"""Docks and the main window on the in-memory facade: commands go through the command runner
(as coroutines, as the engine's commands are), and a failure reads as one line naming the field,
in the same place for every dock, never as a dialog."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from tastydesk.engine.errors import EngineError
from tastydesk.engine.selection import SelectionError
from tastydesk.engine.strategies.validation import FieldError, StrategyValidationError
from tastydesk.ui.bridge import EngineBridge
from tastydesk.ui.builder import StrategyBuilderDock
from tastydesk.ui.docks.position_monitor import PositionMonitorDock
from tastydesk.ui.main_window import MainWindow
from tastydesk.ui.models import legs as L
from tests.ui.engine_kit import DialogAnswerer, wait_for
from tests.ui.factories import position
from tests.ui.fake_facade import FakeFacade

PCS = "Put Credit Spread - 30 DTE"


@pytest.fixture(name="fake")
def fixture_fake(qloop: Any) -> FakeFacade:
    return FakeFacade()


@pytest.fixture(name="builder")
def fixture_builder(qtbot: Any, fake: FakeFacade) -> StrategyBuilderDock:
    dock = StrategyBuilderDock(fake)
    dock.confirm = lambda title, text, accept: True
    qtbot.addWidget(dock)
    dock.library.list.setCurrentRow(dock.library_names().index(PCS))
    dock.preview.symbol_combo.setCurrentText("SPY")
    return dock


def _edit_priority(dock: StrategyBuilderDock, value: int) -> None:
    dock.field_widget("priority").setValue(value)


def _save(qtbot: Any, dock: StrategyBuilderDock) -> None:
    assert dock.save() is not None
    wait_for(qtbot, lambda: not dock.runner.busy_keys, timeout_s=5)


def test_builder_save_checks_the_chain_then_saves(qtbot: Any, builder: StrategyBuilderDock,
                                                  fake: FakeFacade) -> None:
    _edit_priority(builder, 7)
    _save(qtbot, builder)
    [(checked, symbol)] = fake.called("preview")
    [(saved, _user)] = fake.called("save_strategy")
    assert symbol == "SPY" and checked == saved and saved.priority == 7
    assert [n for n, _ in fake.calls] == ["preview", "save_strategy"]
    assert builder.status.text() == f"Saved {PCS!r}"
    assert not builder.save_button.isEnabled()  # clean again
    assert builder.preview.proposal is not None  # the chain check's proposal is shown


def test_builder_chain_refusal_is_marked_on_the_leg_and_nothing_is_saved(
        qtbot: Any, builder: StrategyBuilderDock, fake: FakeFacade) -> None:
    _edit_priority(builder, 7)
    fake.preview_error = SelectionError("leg 1 (sell put): no put strike at 0.30 delta "
                                        "within 0.10")
    _save(qtbot, builder)
    assert fake.called("save_strategy") == []
    legs = builder.field_widget("legs").model
    cell = legs.data(legs.index(0, L.COL_METHOD), L.ErrorRole)
    assert cell.startswith("on SPY: no put strike at 0.30 delta")
    assert builder.status.text().startswith("Not saved: legs[0].selection: on SPY:")
    assert builder.save_button.isEnabled()
    assert QApplication.activeModalWidget() is None


def test_builder_market_problem_does_not_block_the_save(
        qtbot: Any, builder: StrategyBuilderDock, fake: FakeFacade) -> None:
    _edit_priority(builder, 7)
    fake.preview_error = SelectionError("leg 2 (buy put): no quote for SPY 261218P00555000")
    _save(qtbot, builder)
    assert len(fake.called("save_strategy")) == 1
    assert builder.status.text().startswith(f"Saved {PCS!r}; not checked on SPY: leg 2")


def test_builder_engine_refusal_names_the_field(qtbot: Any, builder: StrategyBuilderDock,
                                                fake: FakeFacade) -> None:
    _edit_priority(builder, 7)
    fake.failures["save_strategy"] = StrategyValidationError(
        [FieldError("filters.min_credit", "must be below the width of the spread")])
    _save(qtbot, builder)
    spin = builder.field_widget("filters.min_credit")
    assert builder.is_flagged(spin)
    assert "must be below the width" in spin.toolTip()
    assert builder.status.text() == ("Not saved: filters.min_credit: must be below the width "
                                     "of the spread")
    assert fake.strategy_book[PCS].priority != 7


def test_builder_rename_delete_and_restore_run_as_commands(
        qtbot: Any, builder: StrategyBuilderDock, fake: FakeFacade) -> None:
    builder.field_widget("name").setText("PCS renamed")
    builder.field_widget("name").textEdited.emit("PCS renamed")
    _save(qtbot, builder)
    assert fake.called("delete_strategy") == [(PCS, "user")]
    assert "PCS renamed" in builder.library_names() and PCS not in builder.library_names()
    assert builder.delete_strategy() is not None
    assert builder.delete_strategy() is None or builder.runner.busy_keys  # one at a time
    wait_for(qtbot, lambda: not builder.runner.busy_keys, timeout_s=5)
    assert "PCS renamed" not in builder.library_names()
    assert builder.restore_defaults() is not None
    wait_for(qtbot, lambda: PCS in builder.library_names(), timeout_s=5)
    assert builder.status.text() == "Default strategies restored"


def test_builder_preview_failure_is_one_line(qtbot: Any, builder: StrategyBuilderDock,
                                             fake: FakeFacade) -> None:
    fake.preview_error = SelectionError("no expiration between 25 and 35 DTE for SPY")
    assert builder.start_preview() is not None
    assert builder.start_preview() is None
    wait_for(qtbot, lambda: not builder.runner.busy_keys, timeout_s=5)
    assert builder.preview.status.text() == ("No proposal on SPY: no expiration between 25 "
                                             "and 35 DTE for SPY")
    assert builder.preview.button.isEnabled()
    assert builder.is_flagged(builder.field_widget("dte"))  # marked on the field, as on Save


def test_position_monitor_pauses_rules_through_its_runner(qtbot: Any, fake: FakeFacade) -> None:
    fake.position_views = [position(1), position(2, symbol="QQQ")]
    dock = PositionMonitorDock(fake, EngineBridge(fake))
    qtbot.addWidget(dock)
    dock.refresh()
    assert dock.focus_workflow(1)
    with DialogAnswerer("Pause"):
        dock.toggle_rules_paused()
    wait_for(qtbot, lambda: bool(fake.called("set_rules_paused")), timeout_s=5)
    assert fake.called("set_rules_paused") == [(1, True, fake.called("set_rules_paused")[0][2])]
    wait_for(qtbot, lambda: dock.pause_button.text() == "Resume rules", timeout_s=5)
    fake.failures["set_rules_paused"] = EngineError("rules_paused: workflow 1 is closing")
    with DialogAnswerer("Resume"):
        dock.toggle_rules_paused()
    wait_for(qtbot, lambda: "not done" in dock.status_label.text(), timeout_s=5)
    assert dock.status_label.text() == ("Workflow #1: not done: rules_paused: workflow 1 is "
                                        "closing")
    assert QApplication.activeModalWidget() is None


@pytest.fixture(name="window")
def fixture_window(qtbot: Any, fake: FakeFacade) -> MainWindow:
    window = MainWindow(fake, tray_available=False)
    qtbot.addWidget(window)
    window.show()
    return window


def test_window_kill_switch_is_a_command(qtbot: Any, window: MainWindow,
                                        fake: FakeFacade) -> None:
    window.kill_action.trigger()
    wait_for(qtbot, lambda: window.kill_switch.text() == "Automation PAUSED", timeout_s=5)
    assert [args[0] for args in fake.called("set_automation")] == [False]
    assert window.builder_dock is not None and window.builder_dock.runner is window.runner


def test_window_reports_failed_commands_as_one_line_never_a_dialog(
        qtbot: Any, window: MainWindow, fake: FakeFacade) -> None:
    fake.failures["scan_now"] = EngineError("watchlist: no symbol to scan")
    window.scan_now()
    wait_for(qtbot, lambda: window.toast.isVisible(), timeout_s=5)
    assert window.toast.text() == "Not done: watchlist: no symbol to scan"
    assert window.notifier.history[-1].category == "error"
    fake.failures["scan_now"] = KeyError("SPY")  # a defect: one line too, details in the log
    window.scan_now()
    wait_for(qtbot, lambda: "Unexpected" in window.toast.text(), timeout_s=5)
    assert window.toast.text().startswith("Not done: Unexpected error (KeyError)")
    assert QApplication.activeModalWidget() is None


def test_login_keeps_the_account_through_the_runner_then_offers_the_switch(
        qtbot: Any, window: MainWindow, fake: FakeFacade) -> None:
    with DialogAnswerer("Switch now") as answerer:
        window.account.logged_in("sandbox", "5WT0001")
        wait_for(qtbot, lambda: window.switch_requested, timeout_s=5)
    assert answerer.seen == ["Switch to tastytrade"]
    assert [args[:2] for args in fake.called("remember_account")] == [("sandbox", "5WT0001")]


def test_login_whose_account_cannot_be_kept_says_so_and_does_not_switch(
        qtbot: Any, window: MainWindow, fake: FakeFacade) -> None:
    fake.failures["remember_account"] = EngineError("account_number: not an account of this "
                                                    "login")
    window.account.logged_in("sandbox", "5WT0001")
    wait_for(qtbot, lambda: window.toast.isVisible(), timeout_s=5)
    assert window.toast.text() == ("Not done: account_number: not an account of this login")
    assert not window.switch_requested and QApplication.activeModalWidget() is None
