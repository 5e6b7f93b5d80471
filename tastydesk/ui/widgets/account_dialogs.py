"""Small account dialogs: File > Switch account, the refusal shown when an account's state
files do not prove they belong together, and the reconciliation gate's differences."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tastydesk.accounts.model import AccountKind, AccountRef, BadAccount, PaperAccountSpec
from tastydesk.accounts.registry import create_paper_account, list_accounts
from tastydesk.engine.reconcile_gate import DifferenceAction, LegDifference


class SwitchAccountDialog(QDialog):
    """Lists every account (paper accounts, tastytrade accounts with a directory or a stored
    login) and creates named paper accounts; :attr:`chosen` is the account picked, None when
    cancelled. ``logins`` are the environments whose login the keyring holds: one whose account
    number is not known yet is listed too, and its number is asked when it is opened."""

    def __init__(self, root: Path, current: AccountRef, parent: QWidget | None = None,
                 logins: Sequence[AccountKind] = ()) -> None:
        super().__init__(parent)
        self.setObjectName("switchAccountDialog")
        self.setWindowTitle("Switch account")
        self._root = Path(root)
        self._current = current
        self._logins = tuple(logins)
        self.chosen: AccountRef | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Each account keeps its own workflows, orders and journal. "
                                "The engine stops, and the chosen account opens."))
        self.accounts = QListWidget(self)
        self.accounts.setObjectName("switchAccount.list")
        layout.addWidget(self.accounts)
        form = QFormLayout()
        self.number = QLineEdit(self)
        self.number.setObjectName("switchAccount.number")
        self.number.setPlaceholderText("for a stored login without one, e.g. 5WT00001")
        form.addRow("Account number", self.number)
        self.name = QLineEdit(self)
        self.name.setObjectName("switchAccount.name")
        self.name.setPlaceholderText("e.g. wheel_test")
        self.seed = QSpinBox(self)
        self.seed.setRange(0, 2_000_000_000)
        self.seed.setValue(1)
        self.cash = QLineEdit("100000", self)
        create = QPushButton("Create paper account", self)
        create.setObjectName("switchAccount.create")
        create.clicked.connect(self.create_paper)
        row = QHBoxLayout()
        row.addWidget(self.name)
        row.addWidget(create)
        form.addRow("New paper account", row)
        form.addRow("Market seed", self.seed)
        form.addRow("Starting cash", self.cash)
        layout.addLayout(form)
        self.message = QLabel("", self)
        self.message.setObjectName("switchAccount.message")
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.open_button = buttons.addButton("Open account",
                                             QDialogButtonBox.ButtonRole.AcceptRole)
        self.open_button.setObjectName("switchAccount.open")
        self.paper_button = buttons.addButton("Back to paper",
                                              QDialogButtonBox.ButtonRole.ActionRole)
        self.paper_button.clicked.connect(self.back_to_paper)
        buttons.accepted.connect(self.open_selected)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        self.accounts.clear()
        listed = list_accounts(self._root)
        for ref in listed:
            mark = "  (open now)" if ref == self._current else ""
            item = QListWidgetItem(ref.label() + mark)
            item.setData(256, ref.slug)
            self.accounts.addItem(item)
            if ref == self._current:
                self.accounts.setCurrentItem(item)
        known = {ref.kind for ref in listed}
        for kind in self._logins:
            if kind not in known:  # a stored login whose account number is not known yet
                item = QListWidgetItem(f"{kind.value.capitalize()} login · type its "
                                       f"account number")
                item.setData(256, kind.value)
                self.accounts.addItem(item)

    def create_paper(self) -> None:
        try:
            cash = Decimal(self.cash.text().strip())
            ref = create_paper_account(self._root, self.name.text().strip(),
                                       PaperAccountSpec(self.seed.value(), cash))
        except (BadAccount, InvalidOperation) as exc:
            self.message.setText(f"Not created: {exc or 'starting cash is not an amount'}")
            return
        self.message.setText(f"Created {ref.label()}.")
        self._current_after_refresh(ref)

    def _current_after_refresh(self, ref: AccountRef) -> None:
        self.refresh()
        for i in range(self.accounts.count()):
            if self.accounts.item(i).data(256) == ref.slug:
                self.accounts.setCurrentRow(i)

    def open_selected(self) -> None:
        item = self.accounts.currentItem()
        if item is None:
            self.message.setText("Choose an account.")
            return
        text = str(item.data(256))
        try:
            if "-" in text:
                self.chosen = AccountRef.parse(text)
            else:
                self.chosen = AccountRef(AccountKind(text), self.number.text().strip())
        except BadAccount as exc:
            self.message.setText(f"Not opened: {exc} (type it under Account number)"
                                 .replace("--account: ", "account number: "))
            return
        self.accept()

    def back_to_paper(self) -> None:
        self.chosen = AccountRef.default_paper()
        self.accept()


class StateChoice(StrEnum):
    RESTORE = "restore"
    NEW_ACCOUNT = "new_account"
    READ_ONLY = "read_only"
    QUIT = "quit"


class StateProblemDialog(QDialog):
    """Says which file is wrong and why; the trader restores the latest backup, starts the
    account anew on purpose (the files are moved aside, not deleted), opens it read-only to
    look at it (nothing written, nothing sent) or quits. Nothing is armed and nothing starts
    fresh until then. ``no_read_only`` is why the app database cannot be looked at (None when
    it can)."""

    def __init__(self, account: AccountRef, problems: list[str], latest_backup: str | None,
                 parent: QWidget | None = None, no_read_only: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stateProblemDialog")
        self.setWindowTitle(f"{account.label()}: state files do not match")
        self.choice = StateChoice.QUIT
        layout = QVBoxLayout(self)
        text = QLabel("Automation is not armed. tastydesk found:\n\n"
                      + "\n".join(f"\u2022 {p}" for p in problems), self)
        text.setObjectName("stateProblem.text")
        text.setWordWrap(True)
        layout.addWidget(text)
        buttons = QDialogButtonBox(self)
        self.restore_button = buttons.addButton(
            f"Restore backup of {latest_backup}" if latest_backup else "No backup to restore",
            QDialogButtonBox.ButtonRole.AcceptRole)
        self.restore_button.setEnabled(latest_backup is not None)
        self.restore_button.clicked.connect(lambda: self._done(StateChoice.RESTORE))
        self.new_button = buttons.addButton("Start this account anew",
                                            QDialogButtonBox.ButtonRole.DestructiveRole)
        self.new_button.clicked.connect(lambda: self._done(StateChoice.NEW_ACCOUNT))
        self.read_only_button = buttons.addButton("Open read-only",
                                                  QDialogButtonBox.ButtonRole.ActionRole)
        self.read_only_button.setObjectName("stateProblem.readOnly")
        self.read_only_button.setEnabled(no_read_only is None)
        self.read_only_button.setToolTip(
            no_read_only or "Look at positions, orders, journal and history: nothing is "
                            "written, no order is sent, automation stays off")
        self.read_only_button.clicked.connect(lambda: self._done(StateChoice.READ_ONLY))
        quit_button = buttons.addButton("Quit", QDialogButtonBox.ButtonRole.RejectRole)
        quit_button.clicked.connect(lambda: self._done(StateChoice.QUIT))
        layout.addWidget(buttons)

    def _done(self, choice: StateChoice) -> None:
        self.choice = choice
        self.accept()


class ReconcileDialog(QDialog):
    """The reconciliation gate's differences, one row per leg (app against broker), each with
    the trader's decision; automation stays disarmed until each has one."""

    def __init__(self, differences: list[LegDifference], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reconcileDialog")
        self.setWindowTitle("Positions differ from the broker")
        layout = QVBoxLayout(self)
        note = QLabel("Automation is held: no order is sent until each difference has a "
                      "decision. Taking the broker's view sets the app's quantity to the "
                      "broker's; what vanished or appeared is booked at the leg's last mark, an "
                      "estimate. A workflow left with nothing ends.", self)
        note.setWordWrap(True)
        layout.addWidget(note)
        self.table = QTableWidget(len(differences), 5, self)
        self.table.setObjectName("reconcile.table")
        self.table.setHorizontalHeaderLabels(["Leg", "App", "Broker", "Workflows", "Decision"])
        self._choices: list[tuple[str, QComboBox]] = []
        for row, diff in enumerate(differences):
            for col, text in enumerate((diff.symbol, str(diff.app_quantity),
                                        str(diff.broker_quantity),
                                        ", ".join(map(str, diff.workflow_ids)))):
                self.table.setItem(row, col, QTableWidgetItem(text))
            combo = QComboBox(self.table)
            combo.addItem(f"Take the broker's view (set to {diff.broker_quantity}"
                          + (", flat)" if diff.broker_quantity == 0 else ")"),
                          DifferenceAction.TAKE_BROKER)
            combo.addItem("End the workflow", DifferenceAction.END_WORKFLOW)
            combo.addItem("Leave it for later", DifferenceAction.LATER)
            self.table.setCellWidget(row, 4, combo)
            self._choices.append((diff.symbol, combo))
        self.table.resizeColumnsToContents()
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        apply = buttons.addButton("Apply decisions", QDialogButtonBox.ButtonRole.AcceptRole)
        apply.setObjectName("reconcile.apply")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def decisions(self) -> list[tuple[str, DifferenceAction]]:
        return [(symbol, DifferenceAction(combo.currentData())) for symbol, combo in self._choices]
