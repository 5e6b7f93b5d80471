"""Order tickets of the Approval Queue: the prices a trader needs on Modify, quick reasons on
Reject, and the totals a bulk approval commits to."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from tastydesk.engine.domain.enums import Side
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.views import PendingView, PortfolioView
from tastydesk.ui import format as fmt
from tastydesk.ui.models.proposals import leg_name
from tastydesk.ui.widgets.dialogs import ModifyDialog, ReasonDialog

QUICK_REASONS = ("Price not good enough", "Too much risk", "Event ahead (earnings, dividend)",
                 "Already exposed to this symbol", "Disagree with the bias")
PRICE_HEADERS = ("Leg", "Bid", "Ask", "Mid", "Natural")


def price_rows(p: TradeProposal) -> list[tuple[str, Decimal, Decimal, Decimal, Decimal]]:
    """(leg, bid, ask, mid, natural) per leg, then the spread's per share (credit positive).

    A leg sold is worth its bid at natural, one bought costs its ask; the spread's bid is the
    natural price (what the market pays now) and its ask the far side of every leg.
    """
    rows = []
    spread_bid = spread_ask = Decimal("0")
    for leg in p.legs:
        ratio = Decimal(leg.quantity // max(1, p.quantity))
        sign = Decimal(1) if leg.side is Side.SELL else Decimal(-1)
        natural = leg.bid if leg.side is Side.SELL else leg.ask
        rows.append((f"{leg.side} {leg.quantity} {leg_name(leg)}", leg.bid, leg.ask, leg.mid,
                     natural))
        near, far = (leg.bid, leg.ask) if sign > 0 else (leg.ask, leg.bid)
        spread_bid += sign * ratio * near
        spread_ask += sign * ratio * far
    for shares in p.shares:  # a follow-up's Equity leg: with options, priced per 100 shares
        per = Decimal(100 * max(1, p.quantity)) if p.legs else Decimal(max(1, p.quantity))
        ratio = Decimal(shares.quantity) / per
        sign = Decimal(1) if shares.side is Side.SELL else Decimal(-1)
        natural = shares.bid if shares.side is Side.SELL else shares.ask
        rows.append((f"{shares.side} {shares.quantity} {shares.symbol} shares", shares.bid,
                     shares.ask, shares.mid, natural))
        near, far = (shares.bid, shares.ask) if sign > 0 else (shares.ask, shares.bid)
        spread_bid += sign * ratio * near
        spread_ask += sign * ratio * far
    rows.append(("Spread (per share)", spread_bid, spread_ask, p.mid_price, p.natural_price))
    return rows


def _prices_table(p: TradeProposal, parent: QWidget) -> QTableWidget:
    rows = price_rows(p)
    table = QTableWidget(len(rows), len(PRICE_HEADERS), parent)
    table.setObjectName("modify.prices")
    table.setHorizontalHeaderLabels(PRICE_HEADERS)
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    for r, (name, *values) in enumerate(rows):
        table.setItem(r, 0, QTableWidgetItem(name))
        for c, value in enumerate(values, start=1):
            text = fmt.price(value) if r == len(rows) - 1 else f"{value:.2f}"
            table.setItem(r, c, QTableWidgetItem(text))
    table.resizeColumnsToContents()
    table.setMinimumWidth(460)
    table.setFixedHeight(table.horizontalHeader().height() + 4
                         + sum(table.rowHeight(r) for r in range(len(rows))))
    return table


class ModifyTicket(ModifyDialog):
    """Modify with the market in view: bid, ask, mid and natural per leg and for the spread."""

    def __init__(self, parent: QWidget | None, view: PendingView) -> None:
        p = view.proposal
        super().__init__(parent, f"Modify {p.underlying} {p.strategy_name}", p.mid_price,
                         p.quantity)
        self.prices = _prices_table(p, self)
        self.layout().insertRow(0, self.prices)


class RejectTicket(ReasonDialog):
    """Reject with a quick reason (one click) plus any words of the trader's own."""

    def __init__(self, parent: QWidget | None, names: str) -> None:
        super().__init__(parent, "Reject trade", f"Reject {names}? Pick a reason or say why "
                         "(kept in the decision history).", "Reject")
        row = QHBoxLayout()
        row.setSpacing(4)
        self.quick_buttons: list[QPushButton] = []
        for reason in QUICK_REASONS:
            button = QPushButton(reason)
            button.setObjectName("reject.quick")
            button.clicked.connect(lambda _c=False, r=reason: self.use(r))
            row.addWidget(button)
            self.quick_buttons.append(button)
        self.layout().insertLayout(1, row)

    def use(self, reason: str) -> None:
        """Put a quick reason first; the trader's own words, if any, follow it."""
        own = self.reason
        for quick in QUICK_REASONS:
            own = own.removeprefix(quick).lstrip(": ")
        self.reason_edit.setPlainText(f"{reason}: {own}" if own else reason)


def ask_reject(parent: QWidget | None, names: str) -> str | None:
    dialog = RejectTicket(parent, names)
    if dialog.exec() == QDialog.DialogCode.Accepted and dialog.reason:
        return dialog.reason
    return None


def bulk_summary(views: Sequence[PendingView], portfolio: PortfolioView) -> tuple[str, str]:
    """(question, detail) for approving several trades: what they commit to in total."""
    max_loss = [v.proposal.max_loss for v in views]
    undefined = sum(1 for m in max_loss if m is None)
    loss = sum((m for m in max_loss if m is not None), Decimal("0"))
    bp = sum((v.proposal.buying_power for v in views), Decimal("0"))
    fees = sum((v.proposal.fees for v in views), Decimal("0"))
    free = portfolio.buying_power_limit - portfolio.buying_power_used
    question = (f"Approve {len(views)} trades and send their orders? Together: max loss "
                f"{fmt.money(loss)}" + (f" plus {undefined} undefined" if undefined else "")
                + f", buying power {fmt.money(bp, places=0)} of {fmt.money(free, places=0)} "
                f"available, fees {fmt.money(fees)}.")
    detail = "\n".join(f"\u2022 {v.proposal.underlying} {v.proposal.strategy_name} "
                       f"{fmt.price(v.proposal.mid_price)}, max loss "
                       f"{fmt.money(v.proposal.max_loss) if v.proposal.max_loss is not None else 'undefined'}"
                       f", BP {fmt.money(v.proposal.buying_power, places=0)}" for v in views)
    return question, detail
