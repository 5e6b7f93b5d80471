"""Approval Queue dock: pending proposals, their details, approve / modify / reject, history."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tastydesk.engine.domain.events import DecisionRecorded
from tastydesk.engine.domain.views import PendingView
from tastydesk.engine.facade import EngineFacade
from tastydesk.ui import format as fmt
from tastydesk.ui.actions import CommandRunner, current_user
from tastydesk.ui.bridge import EngineBridge
from tastydesk.ui.models.proposals import countdown, decisions_model, legs_model, pending_model
from tastydesk.ui.resources import icon
from tastydesk.ui.theme import level_colour
from tastydesk.ui.widgets.delegates import PnlDelegate, WarningsDelegate
from tastydesk.ui.widgets.dialogs import ModifyDialog, ask_confirm, ask_reason
from tastydesk.ui.widgets.table import KeyedTableView

log = logging.getLogger(__name__)


class ApprovalQueueDock(QDockWidget):
    """Every pending trade with the facts needed to decide on it, and the decision buttons."""

    decision_sent = Signal(object, str)  # workflow id, outcome text

    def __init__(self, engine: EngineFacade, bridge: EngineBridge,
                 parent: QWidget | None = None) -> None:
        super().__init__("Approval Queue", parent)
        self.setObjectName("dock.approval_queue")
        self.engine = engine
        self.runner = CommandRunner(self)
        self.runner.finished.connect(self._on_command_finished)
        self.runner.failed.connect(self._on_command_failed)
        self._labels: dict[int, str] = {}
        self._chart: Any = None
        self._shown: PendingView | None = None

        self.model = pending_model(lambda: engine.clock.now(), self,
                                   wall=lambda: engine.wall_clock.now())
        self.table = KeyedTableView(self.model, "approval.table", multi_select=True,
                                    sort_column="age", sort_order=Qt.SortOrder.DescendingOrder)
        self.table.setItemDelegateForColumn(self.model.column_index("warnings"),
                                            WarningsDelegate(self.table))
        self.table.setItemDelegateForColumn(self.model.column_index("net"),
                                            PnlDelegate(self.table))
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.table.doubleClicked.connect(lambda _ix: self.table.setFocus())

        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("approval.filter")
        self.filter_edit.setPlaceholderText("Filter by symbol, strategy, bias\u2026")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.table.proxy.set_text)

        self.approve_button = QPushButton(icon("approve"), "Approve\u2026")
        self.approve_button.setObjectName("approval.approve")
        self.approve_button.setToolTip("Approve the selected trade(s) and send the order "
                                       "(Ctrl+Enter); always asks for confirmation")
        self.modify_button = QPushButton("Modify\u2026")
        self.modify_button.setObjectName("approval.modify")
        self.modify_button.setToolTip("Change limit price or quantity, then approve (Ctrl+M)")
        self.reject_button = QPushButton(icon("reject"), "Reject\u2026")
        self.reject_button.setObjectName("approval.reject")
        self.reject_button.setToolTip("Reject the selected trade(s) with a reason (Ctrl+R)")
        self.approve_button.clicked.connect(self.approve_selected)
        self.modify_button.clicked.connect(self.modify_selected)
        self.reject_button.clicked.connect(self.reject_selected)
        self.status_label = QLabel()
        self.status_label.setObjectName("approval.status")

        for text, keys, slot in (("Approve", "Ctrl+Return", self.approve_selected),
                                 ("Approve", "Ctrl+Enter", self.approve_selected),
                                 ("Modify", "Ctrl+M", self.modify_selected),
                                 ("Reject", "Ctrl+R", self.reject_selected)):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            self.addAction(action)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.approve_button)
        top.addWidget(self.modify_button)
        top.addWidget(self.reject_button)

        pending_page = QWidget()
        pending_layout = QVBoxLayout(pending_page)
        pending_layout.setContentsMargins(4, 4, 4, 4)
        pending_layout.setSpacing(4)
        pending_layout.addLayout(top)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("approval.splitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self._build_detail())
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        pending_layout.addWidget(self.splitter, 1)
        pending_layout.addWidget(self.status_label)

        self.history_model = decisions_model(self._label_for, self)
        self.history_table = KeyedTableView(self.history_model, "approval.history",
                                            sort_column="time",
                                            sort_order=Qt.SortOrder.DescendingOrder)
        self.history_filter = QLineEdit()
        self.history_filter.setObjectName("approval.history_filter")
        self.history_filter.setPlaceholderText("Search decisions\u2026")
        self.history_filter.setClearButtonEnabled(True)
        self.history_filter.textChanged.connect(self.history_table.proxy.set_text)
        history_page = QWidget()
        history_layout = QVBoxLayout(history_page)
        history_layout.setContentsMargins(4, 4, 4, 4)
        history_layout.addWidget(self.history_filter)
        history_layout.addWidget(self.history_table)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("approval.tabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(pending_page, "Pending")
        self.tabs.addTab(history_page, "History")
        self.setWidget(self.tabs)

        bridge.workflow_changed.connect(lambda _e: self._schedule_refresh())
        bridge.market_changed.connect(self._schedule_refresh)
        bridge.ticked.connect(self._on_tick)
        # The decision history changes only when a decision is recorded: follow that event.
        history_sub = engine.bus.subscribe(DecisionRecorded, lambda _e: self._sync_history())
        self.destroyed.connect(lambda *_: history_sub.dispose())
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh)
        self._ticks = 0
        # The approval window is real time: its countdown ticks every real second.
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._tick_countdown)
        self._countdown.start()
        self.refresh()
        self._update_buttons()

    # ---- Detail pane
    def _build_detail(self) -> QWidget:
        detail = QSplitter(Qt.Orientation.Horizontal)
        detail.setObjectName("approval.detail")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(4)
        self.title_label = QLabel("Select a pending trade to see its legs, risk and rationale.")
        self.title_label.setObjectName("approval.title")
        self.title_label.setWordWrap(True)
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        left_layout.addWidget(self.title_label)
        self.returned_banner = QLabel()
        self.returned_banner.setObjectName("approval.returned")
        self.returned_banner.setWordWrap(True)
        self.returned_banner.setStyleSheet(
            f"background: {level_colour('warn')}; color: #000; padding: 3px 6px;"
            " border-radius: 3px;")
        self.returned_banner.hide()
        left_layout.addWidget(self.returned_banner)
        self.legs = legs_model(self)
        self.legs_table = KeyedTableView(self.legs, "approval.legs")
        self.legs_table.setSortingEnabled(False)
        left_layout.addWidget(self.legs_table, 1)
        self.legs_table.setMinimumHeight(70)
        facts = QFrame()
        facts.setObjectName("summaryHeader")
        grid = QHBoxLayout(facts)
        grid.setContentsMargins(6, 4, 6, 4)
        self.risk_form = QFormLayout()
        self.risk_form.setHorizontalSpacing(8)
        self.risk_form.setVerticalSpacing(1)
        self.why_form = QFormLayout()
        self.why_form.setHorizontalSpacing(8)
        self.why_form.setVerticalSpacing(1)
        self._facts: dict[str, QLabel] = {}
        for form, names in ((self.risk_form, ("Breakevens", "Expected value", "Touch prob.",
                                              "Greeks", "Fees", "IV rank")),
                            (self.why_form, ("Bias", "Confidence", "Rationale", "Warnings"))):
            for name in names:
                label = QLabel("\u2014")
                label.setWordWrap(True)
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                self._facts[name] = label
                form.addRow(name, label)
        grid.addLayout(self.risk_form, 1)
        grid.addLayout(self.why_form, 1)
        facts_scroll = QScrollArea()
        facts_scroll.setObjectName("approval.facts")
        facts_scroll.setWidgetResizable(True)
        facts_scroll.setFrameShape(QFrame.Shape.NoFrame)
        facts_scroll.setWidget(facts)
        facts_scroll.setMinimumHeight(90)
        left_layout.addWidget(facts_scroll, 1)
        detail.addWidget(left)
        self.chart_holder = QWidget()
        self.chart_holder.setObjectName("approval.chart_holder")
        self.chart_holder.setMinimumWidth(300)
        QVBoxLayout(self.chart_holder).setContentsMargins(0, 0, 0, 0)
        detail.addWidget(self.chart_holder)
        detail.setStretchFactor(0, 1)
        detail.setStretchFactor(1, 1)
        return detail

    def _show_detail(self, view: PendingView | None) -> None:
        self._shown = view
        if view is None:
            self.title_label.setText("Select a pending trade to see its legs, risk and "
                                     "rationale.")
            self.legs.reset([])
            self.returned_banner.hide()
            for label in self._facts.values():
                label.setText("\u2014")
            if self._chart is not None:
                self._chart.set_proposal(None)
            return
        p = view.proposal
        self._show_title(view)
        self.returned_banner.setText(f"\u21a9 Returned: your approval was not sent because the "
                                     f"{view.returned}. Review the new price and decide again."
                                     if view.returned else "")
        self.returned_banner.setVisible(bool(view.returned))
        self.legs.reset(p.legs)
        g = p.greeks
        self._facts["Breakevens"].setText(", ".join(f"{b:,.2f}" for b in p.breakevens) or "none")
        self._facts["Expected value"].setText(fmt.money(p.expected_value, signed=True))
        self._facts["Touch prob."].setText(fmt.pct(p.touch_probability * 100))
        self._facts["Greeks"].setText(
            f"\u0394 {fmt.number(g.delta, 1)}  \u0398 {fmt.number(g.theta, 2)}  "
            f"V {fmt.number(g.vega, 1)}  \u03b2\u0394 {fmt.number(g.beta_weighted_delta, 1)}")
        self._facts["Fees"].setText(fmt.money(p.fees))
        self._facts["IV rank"].setText(f"{p.iv_rank:.0f}")
        self._facts["Bias"].setText(str(p.bias))
        self._facts["Confidence"].setText(fmt.pct(p.confidence * 100))
        self._facts["Rationale"].setText("; ".join(p.rationale) or "\u2014")
        self._facts["Warnings"].setText("; ".join(f"\u26a0 {w}" for w in p.warnings) or "none")
        chart = self._ensure_chart()
        if chart is not None:
            chart.set_proposal(p)

    def _show_title(self, view: PendingView) -> None:
        p = view.proposal
        expires = ""
        if view.expires_at is not None:
            left = (view.expires_at - self.engine.wall_clock.now()).total_seconds()
            expires = f", expires in {countdown(left)} (real time)"
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

    # ---- Refresh
    def _schedule_refresh(self) -> None:
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def refresh(self) -> None:
        """Pull the pending list and the decision history from the engine."""
        pending = self.engine.pending()
        for view in pending:
            self._labels[view.proposal_id] = (f"#{view.workflow_id} {view.proposal.underlying} "
                                              f"{view.proposal.strategy_name}")
        self.model.sync(pending)
        current = self.table.current_row()
        if current is not None and current != self._shown:
            self._show_detail(current)
        elif current is None and self._shown is not None:
            self._show_detail(None)
        self._update_buttons()

    def _sync_history(self) -> None:
        self.history_model.sync(self.engine.decisions())

    def _on_tick(self) -> None:
        self._ticks += 1
        if self._ticks % 5 == 0:
            self.model.refresh_column("age")

    def _tick_countdown(self) -> None:
        if self.model.rowCount() == 0:
            return
        self.model.refresh_column("expires")
        if self._shown is not None:
            self._show_title(self._shown)

    def _label_for(self, proposal_id: int) -> str:
        return self._labels.get(proposal_id, f"proposal #{proposal_id}")

    def _on_selection(self, *_args: object) -> None:
        self._show_detail(self.table.current_row())
        self._update_buttons()

    def _update_buttons(self) -> None:
        selected = [v for v in self.table.selected_rows() if v is not None]
        ready = [v for v in selected
                 if not v.in_flight and not self.runner.in_flight(v.workflow_id)]
        self.approve_button.setEnabled(bool(ready))
        self.reject_button.setEnabled(bool(ready))
        self.modify_button.setEnabled(len(ready) == 1 and len(selected) == 1)

    # ---- Actions
    def _ready_selection(self) -> list[PendingView]:
        return [v for v in self.table.selected_rows()
                if v is not None and not v.in_flight
                and not self.runner.in_flight(v.workflow_id)]

    def approve_selected(self) -> None:
        """Confirm, then approve every selected trade that is not already being processed."""
        views = self._ready_selection()
        if not views:
            return
        claimed = [v for v in views if self.runner.claim(v.workflow_id)]
        self._update_buttons()
        if len(claimed) == 1:
            p = claimed[0].proposal
            text = (f"Send a limit order to {'sell' if p.is_credit else 'buy'} "
                    f"{p.quantity} \u00d7 {p.underlying} {p.strategy_name} with your limit at "
                    f"{fmt.price(p.mid_price)} per share? It is worked from the current mid "
                    f"and never goes past your limit; if the market has moved beyond it, the "
                    f"trade comes back to the queue instead.")
            detail = (f"Max profit {fmt.money(p.max_profit)}, max loss {fmt.money(p.max_loss)}, "
                      f"buying power {fmt.money(p.buying_power)}, mode {self.engine.mode}.")
        else:
            text = f"Approve {len(claimed)} trades and send their orders?"
            detail = "\n".join(f"\u2022 {v.proposal.underlying} {v.proposal.strategy_name} "
                               f"{fmt.price(v.proposal.mid_price)}" for v in claimed)
        if not ask_confirm(self, "Approve trade", text, "Approve && send", detail):
            for v in claimed:
                self.runner.release(v.workflow_id)
            self._update_buttons()
            return
        user = current_user()
        for v in claimed:
            wid = v.workflow_id
            self.runner.run(wid, lambda wid=wid: self.engine.approve(wid, user), claimed=True)
        self.status_label.setText(f"Sending {len(claimed)} approval(s)\u2026")
        self._update_buttons()

    def modify_selected(self) -> None:
        """Edit price/quantity of one selected trade, then approve it (confirmed)."""
        views = self._ready_selection()
        if len(views) != 1:
            return
        view = views[0]
        wid = view.workflow_id
        if not self.runner.claim(wid):
            return
        self._update_buttons()
        dialog = ModifyDialog(self, f"Modify {view.proposal.underlying} "
                              f"{view.proposal.strategy_name}", view.proposal.mid_price,
                              view.proposal.quantity)
        if dialog.exec() != ModifyDialog.DialogCode.Accepted:
            self.runner.release(wid)
            self._update_buttons()
            return
        price, quantity = dialog.price, dialog.quantity
        text = (f"Send {quantity} \u00d7 {view.proposal.underlying} "
                f"{view.proposal.strategy_name} with your limit at {fmt.price(price)} per "
                f"share? It is worked from the current mid and never goes past your limit.")
        if not ask_confirm(self, "Approve modified trade", text, "Approve && send"):
            self.runner.release(wid)
            self._update_buttons()
            return
        user = current_user()
        self.runner.run(wid, lambda: self.engine.approve(wid, user, price=price,
                                                         quantity=quantity), claimed=True)
        self._update_buttons()

    def reject_selected(self) -> None:
        """Reject the selected trades; a reason is required."""
        views = self._ready_selection()
        if not views:
            return
        claimed = [v for v in views if self.runner.claim(v.workflow_id)]
        names = ", ".join(f"{v.proposal.underlying} {v.proposal.strategy_name}" for v in claimed)
        reason = ask_reason(self, "Reject trade", f"Reject {names}? Say why (kept in the "
                            "decision history).", "Reject")
        if reason is None:
            for v in claimed:
                self.runner.release(v.workflow_id)
            self._update_buttons()
            return
        user = current_user()
        for v in claimed:
            wid = v.workflow_id
            self.runner.run(wid, lambda wid=wid: self.engine.reject(wid, user, reason),
                            claimed=True)
        self._update_buttons()

    def focus_workflow(self, workflow_id: int) -> bool:
        """Select a pending trade by workflow id (from a notification click)."""
        self.tabs.setCurrentIndex(0)
        self.filter_edit.clear()
        return self.table.select_key(workflow_id)

    # ---- Command results
    def _on_command_finished(self, key: Hashable, result: Any) -> None:
        text = "done" if result is None else str(result)
        self.status_label.setText(f"Workflow #{key}: {text}")
        self.decision_sent.emit(key, text)
        self.refresh()

    def _on_command_failed(self, key: Hashable, message: str) -> None:
        if message == "cancelled":
            return
        self.status_label.setText(f"Workflow #{key}: not done: {message}")
        self.refresh()
