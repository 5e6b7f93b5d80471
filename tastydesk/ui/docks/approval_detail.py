"""The Approval Queue's detail pane: what the trader reads before deciding on one trade.

Warnings and a returned approval lead the pane (above the legs), so they are never below the
fold; the legs, the risk facts and the P&L chart follow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from tastydesk.engine.domain.views import PendingView
from tastydesk.ui import format as fmt
from tastydesk.ui.models.proposals import countdown, legs_model, warnings_of
from tastydesk.ui.theme import level_colour
from tastydesk.ui.widgets.table import KeyedTableView

log = logging.getLogger(__name__)

PLACEHOLDER = "Select a pending trade to see its legs, risk and rationale."
RISK_FACTS = ("Breakevens", "Expected value", "Touch prob.", "Greeks", "Fees", "IV rank")
WHY_FACTS = ("Bias", "Confidence", "Rationale")


def _banner(name: str, level: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setStyleSheet(f"background: {level_colour(level)}; color: #000; padding: 3px 6px;"
                        " border-radius: 3px;")
    label.hide()
    return label


class ProposalDetail(QSplitter):
    """One pending trade in full; ``wall`` is the trader's clock for the expiry countdown."""

    def __init__(self, wall: Callable[[], datetime], parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setObjectName("approval.detail")
        self._wall = wall
        self._chart: Any = None
        self.shown: PendingView | None = None
        left = QWidget()
        layout = QVBoxLayout(left)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.title_label = QLabel(PLACEHOLDER)
        self.title_label.setObjectName("approval.title")
        self.title_label.setWordWrap(True)
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        layout.addWidget(self.title_label)
        self.returned_banner = _banner("approval.returned", "warn")
        self.warnings_banner = _banner("approval.warnings", "warn")
        layout.addWidget(self.returned_banner)
        layout.addWidget(self.warnings_banner)
        self.legs = legs_model(self)
        self.legs_table = KeyedTableView(self.legs, "approval.legs")
        self.legs_table.setSortingEnabled(False)
        self.legs_table.setMinimumHeight(70)
        self.legs_table.horizontalHeader().setStretchLastSection(False)  # OI beside IV
        layout.addWidget(self.legs_table, 1)
        facts = QFrame()
        facts.setObjectName("summaryHeader")
        column = QVBoxLayout(facts)
        column.setContentsMargins(6, 4, 6, 4)
        column.setSpacing(2)
        grid = QHBoxLayout()
        column.addLayout(grid)
        self._facts: dict[str, QLabel] = {}
        # The rationale is prose: it takes the pane's full width below the figures, so a
        # narrow pane does not wrap it a word per line.
        for names, holder in ((RISK_FACTS, grid), (WHY_FACTS[:-1], grid),
                              (WHY_FACTS[-1:], column)):
            form = QFormLayout()
            form.setHorizontalSpacing(8)
            form.setVerticalSpacing(1)
            for name in names:
                label = QLabel("\u2014")
                label.setWordWrap(True)
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                self._facts[name] = label
                form.addRow(name, label)
            holder.addLayout(form, 1)
        facts_scroll = QScrollArea()
        facts_scroll.setObjectName("approval.facts")
        facts_scroll.setWidgetResizable(True)
        facts_scroll.setFrameShape(QFrame.Shape.NoFrame)
        facts_scroll.setWidget(facts)
        facts_scroll.setMinimumHeight(90)
        layout.addWidget(facts_scroll, 1)
        self.addWidget(left)
        self.chart_holder = QWidget()
        self.chart_holder.setObjectName("approval.chart_holder")
        self.chart_holder.setMinimumWidth(300)
        QVBoxLayout(self.chart_holder).setContentsMargins(0, 0, 0, 0)
        self.addWidget(self.chart_holder)
        self.setStretchFactor(0, 1)
        self.setStretchFactor(1, 1)
        self.setChildrenCollapsible(False)

    def fact(self, name: str) -> str:
        """The text shown for one fact (Breakevens, Expected value, ...)."""
        return self._facts[name].text()

    def show_view(self, view: PendingView | None) -> None:
        self.shown = view
        if view is None:
            self.title_label.setText(PLACEHOLDER)
            self.legs.reset([])
            self.returned_banner.hide()
            self.warnings_banner.hide()
            for label in self._facts.values():
                label.setText("\u2014")
            if self._chart is not None:
                self._chart.set_proposal(None)
            return
        p = view.proposal
        self.show_title(view)
        self.returned_banner.setText(f"\u21a9 Returned: your approval was not sent because the "
                                     f"{view.returned}. Review the new price and decide again."
                                     if view.returned else "")
        self.returned_banner.setVisible(bool(view.returned))
        warnings = warnings_of(view)
        self.warnings_banner.setText("\n".join(f"\u26a0 {w}" for w in warnings))
        self.warnings_banner.setVisible(bool(warnings))
        self.legs.reset([*p.legs, *p.shares])  # a follow-up's shares are a row of their own
        g = p.greeks
        facts = self._facts
        facts["Breakevens"].setText(", ".join(f"{b:,.2f}" for b in p.breakevens) or "none")
        facts["Expected value"].setText(fmt.money(p.expected_value, signed=True))
        new = p.follow_up is None  # a follow-up closes what is held: no odds, no bias call
        facts["Touch prob."].setText(fmt.pct(p.touch_probability * 100) if new else fmt.DASH)
        facts["Greeks"].setText(
            f"\u0394 {fmt.number(g.delta, 1)}  \u0398 {fmt.number(g.theta, 2)}  "
            f"V {fmt.number(g.vega, 1)}  \u03b2\u0394 {fmt.number(g.beta_weighted_delta, 1)}")
        facts["Fees"].setText(fmt.money(p.fees))
        facts["IV rank"].setText(f"{p.iv_rank:.0f}" if new else fmt.DASH)
        facts["Bias"].setText(str(p.bias) if new else fmt.DASH)
        facts["Confidence"].setText(fmt.pct(p.confidence * 100) if new else fmt.DASH)
        facts["Rationale"].setText("; ".join(p.rationale) or "\u2014")
        chart = self._ensure_chart()
        if chart is not None:
            chart.set_proposal(p)

    def show_title(self, view: PendingView) -> None:
        p = view.proposal
        expires = ""
        if view.expires_at is not None:
            left = (view.expires_at - self._wall()).total_seconds()
            expires = f", expires in {countdown(left)} (real time)"
        if p.follow_up is not None:  # after an assignment: what the order trades, shares included
            shares = "".join(f", {s.side.value.lower()} {s.quantity} {s.symbol} shares"
                             for s in p.shares)
            self.title_label.setText(
                f"{p.underlying} after assignment ({p.strategy_name}): {p.follow_up.value}"
                f"{shares} \u00d7{p.quantity} at {fmt.price(p.mid_price)} (natural "
                f"{fmt.price(p.natural_price)}), spot {p.spot:,.2f}{expires}")
            return
        self.title_label.setText(
            f"{p.underlying} {p.strategy_name} \u00d7{p.quantity} at {fmt.price(p.mid_price)}"
            f" (natural {fmt.price(p.natural_price)}), spot {p.spot:,.2f}, {p.dte_from} DTE"
            f"{expires}")

    def _ensure_chart(self) -> Any:
        if self._chart is None:
            try:
                from tastydesk.ui.widgets.pnl_chart import PnlChart
            except ImportError as exc:  # the chart module is optional at run time
                log.warning("P&L chart unavailable: %s", exc)
                self._chart = False
                return None
            self._chart = PnlChart(self.chart_holder)
            self.chart_holder.layout().addWidget(self._chart)
        return self._chart or None
