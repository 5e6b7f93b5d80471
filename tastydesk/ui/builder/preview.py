"""The builder's Preview tab: a symbol, the proposal's figures, its legs and P&L diagram.

The chart (pyqtgraph, about half a second to import) is drawn only while the tab is on screen
and built the first time it is: a Save's chain check fills the figures without freezing the
window to draw a diagram nobody is looking at.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tastydesk.engine.domain.enums import Side
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.ui import format as fmt
from tastydesk.ui.builder.tables import setup_table

IDLE_TEXT = "Pick a symbol and press Preview"
METRICS = (("price", "Net price"), ("natural", "Natural"), ("max_profit", "Max profit"),
           ("max_loss", "Max loss"), ("breakevens", "Breakevens"), ("pop", "Prob. of profit"),
           ("risk_reward", "Risk / reward"), ("buying_power", "Buying power"), ("fees", "Fees"),
           ("delta", "Delta"), ("gamma", "Gamma"), ("theta", "Theta / day"), ("vega", "Vega"),
           ("iv_rank", "IV rank"), ("expiry", "Expiry"))
_RIGHT = (1, 3, 5, 6)  # numeric columns of the legs table


class PreviewPanel(QWidget):
    """Shows one proposal; the dock decides when to ask the engine for one."""

    def __init__(self, symbols: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.proposal: TradeProposal | None = None
        self.chart: Any = None  # PnlChart, built when a proposal is first shown on screen
        self._chart_behind = False  # the chart does not show self.proposal yet
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        bar = QHBoxLayout()
        self.symbol_combo = QComboBox()
        self.symbol_combo.setEditable(True)
        self.symbol_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.symbol_combo.setMinimumContentsLength(6)
        self.symbol_combo.addItems(list(symbols))
        self.symbol_combo.setToolTip("The chain Preview and Save check the strategy on")
        self.button = QPushButton("Preview")
        self.button.setToolTip("Build a proposal from the strategy in the editor on the current "
                               "market (nothing is sent)")
        self.status = QLabel(IDLE_TEXT)
        self.status.setWordWrap(True)
        bar.addWidget(QLabel("Symbol"))
        bar.addWidget(self.symbol_combo)
        bar.addWidget(self.button)
        bar.addWidget(self.status, 1)
        layout.addLayout(bar)

        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.setChildrenCollapsible(False)  # a drag never hides the chart or the figures
        metrics = QWidget()
        grid = QFormLayout(metrics)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(2)
        self.metric_labels: dict[str, QLabel] = {}
        for key, title in METRICS:
            label = QLabel("—")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.metric_labels[key] = label
            grid.addRow(title, label)
        self.warnings_label = QLabel()
        self.warnings_label.setWordWrap(True)
        grid.addRow(self.warnings_label)
        self.split.addWidget(metrics)
        self.chart_holder = QWidget()
        QVBoxLayout(self.chart_holder).setContentsMargins(0, 0, 0, 0)
        self.split.addWidget(self.chart_holder)
        self.split.setStretchFactor(1, 1)
        self.split.setSizes([230, 520])
        layout.addWidget(self.split, 3)
        self.legs = QTableWidget(0, 8)
        self.legs.setHorizontalHeaderLabels(
            ["Side", "Qty", "Type", "Strike", "Expiry", "Mid", "Delta", "Chosen by"])
        setup_table(self.legs)
        self.legs.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.legs.setMaximumHeight(130)
        layout.addWidget(self.legs, 1)

    def symbol(self) -> str:
        return self.symbol_combo.currentText().strip().upper()

    def show_proposal(self, proposal: TradeProposal | None) -> None:
        """Fill the metrics, legs and P&L diagram from a proposal (None clears them)."""
        self.proposal = proposal
        m = self.metric_labels
        if proposal is None:
            for label in m.values():
                label.setText("—")
            self.warnings_label.setText("")
            self.legs.setRowCount(0)
            self._draw_chart()
            return
        kind = "credit" if proposal.mid_price > 0 else "debit"
        m["price"].setText(f"{fmt.price(proposal.mid_price)} ({kind}) × {proposal.quantity}")
        m["natural"].setText(fmt.price(proposal.natural_price))
        m["max_profit"].setText(fmt.money(proposal.max_profit)
                                + ("  (open-ended)" if proposal.max_profit_unlimited else ""))
        m["max_loss"].setText(fmt.money(proposal.max_loss)
                              + ("" if proposal.defined_risk else "  (undefined risk)"))
        m["breakevens"].setText(", ".join(f"{b:,.2f}" for b in proposal.breakevens) or "none")
        m["pop"].setText(fmt.pct(proposal.pop * 100, places=1))
        m["risk_reward"].setText(f"{proposal.risk_reward:.2f} : 1")
        m["buying_power"].setText(fmt.money(proposal.buying_power))
        m["fees"].setText(fmt.money(proposal.fees))
        g = proposal.greeks
        m["delta"].setText(fmt.number(g.delta, 1, signed=True))
        m["gamma"].setText(fmt.number(g.gamma, 3, signed=True))
        m["theta"].setText(fmt.money(g.theta, signed=True))
        m["vega"].setText(fmt.money(g.vega, signed=True))
        m["iv_rank"].setText(f"{proposal.iv_rank:.0f}")
        m["expiry"].setText(f"{proposal.expiry:%Y-%m-%d} ({proposal.dte_from} DTE)")
        self.warnings_label.setText(
            "" if not proposal.warnings else
            "<b>Warnings</b><br>" + "<br>".join(f"⚠ {w}" for w in proposal.warnings))
        self.legs.setRowCount(len(proposal.legs))
        for row, leg in enumerate(proposal.legs):
            cells = ("Buy" if leg.side is Side.BUY else "Sell", str(leg.quantity),
                     leg.option_type.value.capitalize(), f"{leg.strike:,.2f}",
                     f"{leg.expiry:%Y-%m-%d}", f"{leg.mid:.2f}", f"{leg.delta:+.2f}", leg.reason)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col in _RIGHT:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.legs.setItem(row, col, item)
        self._draw_chart()

    def summary(self, proposal: TradeProposal) -> str:
        return (f"{proposal.underlying} at {proposal.spot:,.2f}: {len(proposal.legs)} legs, "
                f"{fmt.price(proposal.mid_price)}")

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._chart_behind:
            self._draw_chart()

    def _draw_chart(self) -> None:
        if not self.isVisible():
            self._chart_behind = True
            return
        self._chart_behind = False
        if self.chart is None:
            if self.proposal is None:
                return
            from tastydesk.ui.widgets.pnl_chart import PnlChart

            self.chart = PnlChart(self.chart_holder)
            self.chart_holder.layout().addWidget(self.chart)
        self.chart.set_proposal(self.proposal)
