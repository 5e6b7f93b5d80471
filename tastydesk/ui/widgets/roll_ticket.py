"""The Roll ticket: the new legs the strategy's selection chose, the roll's net price and the
position's risk after it, editable before sending.

Every edit (expiry, a leg's strike, quantity, limit) asks the engine for a new preview through
the command runner, so the net price and risk always match what Send would do; an edit the chain
cannot honour shows its reason on the field. Send hands back the edits that produced the preview
on screen, pinned (expiry, every strike, quantity), so the order is the roll the trader saw.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Protocol

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tastydesk.engine.domain.enums import Side
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.rolls import RollEdits, RollPreview
from tastydesk.ui import format as fmt
from tastydesk.ui.actions import CommandRunner
from tastydesk.ui.failures import CommandFailure
from tastydesk.ui.models.proposals import leg_name
from tastydesk.ui.widgets.dialogs import no_default_button

LEG_HEADERS = ("", "Leg", "Qty", "Bid", "Ask", "Mid")
EDIT_DELAY_MS = 250  # edits in quick succession are priced once
PREVIEW = "roll-preview"


class RollPreviewer(Protocol):
    async def preview_roll(self, workflow_id: WorkflowId, edits: RollEdits | None = None
                           ) -> RollPreview: ...


def _label(name: str, error: bool = False) -> QLabel:
    label = QLabel()
    label.setObjectName("fieldError" if error else name)
    if error:
        label.setProperty("field", name)
        label.hide()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def _quote(value: Decimal | None) -> str:
    return fmt.DASH if value is None else f"{value:.2f}"


def price_text(p: RollPreview) -> str:
    """``Net 0.45 cr at mid, 0.20 cr natural, per unit x 2: about $90.00 received``."""
    cash = p.cash
    whole = (f"about {fmt.money(abs(cash))} {'received' if cash > 0 else 'paid'}" if cash
             else "even")
    return (f"Net {fmt.price(p.mid)} at mid, {fmt.price(p.natural)} natural, per unit "
            f"\u00d7 {p.order_units}: {whole}")


def risk_text(p: RollPreview) -> str:
    """The position after the roll: max loss, buying power and the credit collected."""
    effect = fmt.money(p.buying_power_effect, signed=True, places=0)
    return (f"After the roll: max loss {fmt.money(p.max_loss, places=0)}, buying power "
            f"{fmt.money(p.buying_power, places=0)} ({effect} against now); credit collected "
            f"so far {fmt.money(p.credit_collected, signed=True)} \u2192 "
            f"{fmt.money(p.credit_after, signed=True)} once filled at mid")


def orders_text(p: RollPreview) -> str:
    if not p.split:
        legs = len(p.closing) + len(p.opening) - len(p.kept)
        return f"Sent as one order of {legs} legs (dry run first)."
    return (f"Sent as {len(p.orders)} orders of at most 4 legs: " + ", then ".join(p.orders)
            + "; each priced on its own (dry run first).")


def split_note(p: RollPreview) -> str:
    """Why a roll sent as several orders takes neither another quantity nor a limit."""
    return (f"Fixed: this roll goes out as {len(p.orders)} orders (at most 4 legs each), so it "
            f"keeps the position's {p.held_units} unit{'s' if p.held_units != 1 else ''} and "
            "each order is worked from its own mid; there is no single limit to set.")


class RollTicket(QDialog):
    """Roll one position: preview, edit, send. ``edits`` holds what Send commits to."""

    def __init__(self, parent: QWidget | None, engine: RollPreviewer, workflow_id: WorkflowId,
                 title: str, runner: CommandRunner | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rollTicket")
        self.setWindowTitle(f"Roll {title}")
        self._engine = engine
        self.workflow_id = workflow_id
        # The opener's runner (one the window watches), so a preview that fails is reported as
        # every other command is, besides the ticket's own line; its own runner when alone.
        self.runner = runner if runner is not None else CommandRunner(self)
        self._preview_key = (PREVIEW, workflow_id)
        self.preview: RollPreview | None = None
        self.edits: RollEdits | None = None  # set when Send is pressed
        self._dirty = False
        self._strikes_pinned = False
        self._limit_touched = False
        layout = QVBoxLayout(self)
        self.summary = _label("roll.summary")
        self.summary.setText("Pricing the roll on the live chain\u2026")
        layout.addWidget(self.summary)
        self.legs = QTableWidget(0, len(LEG_HEADERS), self)
        self.legs.setObjectName("roll.legs")
        self.legs.setHorizontalHeaderLabels(LEG_HEADERS)
        self.legs.verticalHeader().hide()
        self.legs.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.legs.setMinimumWidth(520)
        self.legs.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.legs)
        self.form = QFormLayout()
        self.expiry = QComboBox()
        self.expiry.setObjectName("roll.expiry")
        self.expiry.activated.connect(self._expiry_edited)
        self.quantity = QSpinBox()
        self.quantity.setObjectName("roll.quantity")
        self.quantity.setRange(1, 1000)
        self.quantity.valueChanged.connect(lambda _v: self._edited())
        self.limit = QDoubleSpinBox()
        self.limit.setObjectName("roll.limit")
        self.limit.setDecimals(2)
        self.limit.setRange(-10000.0, 10000.0)
        self.limit.setSingleStep(0.01)
        self.limit.setToolTip("Worst net price per unit the roll may fill at: credit positive, "
                              "debit negative. The order starts at the mid and never goes past "
                              "it.")
        self.limit.valueChanged.connect(self._limit_edited)
        self.limit_text = _label("roll.limit_text")
        # Why quantity and limit are fixed: a roll of more than four legs goes out as several
        # orders, each priced on its own (shown beside the fields, not only as a tooltip).
        self.split_note = _label("roll.split_note")
        self.split_note.hide()
        self.strikes: list[QComboBox] = []
        self.errors: dict[str, QLabel] = {}
        self.form.addRow("Expiry", self._with_error(self.expiry, "expiry"))
        self._strike_rows = QFormLayout()
        self.form.addRow(self._strike_rows)
        self.form.addRow("Quantity", self._with_error(self.quantity, "quantity"))
        self.form.addRow("Limit", self._with_error(self.limit, "limit", self.limit_text,
                                                   self.split_note))
        layout.addLayout(self.form)
        self.price = _label("roll.price")
        self.risk = _label("roll.risk")
        self.orders = _label("roll.orders")
        self.problem = _label("roll.problem", error=True)
        self.error = _label("roll.error", error=True)
        for w in (self.price, self.risk, self.orders, self.problem, self.error):
            layout.addWidget(w)
        self.buttons = QDialogButtonBox()
        self.send_button = self.buttons.addButton("Send roll",
                                                  QDialogButtonBox.ButtonRole.AcceptRole)
        self.send_button.setObjectName("roll.send")
        self.send_button.setEnabled(False)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        no_default_button(self.buttons)
        self.buttons.accepted.connect(self.send)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(EDIT_DELAY_MS)
        self._timer.timeout.connect(self.request)
        self.request()

    def _with_error(self, field: QWidget, path: str, *extras: QWidget) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(1)
        column.addWidget(field)
        for extra in extras:
            column.addWidget(extra)
        error = _label(path, error=True)
        column.addWidget(error)
        self.errors[path] = error
        return box

    # ---- editing
    @property
    def busy(self) -> bool:
        """A preview is being priced, or an edit waits to be."""
        return self.runner.in_flight(self._preview_key) or self._timer.isActive() or self._dirty

    def _expiry_edited(self, _index: int) -> None:
        self._strikes_pinned = False  # the strategy chooses strikes on the new expiry
        self._edited()

    def _strike_edited(self, _index: int) -> None:
        self._strikes_pinned = True
        self._edited()

    def _limit_edited(self, _value: float) -> None:
        self._limit_touched = True
        self.limit_text.setText(fmt.price(self._limit_value()))
        self._edited()

    def _edited(self) -> None:
        self.send_button.setEnabled(False)
        self._timer.start()

    def _limit_value(self) -> Decimal:
        return Decimal(str(round(self.limit.value(), 2)))

    def current_edits(self) -> RollEdits:
        """The edits on screen (None where the trader left the engine's choice)."""
        if self.preview is None:
            return RollEdits()
        expiry = self.expiry.currentData()
        strikes = tuple(Decimal(str(c.currentData())) for c in self.strikes) \
            if self._strikes_pinned else None
        limit = self._limit_value() if self._limit_touched and self.limit.isEnabled() else None
        return RollEdits(expiry=expiry if isinstance(expiry, date) else None, strikes=strikes,
                         quantity=self.quantity.value(), limit=limit)

    def request(self) -> None:
        """Price the roll with the edits on screen (once at a time; the latest edit wins)."""
        if self.runner.in_flight(self._preview_key):
            self._dirty = True
            return
        self._dirty = False
        edits = self.current_edits()
        self.runner.run(self._preview_key,
                        lambda: self._engine.preview_roll(self.workflow_id, edits),
                        on_success=self._show, on_failure=self._failed)

    # ---- answers
    def _settled(self) -> bool:
        if self._dirty:
            self.request()
            return False
        return True

    def _show(self, preview: RollPreview) -> None:
        self.preview = preview
        self._clear_errors()
        self._fill_fields(preview)
        self._fill_legs(preview)
        self.summary.setText(
            f"{preview.symbol} {preview.strategy_name}: {preview.held_units} unit"
            f"{'s' if preview.held_units != 1 else ''} held. New legs chosen by the strategy's "
            "selection; change any field and the roll is priced again.")
        self.price.setText(price_text(preview))
        self.risk.setText(risk_text(preview))
        self.orders.setText(orders_text(preview))
        self.problem.setVisible(preview.problem is not None)
        self.problem.setText(f"Send would be refused: {preview.problem}"
                             if preview.problem else "")
        if self._settled():
            self.send_button.setEnabled(preview.problem is None and not self._timer.isActive())

    def _failed(self, failure: CommandFailure) -> None:
        self._clear_errors()
        self.send_button.setEnabled(False)
        shown = False
        for path, reason in failure.fields:
            label = self.errors.get(path)
            if label is not None:
                label.setText(reason)
                label.show()
                shown = True
        if not shown:
            self.error.setText(f"Not priced: {failure.message}")
            self.error.show()
        self._settled()

    def _clear_errors(self) -> None:
        for label in (*self.errors.values(), self.error):
            label.clear()
            label.hide()

    def _fill_fields(self, p: RollPreview) -> None:
        for widget in (self.expiry, self.quantity, self.limit, *self.strikes):
            widget.blockSignals(True)
        self.expiry.clear()
        for day in p.expirations:
            self.expiry.addItem(f"{day.day} {day:%b %y} ({(day - p.expiry).days:+d} d)"
                                if day != p.expiry else f"{day.day} {day:%b %y} (chosen)", day)
        self.expiry.setCurrentIndex(max(0, self.expiry.findData(p.expiry)))
        self._fill_strikes(p)
        self.quantity.setValue(p.quantity)
        self.quantity.setEnabled(not p.split)
        self.limit.setEnabled(not p.split)
        self.split_note.setVisible(p.split)
        self.split_note.setText(split_note(p) if p.split else "")
        if p.split:
            self.limit.setToolTip(self.split_note.text())
        if not self._limit_touched or p.split:
            self.limit.setValue(float(p.mid))
        self.limit_text.setText(fmt.price(self._limit_value()))
        for widget in (self.expiry, self.quantity, self.limit, *self.strikes):
            widget.blockSignals(False)

    def _fill_strikes(self, p: RollPreview) -> None:
        if len(self.strikes) != len(p.opening):
            while self._strike_rows.rowCount():
                self._strike_rows.removeRow(0)
            for path in [k for k in self.errors if k.startswith("legs[")]:
                del self.errors[path]
            self.strikes = []
            for i, leg in enumerate(p.opening):
                combo = QComboBox()
                combo.setObjectName(f"roll.strike.{i}")
                combo.activated.connect(self._strike_edited)
                side = "sell" if leg.side is Side.SELL else "buy"
                self._strike_rows.addRow(f"Leg {i + 1}: {side} {leg.option_type.value}",
                                         self._with_error(combo, f"legs[{i}].strike"))
                self.strikes.append(combo)
        for combo, leg in zip(self.strikes, p.opening, strict=True):
            combo.blockSignals(True)
            combo.clear()
            for strike in p.strikes or (leg.strike,):
                combo.addItem(fmt.strike(strike), str(strike))
            combo.setCurrentIndex(max(0, combo.findData(str(leg.strike))))
            combo.blockSignals(False)

    def _fill_legs(self, p: RollPreview) -> None:
        rows: list[tuple[str, str, int, Decimal | None, Decimal | None]] = []
        for held in p.closing:
            rows.append(("Buy to close" if held.quantity < 0 else "Sell to close",
                         fmt.instrument(held.symbol), abs(held.quantity), held.bid, held.ask))
        for leg in p.opening:
            action = "Keep" if leg.symbol in p.kept else (
                "Sell to open" if leg.side is Side.SELL else "Buy to open")
            rows.append((action, leg_name(leg), leg.quantity, leg.bid, leg.ask))
        self.legs.setRowCount(len(rows))
        for r, (action, name, qty, bid, ask) in enumerate(rows):
            mid = None if bid is None or ask is None else (bid + ask) / 2
            for c, text in enumerate((action, name, str(qty), _quote(bid), _quote(ask),
                                      _quote(mid))):
                self.legs.setItem(r, c, QTableWidgetItem(text))
        self.legs.resizeColumnsToContents()
        self.legs.resizeRowsToContents()
        # Every leg in view: the header's own size (the table may not be shown yet), the rows
        # and the frame.
        self.legs.setFixedHeight(self.legs.horizontalHeader().sizeHint().height()
                                 + sum(self.legs.rowHeight(r) for r in range(len(rows)))
                                 + 2 * self.legs.frameWidth() + 2)

    # ---- sending
    def send(self) -> None:
        """Accept with the previewed roll pinned (nothing is sent while it is being priced)."""
        p = self.preview
        if p is None or self.busy or p.problem is not None:
            return
        limit = self._limit_value() if self._limit_touched and not p.split else None
        self.edits = RollEdits(expiry=p.expiry, strikes=tuple(leg.strike for leg in p.opening),
                               quantity=p.quantity, limit=limit)
        self.accept()
