"""An account open read-only: every control that would write or send is grey with the reason
as its tooltip, and stays grey when the selection changes (real docks on the in-memory
facade); the same window on a working facade leaves them enabled."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QWidget

from tastydesk.ui.main_window import MainWindow
from tastydesk.ui.read_only import read_only_tip
from tastydesk.ui.widgets.settings_dialog import SettingsDialog
from tests.ui.factories import pending, position
from tests.ui.fake_facade import FakeFacade

REASON = "/data/paper.db: empty (0 bytes)"
TIP = read_only_tip(REASON)


def _window(qtbot: Any, read_only: str | None) -> tuple[MainWindow, FakeFacade]:
    fake = FakeFacade()
    fake.read_only = read_only
    fake.pending_views = [pending(1), pending(2, symbol="QQQ")]
    fake.position_views = [position(3), position(4, symbol="IWM")]
    window = MainWindow(fake, tray_available=False)
    qtbot.addWidget(window)
    window.show()
    window.approval_dock.refresh()
    window.position_dock.refresh()
    assert window.approval_dock.table.select_key(1)
    assert window.position_dock.focus_workflow(3)
    window.position_dock.rules_table.selectRow(0)
    return window, fake


def _writers(window: MainWindow) -> dict[str, Any]:
    q, p, b = window.approval_dock, window.position_dock, window.builder_dock
    assert b is not None
    return {"approve": q.approve_button, "modify": q.modify_button, "reject": q.reject_button,
            "close": p.close_button, "partial": p.partial_button, "roll": p.roll_button,
            "pause": p.pause_button, "edit rule": p.threshold_button,
            "save strategy": b.save_button, "delete strategy": b.library.delete_button,
            "import": b.library.import_button, "defaults": b.library.restore_button,
            "kill switch": window.kill_switch, "kill shortcut": window.kill_action,
            "scan": window.scan_action}


def test_read_only_greys_every_writing_control_with_the_reason(qloop: Any, qtbot: Any) -> None:
    window, fake = _window(qtbot, REASON)
    b = window.builder_dock
    assert b is not None
    b.field_widget("priority").setValue(9)  # an edit would enable Save on a working account
    for name, control in _writers(window).items():
        assert not control.isEnabled(), name
        assert control.toolTip() == TIP, name
    window.account.show_read_only(REASON)  # the badge leaves the mode's colour
    assert "#5f6368" in window.mode_badge.styleSheet()
    # The approval shortcuts are off too; the selection moving turns nothing back on.
    assert window.approval_dock.actions() and not any(
        a.isEnabled() for a in window.approval_dock.actions())
    assert window.approval_dock.table.select_key(2)
    assert not window.approval_dock.approve_button.isEnabled()
    assert window.position_dock.focus_workflow(4)
    assert not window.position_dock.close_button.isEnabled()
    assert "Read-only" in b.status.text()
    # Looking stays possible: filters, tabs, the adopt list's refresh, switching account.
    assert window.approval_dock.filter_edit.isEnabled()
    assert window.position_dock.unmanaged.refresh_button.isEnabled()
    window.position_dock.unmanaged.model.sync(fake.external_views)
    assert not window.position_dock.unmanaged.adopt_button.isEnabled()
    assert window.position_dock.unmanaged.adopt_button.toolTip() == TIP
    dialog = SettingsDialog(fake, window)
    qtbot.addWidget(dialog)
    assert not dialog.save_button.isEnabled() and dialog.save_button.toolTip() == TIP
    assert not dialog.restore_button.isEnabled()
    checks: list[QWidget] = [dialog.edits["auto_approve"], *dialog.auto_manage.values()]
    assert all(not c.isEnabled() and c.toolTip() == TIP for c in checks)
    assert not fake.calls or all(name in ("start", "stop") for name, _ in fake.calls)


def test_a_working_account_keeps_them_enabled(qloop: Any, qtbot: Any) -> None:
    window, fake = _window(qtbot, None)
    b = window.builder_dock
    assert b is not None
    b.field_widget("priority").setValue(9)
    for name, control in _writers(window).items():
        assert control.isEnabled(), name
        assert "Read-only" not in control.toolTip(), name
    dialog = SettingsDialog(fake, window)
    qtbot.addWidget(dialog)
    assert dialog.save_button.isEnabled() and dialog.edits["auto_approve"].isEnabled()


def test_a_login_from_a_read_only_account_offers_the_switch_without_writing(
        qloop: Any, qtbot: Any) -> None:
    """The read-only account keeps nothing (its engine would refuse to remember the login):
    the login is offered as the way to another account straight away."""
    from tests.ui.engine_kit import DialogAnswerer, wait_for

    window, fake = _window(qtbot, REASON)
    with DialogAnswerer("Switch now") as answerer:
        window.account.logged_in("sandbox", "5WT0001")
        wait_for(qtbot, lambda: window.switch_requested, timeout_s=5)
    assert answerer.seen == ["Switch to tastytrade"]
    assert fake.called("remember_account") == []
