"""Confirmation, reason and modify dialogs for money-moving actions.

None of these dialogs has a default button: Enter never confirms an order by accident; the user
has to press the action button (or its mnemonic) explicitly.
"""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from tastydesk.engine.domain.money import MULTIPLIER
from tastydesk.engine.domain.views import PositionView
from tastydesk.ui import format as fmt


class ConfirmDialog(QDialog):
    def __init__(self, parent: QWidget | None, title: str, text: str, accept_text: str,
                 detail: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("confirmDialog")
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        label = QLabel(text)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(label)
        if detail:
            detail_label = QLabel(detail)
            detail_label.setWordWrap(True)
            detail_label.setTextFormat(Qt.TextFormat.PlainText)
            detail_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(detail_label)
        self.buttons = QDialogButtonBox()
        self.accept_button = self.buttons.addButton(accept_text,
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        no_default_button(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)


def ask_confirm(parent: QWidget | None, title: str, text: str, accept_text: str,
                detail: str = "") -> bool:
    """Modal confirmation; True only when the user pressed ``accept_text``."""
    dialog = ConfirmDialog(parent, title, text, accept_text, detail)
    return dialog.exec() == QDialog.DialogCode.Accepted


def close_units(open_units: int, pct: int) -> int:
    """Spreads a close of ``pct`` % takes off (the engine's rule: a partial close leaves at
    least one open and closes at least one); 0 when a partial close is not possible."""
    if pct >= 100:
        return open_units
    if open_units < 2:
        return 0
    return min(open_units - 1, max(1, open_units * pct // 100))


def close_text(view: PositionView, pct: int) -> tuple[str, str]:
    """(question, detail) for closing ``pct`` % of a position, naming the order's side right.

    The mark is the spread's value in the entry's terms; the closing order trades the other way,
    so a credit spread is bought back for a debit and a debit spread sold for a credit.
    """
    units = close_units(view.quantity, pct)
    what = (f"the whole position ({units} of {view.quantity})" if pct >= 100
            else f"{pct}% of the position ({units} of {view.quantity} spreads)")
    question = f"Close {what} in {view.symbol} {view.strategy_name} (#{view.workflow_id})?"
    if view.mark is None:
        order = "No mark yet: the limit price is set from the first quote."
    else:
        paying = view.mark > 0
        cash = abs(view.mark) * MULTIPLIER * units
        order = (f"Closing order: {'buy back' if paying else 'sell'} at a limit near "
                 f"{fmt.closing_price(view.mark)} per spread "
                 f"({'about ' + fmt.money(cash) + (' paid' if paying else ' received')}), "
                 "worked from the mid.")
    legs = ", ".join(
        f"{leg.quantity:+d} {fmt.leg_name(view.symbol, leg.expiry, leg.option_type, leg.strike)}"
        for leg in view.legs)
    detail = (f"{order}\nLegs held: {legs or 'none'}.\n"
              f"Unrealised P&L of the position now {fmt.money(view.pnl, signed=True)}.")
    return question, detail


def ask_close(parent: QWidget | None, view: PositionView, pct: int) -> bool:
    """Confirm closing ``pct`` % of ``view``; True only when the user pressed Close."""
    question, detail = close_text(view, pct)
    label = "Close" if pct >= 100 else f"Close {pct}%"
    return ask_confirm(parent, "Close position" if pct >= 100 else "Partial close", question,
                       label, detail)


class ReasonDialog(QDialog):
    """Asks for a required, non-blank reason (e.g. why a trade is rejected)."""

    def __init__(self, parent: QWidget | None, title: str, text: str, accept_text: str) -> None:
        super().__init__(parent)
        self.setObjectName("reasonDialog")
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        label = QLabel(text)
        label.setWordWrap(True)
        layout.addWidget(label)
        self.reason_edit = QPlainTextEdit()
        self.reason_edit.setPlaceholderText("Reason (required)")
        self.reason_edit.setFixedHeight(70)
        layout.addWidget(self.reason_edit)
        self.buttons = QDialogButtonBox()
        self.accept_button = self.buttons.addButton(accept_text,
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        no_default_button(self.buttons)
        self.accept_button.setEnabled(False)
        self.reason_edit.textChanged.connect(
            lambda: self.accept_button.setEnabled(bool(self.reason.strip())))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    @property
    def reason(self) -> str:
        return self.reason_edit.toPlainText().strip()


def ask_reason(parent: QWidget | None, title: str, text: str, accept_text: str) -> str | None:
    dialog = ReasonDialog(parent, title, text, accept_text)
    if dialog.exec() == QDialog.DialogCode.Accepted and dialog.reason:
        return dialog.reason
    return None


class ModifyDialog(QDialog):
    """Edit the limit price (per share, credit or debit as proposed) and the quantity."""

    def __init__(self, parent: QWidget | None, title: str, price: Decimal, quantity: int) -> None:
        super().__init__(parent)
        self.setObjectName("modifyDialog")
        self.setWindowTitle(title)
        self._credit = price >= 0
        layout = QFormLayout(self)
        self.price_spin = QDoubleSpinBox()
        self.price_spin.setDecimals(2)
        self.price_spin.setRange(0.01, 10000.0)
        self.price_spin.setSingleStep(0.01)
        self.price_spin.setValue(float(abs(price)))
        self.price_spin.setSuffix(" cr" if self._credit else " db")
        self.price_spin.setToolTip("Limit price per share: credit received (cr) or debit paid (db)")
        self.quantity_spin = QSpinBox()
        self.quantity_spin.setRange(1, 1000)
        self.quantity_spin.setValue(max(1, quantity))
        layout.addRow("Limit price", self.price_spin)
        layout.addRow("Quantity", self.quantity_spin)
        self.buttons = QDialogButtonBox()
        self.accept_button = self.buttons.addButton("Approve with changes",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        no_default_button(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addRow(self.buttons)

    @property
    def price(self) -> Decimal:
        """The signed price: credit positive, debit negative."""
        value = Decimal(str(round(self.price_spin.value(), 2)))
        return value if self._credit else -value

    @property
    def quantity(self) -> int:
        return self.quantity_spin.value()


def no_default_button(buttons: QDialogButtonBox) -> None:
    for button in buttons.buttons():
        if isinstance(button, QPushButton):
            button.setAutoDefault(False)
            button.setDefault(False)
