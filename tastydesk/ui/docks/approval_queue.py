"""Approval Queue dock: pending proposals, their details, approve / modify / reject, history."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tastydesk.engine.domain.events import DecisionRecorded
from tastydesk.engine.domain.ids import ProposalId, WorkflowId
from tastydesk.engine.domain.proposal import approval_limit
from tastydesk.engine.domain.views import PendingView
from tastydesk.engine.facade import EngineFacade
from tastydesk.ui import format as fmt
from tastydesk.ui.actions import CommandRunner, current_user
from tastydesk.ui.bridge import EngineBridge
from tastydesk.ui.docks.approval_detail import ProposalDetail
from tastydesk.ui.models.proposals import (
    decisions_model,
    negative_ev,
    pending_model,
)
from tastydesk.ui.read_only import lock_writes
from tastydesk.ui.resources import icon
from tastydesk.ui.widgets.delegates import PnlDelegate, WarningsDelegate
from tastydesk.ui.widgets.dialogs import ask_confirm
from tastydesk.ui.widgets.table import KeyedTableView
from tastydesk.ui.widgets.tickets import ModifyTicket, ask_reject, bulk_summary

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
        self._labels: dict[ProposalId, str] = {}

        self.model = pending_model(lambda: engine.clock.now(), self,
                                   wall=lambda: engine.wall_clock.now())
        self.table = KeyedTableView(self.model, "approval.table", multi_select=True,
                                    sort_column="age", sort_order=Qt.SortOrder.DescendingOrder,
                                    empty_text="No trade waiting for approval. Scans of the "
                                               "watchlist propose trades here (Scan now: F5).")
        self.table.setItemDelegateForColumn(self.model.column_index("warnings"),
                                            WarningsDelegate(self.table))
        self.table.setItemDelegateForColumn(self.model.column_index("net"),
                                            PnlDelegate(self.table))
        self.table.setItemDelegateForColumn(self.model.column_index("ev"),
                                            PnlDelegate(self.table))
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.table.doubleClicked.connect(lambda _ix: self.table.setFocus())
        # The figures stay side by side: a stretched last column put EV a screen away.
        self.table.horizontalHeader().setStretchLastSection(False)

        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("approval.filter")
        self.filter_edit.setPlaceholderText("Filter by symbol, strategy, bias\u2026")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.table.proxy.set_text)
        self.hide_negative_ev = QCheckBox("Hide negative EV")
        self.hide_negative_ev.setObjectName("approval.hide_negative_ev")
        self.hide_negative_ev.setToolTip("Hide trades whose expected value is below zero (they "
                                         "stay pending; untick to see them again)")
        self.hide_negative_ev.toggled.connect(self._on_ev_filter)

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

        self._shortcuts: list[QAction] = []
        for text, keys, slot in (("Approve", "Ctrl+Return", self.approve_selected),
                                 ("Approve", "Ctrl+Enter", self.approve_selected),
                                 ("Modify", "Ctrl+M", self.modify_selected),
                                 ("Reject", "Ctrl+R", self.reject_selected)):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            self.addAction(action)
            self._shortcuts.append(action)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.hide_negative_ev)
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
        self.detail = ProposalDetail(lambda: engine.wall_clock.now())
        self.splitter.addWidget(self.detail)
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
        self.model.sync(pending)  # new rows are inserted: the selection stays where it was
        current = self.table.current_row()
        if current is None:
            if self.detail.shown is not None:
                self.detail.show_view(None)
        elif not _same_trade(current, self.detail.shown):
            self.detail.show_view(current)  # the open detail is redrawn only for another trade
        else:
            self.detail.shown = current
        self._update_buttons()

    def _sync_history(self) -> None:
        self.history_model.sync(self.engine.decisions())

    def _on_tick(self) -> None:
        self._ticks += 1
        if self._ticks % 5 == 0:
            self.model.refresh_column("age")

    def _on_ev_filter(self, hide: bool) -> None:
        self.table.proxy.set_predicate((lambda v: not negative_ev(v)) if hide else None)
        self._on_selection()

    def _tick_countdown(self) -> None:
        if self.model.rowCount() == 0:
            return
        self.model.refresh_column("expires")
        if self.detail.shown is not None:
            self.detail.show_title(self.detail.shown)

    def _label_for(self, proposal_id: ProposalId) -> str:
        return self._labels.get(proposal_id, f"proposal #{proposal_id}")

    def _on_selection(self, *_args: object) -> None:
        self.detail.show_view(self.table.current_row())
        self._update_buttons()

    def _update_buttons(self) -> None:
        selected = [v for v in self.table.selected_rows() if v is not None]
        ready = [v for v in selected
                 if not v.in_flight and not self.runner.in_flight(v.workflow_id)]
        self.approve_button.setEnabled(bool(ready))
        self.reject_button.setEnabled(bool(ready))
        self.modify_button.setEnabled(len(ready) == 1 and len(selected) == 1)
        lock_writes(self.engine, self.approve_button, self.modify_button, self.reject_button,
                    *self._shortcuts)

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
                    f"the natural, {fmt.price(approval_limit(p))} per share? It is worked from "
                    f"the current mid ({fmt.price(p.mid_price)} when proposed) toward your "
                    f"limit and never goes past it; if the mid has moved against the proposal "
                    f"by more than the re-price tolerance, the trade comes back to the queue "
                    f"instead. Modify sets a tighter limit.")
            detail = (f"Max profit {fmt.money(p.max_profit)}, max loss {fmt.money(p.max_loss)}, "
                      f"buying power {fmt.money(p.buying_power)}, mode {self.engine.mode}.")
        else:
            text, detail = bulk_summary(claimed, self.engine.portfolio())
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
        dialog = ModifyTicket(self, view)
        if dialog.exec() != ModifyTicket.DialogCode.Accepted:
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
        reason = ask_reject(self, names)
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

    def focus_workflow(self, workflow_id: WorkflowId) -> bool:
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


def _same_trade(a: PendingView, b: PendingView | None) -> bool:
    """The same proposal with the same outcome note (an in-flight flag alone redraws nothing)."""
    return (b is not None and a.workflow_id == b.workflow_id and a.proposal_id == b.proposal_id
            and a.returned == b.returned)
