"""Dialogs, notifications, error reporting, command guard: real widgets, offscreen."""

from __future__ import annotations

import asyncio
import sys
import threading
from decimal import Decimal
from typing import Any

import pytest
from PySide6.QtWidgets import QPushButton, QSystemTrayIcon

from tastydesk.engine.domain.events import Alert
from tastydesk.ui.actions import CommandRunner
from tastydesk.ui.errors import ErrorReporter
from tastydesk.ui.notifications import Notifier
from tastydesk.ui.resources import icon
from tastydesk.ui.widgets.dialogs import ConfirmDialog, ModifyDialog, ReasonDialog
from tests.conftest import run_coro
from tests.ui.factories import T0


def test_confirm_dialog_has_no_default_button(qtbot: Any) -> None:
    dialog = ConfirmDialog(None, "Approve", "Send?", "Approve && send")
    qtbot.addWidget(dialog)
    buttons = dialog.findChildren(QPushButton)
    assert len(buttons) == 2
    assert not any(b.isDefault() or b.autoDefault() for b in buttons)


def test_reason_dialog_requires_a_reason(qtbot: Any) -> None:
    dialog = ReasonDialog(None, "Reject", "Why?", "Reject")
    qtbot.addWidget(dialog)
    assert not dialog.accept_button.isEnabled()
    dialog.reason_edit.setPlainText("   ")
    assert not dialog.accept_button.isEnabled()
    dialog.reason_edit.setPlainText("spread too wide")
    assert dialog.accept_button.isEnabled()
    assert dialog.reason == "spread too wide"


def test_modify_dialog_keeps_the_sign_convention(qtbot: Any) -> None:
    credit = ModifyDialog(None, "Modify", Decimal("0.85"), 1)
    debit = ModifyDialog(None, "Modify", Decimal("-1.20"), 2)
    qtbot.addWidget(credit)
    qtbot.addWidget(debit)
    credit.price_spin.setValue(0.9)
    debit.quantity_spin.setValue(3)
    assert credit.price == Decimal("0.90") and credit.quantity == 1
    assert debit.price == Decimal("-1.20") and debit.quantity == 3


def _alert(category: str = "pending", wid: int | None = 7) -> Alert:
    return Alert("info", category, "New trade: SPY", "Put credit spread 0.85 cr", T0, wid)


def test_notifier_in_app_path_honours_categories(qtbot: Any) -> None:
    notifier = Notifier(lambda: ("pending", "fill"), icon("tastydesk"), tray_available=False)
    assert not notifier.uses_tray
    with qtbot.waitSignal(notifier.notified) as blocker:
        assert notifier.notify(_alert())
    assert blocker.args[0].title == "New trade: SPY"
    with qtbot.assertNotEmitted(notifier.notified):
        assert not notifier.notify(_alert("rule"))
    assert [a.category for a in notifier.history] == ["pending"]


def test_notifier_uses_the_tray_when_one_exists(qtbot: Any) -> None:
    available = QSystemTrayIcon.isSystemTrayAvailable()
    notifier = Notifier(lambda: ("pending",), icon("tastydesk"), tray_available=True)
    with qtbot.waitSignal(notifier.tray_message_shown):
        notifier.notify(_alert())
    assert notifier.uses_tray
    with qtbot.waitSignal(notifier.focus_requested) as blocker:
        notifier.tray.messageClicked.emit()
    assert blocker.args == [7]
    notifier.hide()
    natural = Notifier(lambda: ("pending",), icon("tastydesk"))
    if not available:
        pytest.skip("no system tray on this platform: the tray path is covered above")
    assert natural.uses_tray


def test_error_reporter_logs_and_shows_dialog_for_thread_errors(qtbot: Any) -> None:
    reporter = ErrorReporter()
    reporter.install()
    try:
        def boom() -> None:
            raise RuntimeError("worker failed token=abc123")

        with qtbot.waitSignal(reporter.reported):
            t = threading.Thread(target=boom, name="worker")
            t.start()
            t.join()
        qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible())
        assert "worker failed" in reporter.dialog.summary.text()
        assert "abc123" not in reporter.dialog.details.toPlainText()  # secrets redacted
        try:
            raise ValueError("sync slot failed")
        except ValueError:
            sys.excepthook(*sys.exc_info())
        qtbot.waitUntil(lambda: reporter.dialog.count == 2)
        reporter.dialog.copy_details()
    finally:
        reporter.uninstall()
        if reporter.dialog is not None:
            reporter.dialog.close()


def test_command_runner_never_schedules_a_key_twice(qtbot: Any, qloop: Any) -> None:
    runner = CommandRunner()
    calls: list[int] = []

    async def command() -> str:
        calls.append(1)
        await asyncio.sleep(0.01)
        return "sent"

    assert runner.run(1, command)
    assert not runner.run(1, command)  # same loop turn: refused before any coroutine exists
    assert runner.claim(2) and not runner.claim(2)
    runner.release(2)
    assert runner.claim(2)
    assert runner.run(2, command, claimed=True)
    with qtbot.waitSignal(runner.finished):
        pass
    run_coro(qtbot, runner.drain())
    assert len(calls) == 2
    assert not runner.in_flight(1) and not runner.in_flight(2)
