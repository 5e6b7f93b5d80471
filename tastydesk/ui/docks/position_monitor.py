"""Position Monitor dock: portfolio risk header, positions with their legs, rules, manual actions."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.views import PortfolioView, PositionView, RuleStatus
from tastydesk.engine.facade import EngineFacade
from tastydesk.ui import format as fmt
from tastydesk.ui.actions import CommandRunner, current_user
from tastydesk.ui.bridge import EngineBridge
from tastydesk.ui.docks.unmanaged_positions import UnmanagedPositions
from tastydesk.ui.models.exits import rule_label
from tastydesk.ui.models.positions import (
    positions_model,
    rule_actions_model,
    rules_model,
)
from tastydesk.ui.models.rules import THRESHOLD_UNITS, format_threshold
from tastydesk.ui.read_only import lock_writes
from tastydesk.ui.theme import pnl_colour
from tastydesk.ui.widgets.delegates import PnlDelegate, ProgressDelegate
from tastydesk.ui.widgets.dialogs import ask_close, ask_confirm, no_default_button
from tastydesk.ui.widgets.roll_ticket import RollTicket
from tastydesk.ui.widgets.table import KeyedTableView
from tastydesk.ui.widgets.tree import KeyedTreeView

log = logging.getLogger(__name__)

HEADER_TIPS = {
    "bwd": "Portfolio delta in SPY shares, each position weighted by its beta to SPY",
    "theta": "Time decay of the open positions: dollars gained (+) or lost per day",
    "vega": "Dollars gained or lost per one point rise in implied volatility",
    "pnl_today": "P&L today: the change in the account's net liquidating value since today's "
                 "session opened (New York time). It covers open and closed positions and fees, "
                 "so it differs from the open positions' P&L column.",
    "realised": "Realised P&L: what closed trades and partial closes made or lost after fees; "
                "the closed trades are listed in Workflow Status \u2192 History.",
    "open": "Positions being monitored",
}


def buying_power_text(p: PortfolioView) -> tuple[str, float, str]:
    """(bar text, used fraction, tooltip); "not yet known" until an account balance arrives."""
    used, limit = p.buying_power_used, p.buying_power_limit
    if limit <= 0 and p.net_liquidating_value <= 0:
        return (f"{fmt.money(used, places=0)} of \u2014 (limit not yet known)", 0.0,
                "The limit comes from the account balance, which has not arrived yet")
    ratio = float(used / limit) if limit > 0 else 0.0
    return (f"{fmt.money(used, places=0)} of {fmt.money(limit, places=0)} "
            f"({ratio * 100:.0f}%)", ratio,
            f"Buying power held by open positions, against the allocation limit "
            f"(net liquidating value {fmt.money(p.net_liquidating_value, places=0)} \u00d7 "
            "max allocation %)")


class ThresholdDialog(QDialog):
    """Edit one rule's threshold; the value is checked before the dialog can be accepted."""

    def __init__(self, parent: QWidget | None, rule: RuleStatus) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Edit {rule_label(rule.rule_type)} threshold")
        layout = QFormLayout(self)
        self.edit = QLineEdit(f"{rule.threshold}")
        self.edit.setObjectName("threshold.edit")
        self.error = QLabel()
        self.error.setObjectName("fieldError")
        layout.addRow(QLabel(rule.description or str(rule.rule_type)))
        layout.addRow(f"Threshold ({THRESHOLD_UNITS[rule.rule_type]})", self.edit)
        layout.addRow(self.error)
        self.buttons = QDialogButtonBox()
        self.ok_button = self.buttons.addButton("Save", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        no_default_button(self.buttons)
        self.buttons.accepted.connect(self._try_accept)
        self.buttons.rejected.connect(self.reject)
        layout.addRow(self.buttons)
        self.value: Decimal | None = None

    def _try_accept(self) -> None:
        try:
            value = Decimal(self.edit.text().strip())
        except InvalidOperation:
            self.error.setText("threshold: must be a number")
            return
        if not value.is_finite() or value <= 0:
            self.error.setText("threshold: must be a positive number")
            return
        self.value = value
        self.accept()


class PositionMonitorDock(QDockWidget):
    """Open positions with P&L, progress toward target/stop and each rule's distance."""

    def __init__(self, engine: EngineFacade, bridge: EngineBridge,
                 parent: QWidget | None = None) -> None:
        super().__init__("Position Monitor", parent)
        self.setObjectName("dock.position_monitor")
        self.engine = engine
        self.runner = CommandRunner(self)
        engine.watch_positions(True)  # the engine keeps the views current for this dock
        self.runner.finished.connect(self._on_command_finished)
        self.runner.failed.connect(self._on_command_failed)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self._build_header())

        self.model = positions_model(self)
        self.table = KeyedTreeView(self.model, "positions.table", sort_column="id")
        self.table.setItemDelegateForColumn(self.model.column_index("pnl"), PnlDelegate(self.table))
        self.table.setItemDelegateForColumn(self.model.column_index("pnl_pct"),
                                            PnlDelegate(self.table))
        self.table.setItemDelegateForColumn(self.model.column_index("progress"),
                                            ProgressDelegate(self.table))
        self.table.selectionModel().selectionChanged.connect(self._on_selection)

        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("positions.filter")
        self.filter_edit.setPlaceholderText("Filter positions\u2026")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.table.proxy.set_text)

        self.close_button = QPushButton("Close\u2026")
        self.close_button.setObjectName("positions.close")
        self.close_button.setToolTip("Close the whole position with a limit order (confirmed)")
        self.close_button.clicked.connect(lambda: self.close_selected(100))
        self.partial_button = QToolButton()
        self.partial_button.setObjectName("positions.partial")
        self.partial_button.setText("Partial close")
        self.partial_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.partial_button)
        for pct in (25, 50, 75):
            menu.addAction(f"Close {pct}%\u2026", lambda pct=pct: self.close_selected(pct))
        self.partial_button.setMenu(menu)
        self.roll_button = QPushButton("Roll\u2026")
        self.roll_button.setObjectName("positions.roll")
        self.roll_button.clicked.connect(self.roll_selected)
        self.pause_button = QPushButton("Pause rules")
        self.pause_button.setObjectName("positions.pause")
        self.pause_button.setToolTip("Stop (or resume) automatic rule evaluation for this position")
        self.pause_button.clicked.connect(self.toggle_rules_paused)
        self.threshold_button = QPushButton("Edit rule\u2026")
        self.threshold_button.setObjectName("positions.threshold")
        self.threshold_button.setToolTip("Change the threshold of the rule selected in Rules")
        self.threshold_button.clicked.connect(self.edit_threshold)
        bar = QHBoxLayout()
        bar.addWidget(self.filter_edit, 1)
        for w in (self.close_button, self.partial_button, self.roll_button, self.pause_button,
                  self.threshold_button):
            bar.addWidget(w)
        layout.addLayout(bar)

        self.rules = rules_model(self)
        self.rules_table = KeyedTableView(self.rules, "positions.rules",
                                          empty_text="Select a position to see its rules.")
        self.rules_table.selectionModel().selectionChanged.connect(
            lambda *_: self._update_buttons())
        self.actions_model = rule_actions_model(self)
        self.actions_table = KeyedTableView(self.actions_model, "positions.actions",
                                            sort_column="time",
                                            sort_order=Qt.SortOrder.DescendingOrder)
        self.detail_tabs = QTabWidget()
        self.detail_tabs.setObjectName("positions.detail_tabs")
        self.detail_tabs.setDocumentMode(True)
        self.detail_tabs.addTab(self.rules_table, "Rules")
        self.detail_tabs.addTab(self.actions_table, "Action history")
        self.unmanaged = UnmanagedPositions(engine, self.runner, self.status_text)
        self.detail_tabs.addTab(self.unmanaged, "Unmanaged")
        self.detail_tabs.currentChanged.connect(
            lambda i: self.unmanaged.load() if self.detail_tabs.widget(i) is self.unmanaged
            else None)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("positions.splitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail_tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout.addWidget(self.splitter, 1)
        self.status_label = QLabel()
        self.status_label.setObjectName("positions.status")
        layout.addWidget(self.status_label)
        self.setWidget(body)

        self._actions_dirty = True
        self.roll_ticket: RollTicket | None = None  # the last Roll ticket opened
        bridge.rule_triggered.connect(self._on_rule_triggered)
        bridge.market_changed.connect(self._schedule_refresh)
        bridge.workflow_changed.connect(lambda _e: self._schedule_refresh())
        bridge.portfolio_changed.connect(lambda _e: self._schedule_refresh())
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh)
        self.refresh()

    # ---- Header
    def _build_header(self) -> QWidget:
        frame = QFrame()
        frame.setObjectName("summaryHeader")
        grid = QGridLayout(frame)
        grid.setContentsMargins(8, 4, 8, 4)
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(0)
        self._figures: dict[str, QLabel] = {}
        names = [("bwd", "\u03b2-weighted \u0394"), ("theta", "\u0398 / day"), ("vega", "Vega"),
                 ("pnl_today", "P&L today"), ("realised", "Realised"), ("open", "Open")]
        for col, (key, title) in enumerate(names):
            caption = QLabel(title)
            caption.setObjectName("statusChip")
            caption.setToolTip(HEADER_TIPS.get(key, ""))
            value = QLabel("\u2014")
            value.setToolTip(HEADER_TIPS.get(key, ""))
            value.setObjectName(f"positions.header.{key}")
            font = value.font()
            font.setBold(True)
            value.setFont(font)
            grid.addWidget(caption, 0, col)
            grid.addWidget(value, 1, col)
            self._figures[key] = value
        bp_caption = QLabel("Buying power used")
        bp_caption.setObjectName("statusChip")
        self.bp_bar = QProgressBar()
        self.bp_bar.setObjectName("positions.header.bp")
        self.bp_bar.setRange(0, 1000)
        self.bp_bar.setTextVisible(True)
        self.bp_bar.setMaximumHeight(16)
        grid.addWidget(bp_caption, 0, len(names))
        grid.addWidget(self.bp_bar, 1, len(names))
        grid.setColumnStretch(len(names), 1)
        self.breach_label = QLabel()
        self.breach_label.setObjectName("fieldError")
        grid.addWidget(self.breach_label, 2, 0, 1, len(names) + 1)
        self.breach_label.hide()
        return frame

    def _show_portfolio(self, p: PortfolioView) -> None:
        f = self._figures
        f["bwd"].setText(fmt.number(p.beta_weighted_delta, 1, signed=True))
        f["theta"].setText(fmt.money(p.theta, signed=True))
        f["vega"].setText(fmt.number(p.vega, 1, signed=True))
        f["pnl_today"].setText(fmt.money(p.pnl_today, signed=True))
        f["realised"].setText(fmt.money(p.realised_pnl, signed=True))
        f["open"].setText(str(p.open_positions))
        for key, value in (("pnl_today", p.pnl_today), ("realised", p.realised_pnl)):
            colour = pnl_colour(value, f[key].text())
            sheet = "" if colour is None else f"color: {colour.name()}"
            if f[key].styleSheet() != sheet:  # setting a style sheet re-polishes the label
                f[key].setStyleSheet(sheet)
        text, ratio, tip = buying_power_text(p)
        self.bp_bar.setValue(int(min(1.0, ratio) * 1000))
        self.bp_bar.setFormat(text)
        self.bp_bar.setToolTip(tip)
        self.breach_label.setVisible(p.breached)
        self.breach_label.setText(f"\u26a0 Portfolio limit breached: {p.breach_reason}"
                                  if p.breached else "")

    # ---- Refresh
    def _on_rule_triggered(self, *_args: object) -> None:
        self._actions_dirty = True
        self._schedule_refresh()

    def _schedule_refresh(self) -> None:
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def refresh(self) -> None:
        """Pull positions, portfolio and rule actions; only changed rows repaint."""
        self.model.sync(self.engine.positions())
        self._show_portfolio(self.engine.portfolio())
        if self._actions_dirty:  # a database read: only after a rule fired, not per tick
            self._actions_dirty = False
            self.actions_model.sync(self.engine.rule_actions())
        self._show_detail(self.table.current_row())

    def _on_selection(self, *_args: object) -> None:
        self._show_detail(self.table.current_row())

    def _show_detail(self, view: PositionView | None) -> None:
        self.rules.sync([] if view is None else view.rules)
        self._update_buttons()

    def _update_buttons(self) -> None:
        view = self.table.current_row()
        ready = view is not None and not self.runner.in_flight(view.workflow_id)
        for w in (self.close_button, self.partial_button, self.roll_button, self.pause_button):
            w.setEnabled(ready)
        self.threshold_button.setEnabled(ready and self.rules_table.current_row() is not None)
        if view is not None:
            self.pause_button.setText("Resume rules" if view.rules_paused else "Pause rules")
        lock_writes(self.engine, self.close_button, self.partial_button, self.roll_button,
                    self.pause_button, self.threshold_button)

    # ---- Actions
    def _claim_selected(self) -> PositionView | None:
        view = self.table.current_row()
        if view is None or not self.runner.claim(view.workflow_id):
            return None
        self._update_buttons()
        return view

    def close_selected(self, pct: int = 100) -> None:
        """Close ``pct`` % of the selected position after confirmation."""
        view = self._claim_selected()
        if view is None:
            return
        wid = view.workflow_id
        if not ask_close(self, view, pct):
            self.runner.release(wid)
            self._update_buttons()
            return
        user = current_user()
        self.runner.run(wid, lambda: self.engine.close_position(wid, user, pct), claimed=True)

    def roll_selected(self) -> None:
        """Open the Roll ticket for the selected position; Send rolls it as shown."""
        view = self._claim_selected()
        if view is None:
            return
        wid = view.workflow_id
        ticket = RollTicket(self, self.engine, wid,
                            f"{view.symbol} {view.strategy_name} (#{wid}, {view.dte} DTE)")
        self.roll_ticket = ticket

        def done(result: int) -> None:
            edits = ticket.edits
            if result != QDialog.DialogCode.Accepted or edits is None:
                self.runner.release(wid)
                self._update_buttons()
                return
            user = current_user()
            self.runner.run(wid, lambda: self.engine.roll_position(wid, user, edits),
                            claimed=True)

        ticket.finished.connect(done)
        ticket.open()

    def toggle_rules_paused(self) -> None:
        view = self.table.current_row()
        if view is None:
            return
        pause = not view.rules_paused
        verb = "Pause" if pause else "Resume"
        text = (f"{verb} management rules for {view.symbol} {view.strategy_name} "
                f"(#{view.workflow_id})?"
                + (" No rule will close or roll it until you resume." if pause else ""))
        if not ask_confirm(self, f"{verb} rules", text, verb):
            return
        wid, user = view.workflow_id, current_user()
        self.runner.run(("rules", wid), lambda: self.engine.set_rules_paused(wid, pause, user))

    def edit_threshold(self) -> None:
        view = self.table.current_row()
        rule = self.rules_table.current_row()
        if view is None or rule is None:
            return
        dialog = ThresholdDialog(self, rule)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.value is None:
            return
        value = dialog.value
        if not ask_confirm(self, "Change rule", f"Set {rule_label(rule.rule_type)} of "
                           f"#{view.workflow_id} from "
                           f"{format_threshold(rule.rule_type, rule.threshold)} to "
                           f"{format_threshold(rule.rule_type, value)}?", "Change"):
            return
        wid, index, user = view.workflow_id, rule.index, current_user()
        self.runner.run(("rules", wid),
                        lambda: self.engine.set_rule_threshold(wid, index, value, user))

    def status_text(self, text: str) -> None:
        self.status_label.setText(text)

    def focus_workflow(self, workflow_id: WorkflowId) -> bool:
        self.filter_edit.clear()
        return self.table.select_key(workflow_id)

    # ---- Command results
    def _on_command_finished(self, key: Hashable, result: Any) -> None:
        wid = key[1] if isinstance(key, tuple) else key  # ("rules", id): rule commands
        text = result if isinstance(result, str) else "done"
        self.status_label.setText(f"Workflow #{wid}: {text}")
        self.refresh()

    def _on_command_failed(self, key: Hashable, message: str) -> None:
        wid = key[1] if isinstance(key, tuple) else key
        if message != "cancelled":
            self.status_label.setText(f"Workflow #{wid}: not done: {message}")
        self.refresh()
