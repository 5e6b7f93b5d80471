"""File > Switch account and the refusal dialog, as real widgets."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from tastydesk.accounts.model import AccountKind, AccountRef, PaperAccountSpec
from tastydesk.accounts.registry import paper_spec
from tastydesk.ui.widgets.account_dialogs import (
    StateChoice,
    StateProblemDialog,
    SwitchAccountDialog,
)


def test_switch_dialog_creates_a_paper_account_and_chooses_it(qtbot: QtBot, tmp_path: Path) -> None:
    (tmp_path / "accounts" / "sandbox-5WT0001").mkdir(parents=True)
    dialog = SwitchAccountDialog(tmp_path, AccountRef.default_paper())
    qtbot.addWidget(dialog)
    labels = [dialog.accounts.item(i).text() for i in range(dialog.accounts.count())]
    assert labels == ["Paper · default  (open now)", "Sandbox · 5WT0001"]
    dialog.name.setText("wheel_test")
    dialog.seed.setValue(9)
    dialog.cash.setText("25000")
    dialog.create_paper()
    assert paper_spec(tmp_path, AccountRef(AccountKind.PAPER, "wheel_test")) == \
        PaperAccountSpec(9, Decimal("25000"))
    assert dialog.accounts.currentItem().text() == "Paper · wheel_test"
    dialog.open_selected()
    assert dialog.chosen == AccountRef(AccountKind.PAPER, "wheel_test")


def test_switch_dialog_refuses_a_bad_name_and_always_offers_paper(
        qtbot: QtBot, tmp_path: Path) -> None:
    current = AccountRef(AccountKind.SANDBOX, "5WT0001")
    dialog = SwitchAccountDialog(tmp_path, current)
    qtbot.addWidget(dialog)
    dialog.name.setText("No Good")
    dialog.create_paper()
    assert dialog.message.text().startswith("Not created:")
    assert not (tmp_path / "accounts" / "registry.json").exists()
    dialog.back_to_paper()
    assert dialog.chosen == AccountRef.default_paper()


def test_state_problem_dialog_names_the_file_and_offers_restore_only_with_a_backup(
        qtbot: QtBot) -> None:
    problem = "/data/paper.db: empty (0 bytes) while tastydesk.db holds 12 workflow(s)"
    dialog = StateProblemDialog(AccountRef.default_paper(), [problem], None)
    qtbot.addWidget(dialog)
    assert problem in dialog.findChild(QLabel, "stateProblem.text").text()
    assert not dialog.restore_button.isEnabled()
    assert dialog.choice is StateChoice.QUIT
    with_backup = StateProblemDialog(AccountRef.default_paper(), [problem], "2026-12-03")
    qtbot.addWidget(with_backup)
    with_backup.restore_button.click()
    assert with_backup.choice is StateChoice.RESTORE


def test_reconcile_dialog_shows_each_leg_app_against_broker_and_its_decision(
        qtbot: QtBot) -> None:
    from tastydesk.engine.reconcile_gate import DifferenceAction, LegDifference
    from tastydesk.ui.widgets.account_dialogs import ReconcileDialog

    differences = [LegDifference("SPY 260220P00500000", -1, 0, (4,)),
                   LegDifference("SPY 260220P00495000", 1, 2, (4,))]
    dialog = ReconcileDialog(differences)
    qtbot.addWidget(dialog)
    rows = [[dialog.table.item(r, c).text() for c in range(4)] for r in range(2)]
    assert rows == [["SPY 260220P00500000", "-1", "0", "4"],
                    ["SPY 260220P00495000", "1", "2", "4"]]
    assert dialog.decisions() == [("SPY 260220P00500000", DifferenceAction.TAKE_BROKER),
                                  ("SPY 260220P00495000", DifferenceAction.TAKE_BROKER)]
    assert dialog.table.cellWidget(0, 4).currentText() == "Take the broker's view (set to 0, flat)"
    assert dialog.table.cellWidget(1, 4).currentText() == "Take the broker's view (set to 2)"
    second = dialog.table.cellWidget(1, 4)
    second.setCurrentIndex(second.findData(DifferenceAction.LATER))
    assert dialog.decisions()[1] == ("SPY 260220P00495000", DifferenceAction.LATER)


def test_the_window_names_its_account_and_offers_switch_account(
        qtbot: QtBot, qloop: object, tmp_path: Path) -> None:
    from PySide6.QtGui import QAction

    from tastydesk.ui.main_window import MainWindow
    from tests.ui.fake_facade import FakeFacade

    window = MainWindow(FakeFacade(), tray_available=False)  # type: ignore[arg-type]
    qtbot.addWidget(window)
    sandbox = AccountRef(AccountKind.SANDBOX, "5WT0001")
    window.account.set_context(tmp_path, sandbox)
    assert window.windowTitle() == "tastydesk \u2014 Sandbox · 5WT0001"
    assert window.mode_badge.text() == "Sandbox · 5WT0001"
    assert window.findChild(QAction, "action.switchAccount") is not None


def test_stored_logins_without_a_directory_are_listed_and_opening_one_creates_it(
        qtbot: QtBot, tmp_path: Path) -> None:
    import argparse

    from tastydesk.accounts.registry import list_accounts, remember_login
    from tastydesk.accounts.selection import apply_to_args
    from tastydesk.engine.broker.tastytrade.credentials import KeyringCredentialStore
    from tastydesk.ui.account_flow import stored_logins

    assert stored_logins() == []
    KeyringCredentialStore().save("sandbox", "secret", "token")
    KeyringCredentialStore().save("live", "secret", "token")
    assert stored_logins() == [AccountKind.SANDBOX, AccountKind.LIVE]
    live = AccountRef(AccountKind.LIVE, "5WX0009")
    remember_login(tmp_path, live)  # the account chosen at login; no directory yet
    assert not (tmp_path / "accounts" / live.slug).exists()
    dialog = SwitchAccountDialog(tmp_path, AccountRef.default_paper(), logins=stored_logins())
    qtbot.addWidget(dialog)
    labels = [dialog.accounts.item(i).text() for i in range(dialog.accounts.count())]
    assert labels == ["Paper · default  (open now)", "Live · 5WX0009",
                      "Sandbox login · type its account number"]
    dialog.accounts.setCurrentRow(2)
    dialog.open_selected()
    assert dialog.chosen is None and "account number" in dialog.message.text()
    dialog.number.setText("5WT0042")
    dialog.open_selected()
    sandbox = AccountRef(AccountKind.SANDBOX, "5WT0042")
    assert dialog.chosen == sandbox
    # The app opens the chosen account: its directory is created on this first use.
    args = argparse.Namespace()
    assert apply_to_args(args, tmp_path, sandbox.slug, create=True) == sandbox
    assert (tmp_path / "accounts" / sandbox.slug).is_dir()
    assert args.data_dir == str(tmp_path / "accounts" / sandbox.slug)
    assert list_accounts(tmp_path) == [AccountRef.default_paper(), sandbox, live]


def test_switch_account_lists_the_account_chosen_at_login(qtbot: QtBot, tmp_path: Path) -> None:
    """The login dialog keeps the account number in QSettings; File > Switch account lists it
    (remembered in the registry) though its directory does not exist yet."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QWidget

    from tastydesk.accounts.registry import list_accounts
    from tastydesk.engine.broker.tastytrade.credentials import KeyringCredentialStore
    from tastydesk.ui.account_flow import AccountFlow
    from tastydesk.ui.actions import CommandRunner
    from tests.ui.engine_kit import DialogAnswerer
    from tests.ui.fake_facade import FakeFacade

    window = QWidget()
    qtbot.addWidget(window)
    told: list[str] = []
    flow = AccountFlow(window, FakeFacade(), CommandRunner(window), told.append, lambda _a: None)
    flow.set_context(tmp_path, AccountRef.default_paper())
    KeyringCredentialStore().save("sandbox", "secret", "token")
    QSettings().setValue("tastytrade/account/sandbox", "5WT0077")
    with DialogAnswerer("Cancel") as answerer:
        flow.show_switch()
    assert answerer.seen == ["Switch account"]
    sandbox = AccountRef(AccountKind.SANDBOX, "5WT0077")
    assert sandbox in list_accounts(tmp_path)
    assert not (tmp_path / "accounts" / sandbox.slug).exists()
