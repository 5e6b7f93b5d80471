"""Workflow Status dock: pipeline counts, timelines, system health, analytics and history."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tastydesk.engine.domain.enums import WorkflowState
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.views import (
    AnalyticsView,
    FillQualityStats,
    HealthView,
    WorkflowView,
)
from tastydesk.engine.facade import EngineFacade
from tastydesk.ui import format as fmt
from tastydesk.ui.bridge import EngineBridge
from tastydesk.ui.models.activity import activity_model, from_error
from tastydesk.ui.models.workflows import (
    journal_model,
    stats_model,
    transitions_model,
    workflows_model,
)
from tastydesk.ui.theme import stream_chip
from tastydesk.ui.widgets.delegates import PnlDelegate
from tastydesk.ui.widgets.table import KeyedTableView

log = logging.getLogger(__name__)

PIPELINE = (WorkflowState.SCANNING, WorkflowState.EVALUATING, WorkflowState.PENDING_APPROVAL,
            WorkflowState.EXECUTING, WorkflowState.MONITORING, WorkflowState.CLOSING,
            WorkflowState.COMPLETED, WorkflowState.REJECTED, WorkflowState.CANCELLED,
            WorkflowState.ERROR)
ACTIVE = frozenset(PIPELINE[:6]) | {WorkflowState.ERROR}
ALL_STATES = "All states"
ACTIVE_STATES = "Active"


def _share(value: float | None) -> str:
    """A share of the spread as a percentage (0 % at mid, 100 % at natural)."""
    return fmt.pct(None if value is None else value * 100)


def _fill_quality_text(a: AnalyticsView) -> str:
    """Fill vs mid and the spread conceded, per symbol and per strategy."""
    if not a.fill_quality_by_symbol:
        return "Fill quality: no fills with a recorded market yet"

    def rows(stats: tuple[FillQualityStats, ...]) -> str:
        return ", ".join(f"{x.name} {fmt.money(x.avg_fill_vs_mid, signed=True)} "
                         f"({_share(x.spread_share_conceded)})" for x in stats)

    return ("Fill vs mid (spread conceded) by symbol: " + rows(a.fill_quality_by_symbol)
            + "\nBy strategy: " + rows(a.fill_quality_by_strategy))


def _figure_label(object_name: str) -> QLabel:
    label = QLabel("\u2014")
    label.setObjectName(object_name)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


class WorkflowStatusDock(QDockWidget):
    """Where every workflow is, how it got there, and how the system and strategies are doing."""

    def __init__(self, engine: EngineFacade, bridge: EngineBridge,
                 parent: QWidget | None = None) -> None:
        super().__init__("Workflow Status", parent)
        self.setObjectName("dock.workflow_status")
        self.engine = engine
        self.bridge = bridge
        self._equity: Any = None
        self.tabs = QTabWidget()
        self.tabs.setObjectName("workflow.tabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._build_pipeline(), "Pipeline")
        self.tabs.addTab(self._build_health(), "Health")
        self.tabs.addTab(self._build_analytics(), "Analytics")
        self.tabs.addTab(self._build_history(), "History")
        self.tabs.currentChanged.connect(lambda _i: self.refresh())
        self.setWidget(self.tabs)
        bridge.workflow_changed.connect(lambda _e: self._schedule_refresh())
        bridge.connection_changed.connect(lambda _e: self._schedule_refresh())
        bridge.ticked.connect(self._on_tick)
        self._ticks = 0
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh)
        self.refresh()

    # ---- Pipeline
    def _build_pipeline(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        counts = QFrame()
        counts.setObjectName("summaryHeader")
        grid = QGridLayout(counts)
        grid.setContentsMargins(8, 3, 8, 3)
        grid.setVerticalSpacing(0)
        self._counts: dict[WorkflowState, QLabel] = {}
        per_row = (len(PIPELINE) + 1) // 2  # two rows: the dock stays narrow enough to share
        for i, state in enumerate(PIPELINE):
            caption = QLabel(state.value.replace("_", " ").title())
            caption.setObjectName("statusChip")
            value = _figure_label(f"workflow.count.{state.value}")
            value.setText("0")
            row, col = 2 * (i // per_row), i % per_row
            grid.addWidget(caption, row, col)
            grid.addWidget(value, row + 1, col)
            self._counts[state] = value
        layout.addWidget(counts)

        self.workflows = workflows_model(self)
        self.workflow_table = KeyedTableView(self.workflows, "workflow.table",
                                             sort_column="updated",
                                             sort_order=Qt.SortOrder.DescendingOrder)
        self.workflow_table.selectionModel().selectionChanged.connect(self._on_selection)
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("workflow.search")
        self.search_edit.setPlaceholderText("Search workflows\u2026")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self.workflow_table.proxy.set_text)
        self.state_combo = QComboBox()
        self.state_combo.setObjectName("workflow.state_filter")
        self.state_combo.addItems([ACTIVE_STATES, ALL_STATES, *[s.value for s in PIPELINE]])
        self.state_combo.currentTextChanged.connect(self._apply_state_filter)
        bar = QHBoxLayout()
        bar.addWidget(self.search_edit, 1)
        bar.addWidget(self.state_combo)
        layout.addLayout(bar)

        self.timeline = transitions_model(self)
        self.timeline_table = KeyedTableView(self.timeline, "workflow.timeline",
                                             sort_column="time")
        self.timeline_title = QLabel("Select a workflow to see its timeline.")
        timeline_box = QWidget()
        tl = QVBoxLayout(timeline_box)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.timeline_title)
        tl.addWidget(self.timeline_table)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("workflow.splitter")
        self.splitter.addWidget(self.workflow_table)
        self.splitter.addWidget(timeline_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout.addWidget(self.splitter, 1)
        self._apply_state_filter(self.state_combo.currentText())
        return page

    def _apply_state_filter(self, text: str) -> None:
        if text == ALL_STATES:
            self.workflow_table.proxy.set_predicate(None)
        elif text == ACTIVE_STATES:
            self.workflow_table.proxy.set_predicate(lambda w: w.state in ACTIVE)
        else:
            state = WorkflowState(text)
            self.workflow_table.proxy.set_predicate(lambda w: w.state is state)

    def _on_selection(self, *_args: object) -> None:
        self._show_timeline(self.workflow_table.current_row())

    def _show_timeline(self, view: WorkflowView | None) -> None:
        if view is None:
            self.timeline_title.setText("Select a workflow to see its timeline.")
            self.timeline.sync([])
            return
        self.timeline_title.setText(f"#{view.workflow_id} {view.symbol} "
                                    f"{view.strategy_name or ''}: {view.state}")
        self.timeline.sync(self.engine.transitions(view.workflow_id))

    # ---- Health
    def _build_health(self) -> QWidget:
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(4, 4, 4, 4)
        form = QFormLayout()
        form.setContentsMargins(6, 4, 6, 4)
        form.setVerticalSpacing(3)
        outer.addLayout(form)
        self._health: dict[str, QLabel] = {}
        for key, title in (("mode", "Mode"), ("automation", "Automation"),
                           ("reconciled", "Reconciliation"), ("streams", "Streams"),
                           ("quote_age", "Quote age"), ("events", "Events / s (engine)"),
                           ("ui_events", "Events / s (UI bridge)"), ("clock", "Clock"),
                           ("market", "Market"), ("errors", "Errors by category"),
                           ("login", "Login")):
            label = QLabel("\u2014")
            label.setObjectName(f"workflow.health.{key}")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(title, label)
            self._health[key] = label
        outer.addWidget(QLabel("Recent errors"))
        self.errors = activity_model(self)
        self.errors_table = KeyedTableView(self.errors, "workflow.errors", sort_column="time",
                                           sort_order=Qt.SortOrder.DescendingOrder,
                                           empty_text="No errors recorded.")
        outer.addWidget(self.errors_table, 1)
        return page

    def _show_health(self, h: HealthView) -> None:
        s = self._health
        s["mode"].setText(str(h.mode))
        s["automation"].setText("ARMED" if h.automation_armed else "PAUSED (kill switch)")
        s["reconciled"].setText(("OK" if h.reconciled else "NOT reconciled")
                                + (f": {fmt.zoned_text(h.reconcile_detail)}"
                                   if h.reconcile_detail else ""))
        text, tip = stream_chip(h.streams)
        s["streams"].setText(text)
        s["streams"].setToolTip(tip)
        s["quote_age"].setText(fmt.age(h.quote_age_s))
        s["events"].setText(f"{h.events_per_s:,.0f}")
        s["ui_events"].setText(f"{self.bridge.events_per_s:,.0f}")
        s["clock"].setText(f"{fmt.clock_time(h.clock_now)} \u00d7{h.clock_speed:g}"
                           + ("" if h.clock_speed == 1 else " (paper clock: runs faster than "
                                                            "real time)"))
        s["market"].setText("open" if h.market_open else "closed")
        s["errors"].setText(", ".join(f"{k}: {v}" for k, v in
                                      sorted(h.errors_by_category.items())) or "none")
        s["login"].setText("required" if h.login_required else "ok")
        self.errors.sync([from_error(r) for r in self.engine.errors(limit=200)])

    # ---- Analytics
    def _build_analytics(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(4, 4, 4, 4)
        figures = QFrame()
        figures.setObjectName("summaryHeader")
        grid = QGridLayout(figures)
        grid.setContentsMargins(8, 3, 8, 3)
        grid.setVerticalSpacing(0)
        self._analytics: dict[str, QLabel] = {}
        for col, (key, title) in enumerate((("fill_rate", "Fill rate"),
                                            ("orders", "Orders filled / sent"),
                                            ("improvement", "Price steps"),
                                            ("vs_mid", "Avg fill vs mid"),
                                            ("conceded", "Spread conceded"),
                                            ("win_rate", "Win rate"),
                                            ("pnl", "Realised P&L"))):
            caption = QLabel(title)
            caption.setObjectName("statusChip")
            value = _figure_label(f"workflow.analytics.{key}")
            grid.addWidget(caption, 0, col)
            grid.addWidget(value, 1, col)
            self._analytics[key] = value
        layout.addWidget(figures)
        self.time_in_state = QLabel()
        self.time_in_state.setObjectName("workflow.analytics.time_in_state")
        self.time_in_state.setWordWrap(True)
        layout.addWidget(self.time_in_state)
        self.fill_quality = QLabel()
        self.fill_quality.setObjectName("workflow.analytics.fill_quality")
        self.fill_quality.setWordWrap(True)
        layout.addWidget(self.fill_quality)
        self.stats = stats_model(self)
        self.stats_table = KeyedTableView(self.stats, "workflow.stats", sort_column="pnl",
                                          sort_order=Qt.SortOrder.DescendingOrder,
                                          empty_text="No closed trade yet: trades, win rate "
                                                     "and realised P&L per strategy appear "
                                                     "after the first close.")
        self.stats_table.setItemDelegateForColumn(self.stats.column_index("pnl"),
                                                  PnlDelegate(self.stats_table))
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("workflow.analytics_splitter")
        splitter.setChildrenCollapsible(False)  # a drag never hides the table or the chart
        splitter.addWidget(self.stats_table)
        self.equity_holder = QWidget()
        self.equity_holder.setObjectName("workflow.equity_holder")
        QVBoxLayout(self.equity_holder).setContentsMargins(0, 0, 0, 0)
        splitter.addWidget(self.equity_holder)
        # The chart arrives lazily (pyqtgraph loads on first view): reserve its half now.
        self.equity_holder.setMinimumWidth(280)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([420, 420])
        layout.addWidget(splitter, 1)
        return page

    def _show_analytics(self, a: AnalyticsView) -> None:
        s = self._analytics
        s["fill_rate"].setText(fmt.pct(a.fill_rate * 100))
        s["orders"].setText(f"{a.orders_filled} / {a.orders_sent}")
        s["improvement"].setText(str(a.price_improvement_steps))
        s["vs_mid"].setText(fmt.money(a.avg_fill_vs_mid, signed=True))
        s["conceded"].setText(_share(a.spread_share_conceded))
        self.fill_quality.setText(_fill_quality_text(a))
        trades = sum(x.trades for x in a.by_strategy)
        wins = sum(x.wins for x in a.by_strategy)
        s["win_rate"].setText(fmt.pct(wins / trades * 100) if trades else "\u2014")
        s["pnl"].setText(fmt.money(sum(x.realised_pnl for x in a.by_strategy), signed=True))
        self.time_in_state.setText("Average time in state: " + (", ".join(
            f"{k.replace('_', ' ').lower()} {fmt.age(v)}"
            for k, v in sorted(a.time_in_state_s.items())) or "no data yet"))
        self.stats.sync(a.by_strategy)
        chart = self._ensure_equity_chart()
        if chart is not None:
            chart.set_points(a.equity_curve)

    def _ensure_equity_chart(self) -> Any:
        if self._equity is None:
            from tastydesk.ui.widgets.equity_chart import EquityChart

            self._equity = EquityChart(self.equity_holder)
            self.equity_holder.layout().addWidget(self._equity)
        return self._equity

    # ---- History
    def _build_history(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(4, 4, 4, 4)
        self.history_search = QLineEdit()
        self.history_search.setObjectName("workflow.history_search")
        self.history_search.setPlaceholderText("Search closed trades and transitions\u2026")
        self.history_search.setClearButtonEnabled(True)
        self.history_kind = QComboBox()
        self.history_kind.setObjectName("workflow.history_filter")
        self.history_kind.addItems(["All", "Winners", "Losers"])
        bar = QHBoxLayout()
        bar.addWidget(self.history_search, 1)
        bar.addWidget(self.history_kind)
        layout.addLayout(bar)
        self.journal = journal_model(self)
        self.journal_table = KeyedTableView(self.journal, "workflow.journal", sort_column="closed",
                                            sort_order=Qt.SortOrder.DescendingOrder,
                                            empty_text="No closed trade yet.")
        self.journal_table.setItemDelegateForColumn(self.journal.column_index("pnl"),
                                                    PnlDelegate(self.journal_table))
        self.all_transitions = transitions_model(self)
        self.transitions_table = KeyedTableView(self.all_transitions, "workflow.transitions",
                                                sort_column="time",
                                                sort_order=Qt.SortOrder.DescendingOrder)
        self.history_search.textChanged.connect(self.journal_table.proxy.set_text)
        self.history_search.textChanged.connect(self.transitions_table.proxy.set_text)
        self.history_kind.currentTextChanged.connect(self._apply_history_kind)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("workflow.history_splitter")
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.journal_table)
        splitter.addWidget(self.transitions_table)
        layout.addWidget(splitter, 1)
        return page

    def _apply_history_kind(self, text: str) -> None:
        if text == "Winners":
            self.journal_table.proxy.set_predicate(lambda j: j.realised_pnl > 0)
        elif text == "Losers":
            self.journal_table.proxy.set_predicate(lambda j: j.realised_pnl <= 0)
        else:
            self.journal_table.proxy.set_predicate(None)

    # ---- Refresh
    def _schedule_refresh(self) -> None:
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _on_tick(self) -> None:
        self._ticks += 1
        if self._ticks % 5 == 0 and self.tabs.currentIndex() in (1, 2):
            self.refresh()

    def refresh(self) -> None:
        """Refresh the pipeline always, and the visible tab's heavier content."""
        workflows = self.engine.workflows()
        counts = Counter(w.state for w in workflows)
        for state, label in self._counts.items():
            label.setText(str(counts.get(state, 0)))
        self.workflows.sync(workflows)
        self._show_timeline(self.workflow_table.current_row())
        tab = self.tabs.currentIndex()
        if tab == 1:
            self._show_health(self.engine.health())
        elif tab == 2:
            self._show_analytics(self.engine.analytics())
        elif tab == 3:
            self.journal.sync(self.engine.journal())
            self.all_transitions.sync(self.engine.transitions(limit=500))

    def focus_workflow(self, workflow_id: WorkflowId) -> bool:
        self.tabs.setCurrentIndex(0)
        self.state_combo.setCurrentText(ALL_STATES)
        self.search_edit.clear()
        return self.workflow_table.select_key(workflow_id)
