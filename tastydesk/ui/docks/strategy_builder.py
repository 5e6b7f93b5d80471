"""Strategy Builder dock: the strategy library, an editor for every field, and a live preview.

Every edit rebuilds the strategy from the editor, runs the engine's validation on its JSON form
and marks each problem on the field it names (red border, tooltip, and a line in the problem list).
Save stays disabled until the strategy is valid. Preview asks the engine for a real proposal on a
watchlist symbol and draws its P&L diagram; the chart (pyqtgraph) is built on first preview.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tastydesk.engine.domain.enums import Bias, RuleType, Side
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.strategy import (
    DteRange,
    EntryFilters,
    PricingSettings,
    Sizing,
    Strategy,
)
from tastydesk.engine.facade import EngineFacade
from tastydesk.engine.strategies.codec import export_json, strategy_to_dict
from tastydesk.engine.strategies.validation import (
    FieldError,
    StrategyValidationError,
    parse_strategy,
    validate_strategy_dict,
)
from tastydesk.ui import format as fmt
from tastydesk.ui.models import legs as L
from tastydesk.ui.models import rules as R
from tastydesk.ui.models.legs import LegTableModel, default_leg
from tastydesk.ui.models.rules import RuleTableModel
from tastydesk.ui.widgets.strategy_delegates import LegDelegate, RuleDelegate
from tastydesk.ui.widgets.strategy_dte import DteRangeEditor

log = logging.getLogger(__name__)

INVALID_STYLE = "*[invalid=\"true\"] { border: 1px solid #d32f2f; border-radius: 2px; }"
_ITEM_PATH = re.compile(r"^(legs|rules)\[(\d+)\](?:\.(.+))?$")
_LEG_COLUMNS = {
    "option_type": L.COL_TYPE, "side": L.COL_SIDE, "ratio": L.COL_RATIO,
    "expiry": L.COL_EXPIRY, "expiry_offset_days": L.COL_OFFSET,
    "selection": L.COL_METHOD, "selection.method": L.COL_METHOD,
    "selection.value": L.COL_VALUE, "selection.reference_leg": L.COL_REFERENCE,
}
_RULE_COLUMNS = {name: col for col, name in enumerate(R.FIELDS)}

Confirm = Callable[[str, str, str], bool]


def _decimal(spin: QDoubleSpinBox) -> Decimal:
    return Decimal(f"{spin.value():.{spin.decimals()}f}")


def _dspin(lo: float, hi: float, decimals: int = 2, prefix: str = "", suffix: str = "",
           step: float = 1.0) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(lo, hi)
    spin.setDecimals(decimals)
    spin.setPrefix(prefix)
    spin.setSuffix(suffix)
    spin.setSingleStep(step)
    spin.setAlignment(Qt.AlignmentFlag.AlignRight)
    return spin


def _ispin(lo: int, hi: int, suffix: str = "", special: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(lo, hi)
    spin.setSuffix(suffix)
    spin.setAlignment(Qt.AlignmentFlag.AlignRight)
    if special:
        spin.setSpecialValueText(special)
    return spin


def _tool(text: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    button.setAutoRaise(False)
    return button


def _set_value(widget: QWidget, value: Any) -> None:
    widget.blockSignals(True)
    try:
        if isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QDoubleSpinBox):
            widget.setValue(float(value))
        elif isinstance(widget, QSpinBox):
            widget.setValue(int(value))
        elif isinstance(widget, QLineEdit):
            widget.setText(str(value))
    finally:
        widget.blockSignals(False)


class StrategyBuilderDock(QDockWidget):
    """Create, edit, validate, import/export and preview strategies."""

    def __init__(self, engine: EngineFacade, parent: QWidget | None = None, *,
                 user: str = "user") -> None:
        super().__init__("Strategy Builder", parent)
        self.setObjectName("dock.strategy_builder")
        self.engine = engine
        self.user = user
        self.confirm: Confirm = self._ask
        self._original_name: str | None = None  # saved name of what the editor holds
        self._loaded: Strategy | None = None  # as loaded or last saved: the "clean" state
        self.import_errors: list[FieldError] = []
        self._loading = False
        self._errors: list[FieldError] = []
        self._flagged: dict[QWidget, str] = {}
        self._preview_task: asyncio.Task[Any] | None = None
        self.proposal: TradeProposal | None = None
        self.chart: Any = None  # PnlChart, built on first preview

        root = QWidget(self)
        root.setStyleSheet(INVALID_STYLE)
        splitter = QSplitter(Qt.Orientation.Horizontal, root)
        splitter.addWidget(self._build_library())
        splitter.addWidget(self._build_editor())
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([210, 740])
        layout = QVBoxLayout(root)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        self.setWidget(root)
        self.refresh_library()
        self._show_first_or_new()

    # ==== construction ========================================================================
    def _build_library(self) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addWidget(QLabel("<b>Library</b>"))
        self.library = QListWidget()
        self.library.setMinimumWidth(200)  # the default names fit without clipping
        self.library.setAlternatingRowColors(True)
        self.library.currentItemChanged.connect(self._on_library_current_changed)
        layout.addWidget(self.library, 1)
        grid = QGridLayout()
        grid.setSpacing(3)
        self.new_button = _tool("New", "Start a new strategy")
        self.duplicate_button = _tool("Duplicate", "Copy the selected strategy under a new name")
        self.delete_button = _tool("Delete", "Delete the selected strategy (asks first)")
        self.import_button = _tool("Import…", "Read a strategy from a JSON file")
        self.export_button = _tool("Export…", "Write the strategy in the editor to a JSON file")
        self.restore_button = _tool("Defaults…", "Restore the built-in strategies (asks first)")
        buttons = (self.new_button, self.duplicate_button, self.delete_button,
                   self.import_button, self.export_button, self.restore_button)
        for i, button in enumerate(buttons):
            button.setSizePolicy(button.sizePolicy().horizontalPolicy().Expanding,
                                 button.sizePolicy().verticalPolicy())
            grid.addWidget(button, i // 2, i % 2)
        layout.addLayout(grid)
        self.new_button.clicked.connect(self.new_strategy)
        self.duplicate_button.clicked.connect(self.duplicate_strategy)
        self.delete_button.clicked.connect(self.delete_strategy)
        self.import_button.clicked.connect(self._on_import_clicked)
        self.export_button.clicked.connect(self._on_export_clicked)
        self.restore_button.clicked.connect(self.restore_defaults)
        return panel

    def _build_editor(self) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._build_general_tab(), "Strategy, legs && rules")
        self.tabs.addTab(self._build_entry_tab(), "Entry, sizing && pricing")
        self.tabs.addTab(self._build_preview_tab(), "Preview")
        layout.addWidget(self.tabs, 1)

        self.problems = QListWidget()
        self.problems.setMaximumHeight(72)
        self.problems.setToolTip("Each problem names the field; double-click to go to it")
        self.problems.itemDoubleClicked.connect(self._on_problem_activated)
        layout.addWidget(self.problems)
        bar = QHBoxLayout()
        self.status = QLabel()
        self.revert_button = QPushButton("Revert")
        self.revert_button.setToolTip("Discard the edits since the last save")
        self.save_button = QPushButton("Save")
        self.save_button.setToolTip("Save the strategy to the library")
        self.revert_button.clicked.connect(self.revert)
        self.save_button.clicked.connect(self.save)
        bar.addWidget(self.status, 1)
        bar.addWidget(self.revert_button)
        bar.addWidget(self.save_button)
        layout.addLayout(bar)
        return panel

    def _build_general_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        form = QGridLayout()
        form.setHorizontalSpacing(6)
        form.setVerticalSpacing(3)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Unique name")
        self.priority_spin = _ispin(1, 1000)
        self.priority_spin.setToolTip("Lower wins when several strategies serve the same bias")
        self.enabled_check = QCheckBox("Enabled")
        self.enabled_check.setToolTip("Only enabled strategies are used by scans")
        self.description_edit = QLineEdit()
        self.description_edit.setPlaceholderText("What the strategy does and when it fits")
        self.bias_box = QFrame()
        bias_row = QHBoxLayout(self.bias_box)
        bias_row.setContentsMargins(2, 0, 2, 0)
        self.bias_checks: dict[Bias, QCheckBox] = {}
        for bias in (Bias.BULLISH, Bias.NEUTRAL, Bias.BEARISH):
            check = QCheckBox(bias.value.capitalize())
            self.bias_checks[bias] = check
            bias_row.addWidget(check)
            check.toggled.connect(self._on_edited)
        bias_row.addStretch(1)
        self.bias_box.setToolTip("Market biases this strategy serves")
        self.dte_editor = DteRangeEditor()
        form.addWidget(QLabel("Name"), 0, 0)
        form.addWidget(self.name_edit, 0, 1)
        form.addWidget(QLabel("Priority"), 0, 2)
        form.addWidget(self.priority_spin, 0, 3)
        form.addWidget(self.enabled_check, 0, 4)
        form.addWidget(QLabel("Description"), 1, 0)
        form.addWidget(self.description_edit, 1, 1, 1, 4)
        form.addWidget(QLabel("Bias"), 2, 0)
        form.addWidget(self.bias_box, 2, 1, 1, 4)
        form.addWidget(QLabel("DTE"), 3, 0)
        form.addWidget(self.dte_editor, 3, 1, 1, 4)
        form.setColumnStretch(1, 1)
        layout.addLayout(form)
        self.name_edit.textEdited.connect(self._on_edited)
        self.description_edit.textEdited.connect(self._on_edited)
        self.priority_spin.valueChanged.connect(self._on_edited)
        self.enabled_check.toggled.connect(self._on_edited)
        self.dte_editor.changed.connect(self._on_edited)

        legs_bar = QHBoxLayout()
        legs_bar.setSpacing(3)
        legs_bar.addWidget(QLabel("<b>Legs</b> <span style='color:gray'>(drag rows to "
                                  "reorder; references follow)</span>"))
        legs_bar.addStretch(1)
        self.add_leg_button = _tool("Add leg", "Append a leg")
        self.remove_leg_button = _tool("Remove", "Remove the selected leg")
        self.leg_up_button = _tool("▲", "Move the selected leg up")
        self.leg_down_button = _tool("▼", "Move the selected leg down")
        for b in (self.add_leg_button, self.remove_leg_button, self.leg_up_button,
                  self.leg_down_button):
            legs_bar.addWidget(b)
        legs_panel = QWidget()
        legs_layout = QVBoxLayout(legs_panel)
        legs_layout.setContentsMargins(0, 0, 0, 0)
        legs_layout.setSpacing(3)
        legs_layout.addLayout(legs_bar)
        self.legs_model = LegTableModel(parent=self)
        self.legs_view = QTableView()
        self.legs_view.setModel(self.legs_model)
        self.legs_view.setItemDelegate(LegDelegate(self.legs_view))
        self._setup_table(self.legs_view, stretch=L.COL_METHOD)
        self.legs_view.setDragEnabled(True)
        self.legs_view.setAcceptDrops(True)
        self.legs_view.setDropIndicatorShown(True)
        self.legs_view.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.legs_view.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.legs_view.setDragDropOverwriteMode(False)
        legs_layout.addWidget(self.legs_view, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        split.addWidget(legs_panel)
        split.addWidget(self._build_rules_panel())
        split.setSizes([200, 180])
        layout.addWidget(split, 1)
        self.legs_model.legs_changed.connect(self._on_edited)
        self.add_leg_button.clicked.connect(self._on_add_leg)
        self.remove_leg_button.clicked.connect(self._on_remove_leg)
        self.leg_up_button.clicked.connect(lambda: self._on_move_leg(-1))
        self.leg_down_button.clicked.connect(lambda: self._on_move_leg(1))
        return tab

    def _build_entry_tab(self) -> QWidget:
        tab = QWidget()
        grid = QGridLayout(tab)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.setSpacing(6)
        self.min_credit_spin = _dspin(0, 1000, 2, "$", step=0.05)
        self.min_underlying_spin = _dspin(0, 100000, 2, "$")
        self.iv_rank_min_spin = _dspin(0, 100, 0)
        self.iv_rank_max_spin = _dspin(0, 100, 0)
        self.min_liquidity_spin = _ispin(0, 4)
        self.max_spread_spin = _dspin(0, 100, 1, suffix=" %")
        self.min_oi_spin = _ispin(0, 1_000_000)
        self.earnings_spin = _ispin(0, 365, " d", special="off")
        filters = QGroupBox("Entry filters")
        f = QFormLayout(filters)
        f.setVerticalSpacing(3)
        f.addRow("Min credit / spread", self.min_credit_spin)
        f.addRow("Min underlying price", self.min_underlying_spin)
        iv_row = QHBoxLayout()
        iv_row.addWidget(self.iv_rank_min_spin)
        iv_row.addWidget(QLabel("to"))
        iv_row.addWidget(self.iv_rank_max_spin)
        f.addRow("IV rank", iv_row)
        f.addRow("Min liquidity (0-4)", self.min_liquidity_spin)
        f.addRow("Max bid/ask spread", self.max_spread_spin)
        f.addRow("Min open interest", self.min_oi_spin)
        f.addRow("Earnings blackout", self.earnings_spin)

        self.quantity_spin = _ispin(1, 10_000, " spreads")
        self.max_bp_spin = _dspin(0, 10_000_000, 0, "$", step=500)
        sizing = QGroupBox("Sizing")
        s = QFormLayout(sizing)
        s.setVerticalSpacing(3)
        s.addRow("Quantity", self.quantity_spin)
        s.addRow("Max buying power", self.max_bp_spin)

        self.start_offset_spin = _dspin(0, 100, 2, "$", step=0.01)
        self.step_spin = _dspin(0, 10, 2, "$", step=0.01)
        self.interval_spin = _ispin(1, 86_400, " s")
        self.max_attempts_spin = _ispin(0, 20, special="auto")
        self.limit_check = QCheckBox("Limit")
        self.limit_spin = _dspin(-10000, 10000, 2, step=0.05)
        self.limit_spin.setToolTip("Never worse than this price: credit positive, debit negative")
        pricing = QGroupBox("Smart pricing")
        p = QFormLayout(pricing)
        p.setVerticalSpacing(3)
        p.addRow("Start from mid by", self.start_offset_spin)
        p.addRow("Concede per step", self.step_spin)
        p.addRow("Step interval", self.interval_spin)
        p.addRow("Max attempts", self.max_attempts_spin)
        limit_row = QHBoxLayout()
        limit_row.addWidget(self.limit_check)
        limit_row.addWidget(self.limit_spin, 1)
        p.addRow("Limit price", limit_row)

        grid.addWidget(filters, 0, 0, 2, 1)
        grid.addWidget(sizing, 0, 1)
        grid.addWidget(pricing, 1, 1)
        grid.setRowStretch(2, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        for spin in (self.min_credit_spin, self.min_underlying_spin, self.iv_rank_min_spin,
                     self.iv_rank_max_spin, self.min_liquidity_spin, self.max_spread_spin,
                     self.min_oi_spin, self.earnings_spin, self.quantity_spin, self.max_bp_spin,
                     self.start_offset_spin, self.step_spin, self.interval_spin,
                     self.max_attempts_spin, self.limit_spin):
            spin.valueChanged.connect(self._on_edited)
        self.limit_check.toggled.connect(self._on_limit_toggled)
        return tab

    def _build_rules_panel(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("<b>Management rules</b> <span style='color:gray'>(first row "
                             "wins when several trigger)</span>"))
        bar.addStretch(1)
        self.add_rule_button = _tool("Add rule", "Append a management rule")
        self.add_rule_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.add_rule_button)
        for rule_type, label in R.RULE_LABELS.items():
            action = menu.addAction(label)
            action.triggered.connect(lambda _c=False, t=rule_type: self._on_add_rule(t))
        self.add_rule_button.setMenu(menu)
        self.remove_rule_button = _tool("Remove", "Remove the selected rule")
        self.rule_up_button = _tool("▲", "Raise the selected rule's priority")
        self.rule_down_button = _tool("▼", "Lower the selected rule's priority")
        for b in (self.add_rule_button, self.remove_rule_button, self.rule_up_button,
                  self.rule_down_button):
            bar.addWidget(b)
        layout.addLayout(bar)
        self.rules_model = RuleTableModel(parent=self)
        self.rules_view = QTableView()
        self.rules_view.setModel(self.rules_model)
        self.rules_view.setItemDelegate(RuleDelegate(self.rules_view))
        self._setup_table(self.rules_view)
        layout.addWidget(self.rules_view, 1)
        self.rules_model.rules_changed.connect(self._on_edited)
        self.remove_rule_button.clicked.connect(self._on_remove_rule)
        self.rule_up_button.clicked.connect(lambda: self._on_move_rule(-1))
        self.rule_down_button.clicked.connect(lambda: self._on_move_rule(1))
        return tab

    def _build_preview_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        bar = QHBoxLayout()
        self.symbol_combo = QComboBox()
        self.symbol_combo.setEditable(True)
        self.symbol_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.symbol_combo.setMinimumContentsLength(6)
        self.symbol_combo.addItems(list(self.engine.config().watchlist))
        self.preview_button = QPushButton("Preview")
        self.preview_button.setToolTip("Build a proposal from the strategy in the editor on the "
                                       "current market (nothing is sent)")
        self.preview_status = QLabel("Pick a symbol and press Preview")
        self.preview_status.setWordWrap(True)
        bar.addWidget(QLabel("Symbol"))
        bar.addWidget(self.symbol_combo)
        bar.addWidget(self.preview_button)
        bar.addWidget(self.preview_status, 1)
        layout.addLayout(bar)
        self.preview_button.clicked.connect(self._on_preview_clicked)

        self.preview_split = QSplitter(Qt.Orientation.Horizontal)
        metrics = QWidget()
        mgrid = QFormLayout(metrics)
        mgrid.setContentsMargins(0, 0, 0, 0)
        mgrid.setVerticalSpacing(2)
        self.metric_labels: dict[str, QLabel] = {}
        for key, title in (("price", "Net price"), ("natural", "Natural"),
                           ("max_profit", "Max profit"), ("max_loss", "Max loss"),
                           ("breakevens", "Breakevens"), ("pop", "Prob. of profit"),
                           ("risk_reward", "Risk / reward"), ("buying_power", "Buying power"),
                           ("fees", "Fees"), ("delta", "Delta"), ("gamma", "Gamma"),
                           ("theta", "Theta / day"), ("vega", "Vega"), ("iv_rank", "IV rank"),
                           ("expiry", "Expiry")):
            label = QLabel("—")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.metric_labels[key] = label
            mgrid.addRow(title, label)
        self.warnings_label = QLabel()
        self.warnings_label.setWordWrap(True)
        mgrid.addRow(self.warnings_label)
        self.preview_split.addWidget(metrics)
        self.chart_holder = QWidget()
        QVBoxLayout(self.chart_holder).setContentsMargins(0, 0, 0, 0)
        self.preview_split.addWidget(self.chart_holder)
        self.preview_split.setStretchFactor(1, 1)
        self.preview_split.setSizes([230, 520])
        layout.addWidget(self.preview_split, 3)
        self.preview_legs = QTableWidget(0, 8)
        self.preview_legs.setHorizontalHeaderLabels(
            ["Side", "Qty", "Type", "Strike", "Expiry", "Mid", "Delta", "Chosen by"])
        self._setup_table(self.preview_legs)
        self.preview_legs.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview_legs.setMaximumHeight(130)
        layout.addWidget(self.preview_legs, 1)
        return tab

    @staticmethod
    def _setup_table(view: QTableView, stretch: int | None = None) -> None:
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setAlternatingRowColors(True)
        view.verticalHeader().setDefaultSectionSize(22)
        view.verticalHeader().setVisible(False)
        header = view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        if stretch is None:
            header.setStretchLastSection(True)
        else:
            header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
        view.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                             | QAbstractItemView.EditTrigger.SelectedClicked
                             | QAbstractItemView.EditTrigger.EditKeyPressed
                             | QAbstractItemView.EditTrigger.AnyKeyPressed)

    # ==== Public API ==========================================================================
    def refresh_library(self, select: str | None = None) -> None:
        """Reload the library list from the engine, keeping (or moving to) ``select``."""
        current = select or (self.library.currentItem().data(Qt.ItemDataRole.UserRole)
                             if self.library.currentItem() else None)
        self.library.blockSignals(True)
        self.library.clear()
        for strategy in sorted(self.engine.strategies(), key=lambda s: (s.priority, s.name)):
            item = QListWidgetItem(strategy.name if strategy.enabled
                                   else f"{strategy.name}  (off)")
            item.setData(Qt.ItemDataRole.UserRole, strategy.name)
            biases = ", ".join(sorted(b.value for b in strategy.biases))
            item.setToolTip(f"{strategy.description}\nBias: {biases}; priority "
                            f"{strategy.priority}")
            self.library.addItem(item)
            if strategy.name == current:
                self.library.setCurrentItem(item)
        self.library.blockSignals(False)

    def library_names(self) -> list[str]:
        return [self.library.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.library.count())]

    def load(self, strategy: Strategy, saved_name: str | None) -> None:
        """Put ``strategy`` in the editor; ``saved_name`` is its name in the library, if any."""
        self._loading = True
        try:
            _set_value(self.name_edit, strategy.name)
            _set_value(self.description_edit, strategy.description)
            _set_value(self.priority_spin, strategy.priority)
            _set_value(self.enabled_check, strategy.enabled)
            for bias, check in self.bias_checks.items():
                _set_value(check, bias in strategy.biases)
            self.dte_editor.set_values(strategy.dte.min, strategy.dte.target, strategy.dte.max,
                                       strategy.dte.prefer_monthly)
            f, z, p = strategy.filters, strategy.sizing, strategy.pricing
            for widget, value in ((self.min_credit_spin, f.min_credit),
                                  (self.min_underlying_spin, f.min_underlying_price),
                                  (self.iv_rank_min_spin, f.iv_rank_min),
                                  (self.iv_rank_max_spin, f.iv_rank_max),
                                  (self.min_liquidity_spin, f.min_liquidity),
                                  (self.max_spread_spin, f.max_spread_pct),
                                  (self.min_oi_spin, f.min_open_interest),
                                  (self.earnings_spin, f.earnings_blackout_days),
                                  (self.quantity_spin, z.quantity),
                                  (self.max_bp_spin, z.max_buying_power),
                                  (self.start_offset_spin, p.start_offset),
                                  (self.step_spin, p.step),
                                  (self.interval_spin, p.interval_seconds),
                                  (self.max_attempts_spin, p.max_attempts),
                                  (self.limit_check, p.limit_price is not None),
                                  (self.limit_spin, p.limit_price or Decimal("0"))):
                _set_value(widget, value)
            self.limit_spin.setEnabled(p.limit_price is not None)
            self.legs_model.set_legs(strategy.legs)
            self.rules_model.set_rules(strategy.rules)
        finally:
            self._loading = False
        self._original_name = saved_name
        self._loaded = self.current_strategy()
        self._on_edited()

    def current_strategy(self) -> Strategy:
        """The editor's content as a Strategy (not yet validated)."""
        lo, target, hi, monthly = self.dte_editor.values()
        return Strategy(
            name=self.name_edit.text(),
            description=self.description_edit.text(),
            priority=self.priority_spin.value(),
            enabled=self.enabled_check.isChecked(),
            biases=frozenset(b for b, check in self.bias_checks.items() if check.isChecked()),
            dte=DteRange(min=lo, target=target, max=hi, prefer_monthly=monthly),
            legs=self.legs_model.legs(),
            filters=EntryFilters(
                min_credit=_decimal(self.min_credit_spin),
                min_underlying_price=_decimal(self.min_underlying_spin),
                iv_rank_min=_decimal(self.iv_rank_min_spin),
                iv_rank_max=_decimal(self.iv_rank_max_spin),
                min_liquidity=self.min_liquidity_spin.value(),
                max_spread_pct=_decimal(self.max_spread_spin),
                min_open_interest=self.min_oi_spin.value(),
                earnings_blackout_days=self.earnings_spin.value(),
            ),
            sizing=Sizing(quantity=self.quantity_spin.value(),
                          max_buying_power=_decimal(self.max_bp_spin)),
            pricing=PricingSettings(
                start_offset=_decimal(self.start_offset_spin),
                step=_decimal(self.step_spin),
                interval_seconds=self.interval_spin.value(),
                max_attempts=self.max_attempts_spin.value(),
                limit_price=_decimal(self.limit_spin) if self.limit_check.isChecked() else None,
            ),
            rules=self.rules_model.rules(),
        )

    def errors(self) -> list[FieldError]:
        return list(self._errors)

    def is_dirty(self) -> bool:
        """True when the editor differs from what was loaded or last saved."""
        return self._loaded is not None and self.current_strategy() != self._loaded

    def validate(self) -> list[FieldError]:
        """Validate the editor content and mark every problem on its field."""
        strategy = self.current_strategy()
        errors = validate_strategy_dict(strategy_to_dict(strategy))
        name = strategy.name.strip()
        if name and name != self._original_name and any(
                s.name == name for s in self.engine.strategies()):
            errors.append(FieldError("name", f"another strategy is already called {name!r}"))
        self._errors = errors
        self._show_errors(errors)
        return errors

    def save(self) -> bool:
        """Save the editor content; refuses (and says why) while anything is invalid."""
        if self.validate():
            self.status.setText(f"Not saved: {len(self._errors)} problem(s) to fix")
            return False
        strategy = parse_strategy(strategy_to_dict(self.current_strategy()))
        self.engine.save_strategy(strategy, self.user)
        if self._original_name is not None and self._original_name != strategy.name:
            self.engine.delete_strategy(self._original_name, self.user)
        self._original_name = strategy.name
        self._loaded = self.current_strategy()
        self.refresh_library(select=strategy.name)
        self._on_edited()
        self.status.setText(f"Saved {strategy.name!r}")
        return True

    def revert(self) -> None:
        """Back to the strategy as loaded or last saved."""
        if self._loaded is not None:
            self.load(self._loaded, self._original_name)

    def new_strategy(self) -> None:
        self.library.blockSignals(True)
        self.library.clearSelection()
        self.library.setCurrentItem(None)
        self.library.blockSignals(False)
        self.load(Strategy(name=self._unique_name("New strategy"), legs=(default_leg(),),
                           dte=DteRange(30, 45, 60), biases=frozenset({Bias.NEUTRAL})), None)
        self.tabs.setCurrentIndex(0)
        self.name_edit.setFocus()

    def duplicate_strategy(self) -> None:
        source = self.current_strategy()
        self.library.blockSignals(True)
        self.library.setCurrentItem(None)
        self.library.blockSignals(False)
        self.load(dataclasses.replace(source, name=self._unique_name(f"{source.name} copy")),
                  None)

    def delete_strategy(self) -> bool:
        name = self._original_name
        if name is None:
            self.status.setText("Nothing to delete: this strategy is not saved yet")
            return False
        if not self.confirm("Delete strategy", f"Delete the strategy {name!r}? Workflows "
                            "already running keep their copy.", "Delete"):
            return False
        self.engine.delete_strategy(name, self.user)
        self.refresh_library()
        self._show_first_or_new()
        self.status.setText(f"Deleted {name!r}")
        return True

    def restore_defaults(self) -> bool:
        if not self.confirm("Restore default strategies",
                            "Put the built-in strategies back as shipped? Edits to them are "
                            "overwritten; your own strategies are kept.", "Restore"):
            return False
        self.engine.restore_default_strategies(self.user)
        self.refresh_library()
        current = self.library.currentItem()
        self._select_library(current.data(Qt.ItemDataRole.UserRole) if current else None)
        self.status.setText("Default strategies restored")
        return True

    def import_from_file(self, path: str | Path) -> bool:
        """Load a strategy file into the editor (not saved yet); bad files change nothing."""
        path = Path(path)
        try:
            from tastydesk.engine.strategies.codec import import_json

            strategy = import_json(path.read_bytes())
        except OSError as exc:
            self._show_import_errors(path, [FieldError("$", f"cannot read the file: "
                                                             f"{exc.strerror or exc}")])
            return False
        except StrategyValidationError as exc:
            self._show_import_errors(path, exc.errors)
            return False
        self.library.blockSignals(True)
        self.library.setCurrentItem(None)
        self.library.blockSignals(False)
        existing = {s.name for s in self.engine.strategies()}
        self.load(strategy, None)
        if strategy.name in existing:
            self.status.setText(f"Imported {path.name}: a strategy named {strategy.name!r} "
                                "exists; rename before saving")
        else:
            self.status.setText(f"Imported {path.name}: review and Save to add it")
        return True

    def export_to_file(self, path: str | Path) -> bool:
        """Write the editor's strategy as JSON; only valid strategies are exported."""
        if self.validate():
            self.status.setText("Not exported: fix the problems first")
            return False
        strategy = parse_strategy(strategy_to_dict(self.current_strategy()))
        try:
            Path(path).write_text(export_json(strategy), encoding="utf-8")
        except OSError as exc:
            self.status.setText(f"Export failed: {exc.strerror or exc}")
            return False
        self.status.setText(f"Exported to {Path(path).name}")
        return True

    def start_preview(self) -> asyncio.Task[Any] | None:
        """Ask the engine for a proposal on the chosen symbol; one request at a time.

        The guard is taken synchronously, before the coroutine exists, so a double click cannot
        start two requests. Returns the running task (None when nothing was started).
        """
        if self._preview_task is not None and not self._preview_task.done():
            return None
        symbol = self.symbol_combo.currentText().strip().upper()
        if not symbol:
            self.preview_status.setText("Choose a symbol first")
            return None
        if self.validate():
            self.preview_status.setText("Cannot preview: fix the problems listed below first")
            return None
        strategy = parse_strategy(strategy_to_dict(self.current_strategy()))
        self.preview_button.setEnabled(False)
        self.preview_status.setText(f"Building a proposal on {symbol}…")
        loop = asyncio.get_event_loop()
        self._preview_task = loop.create_task(self._run_preview(strategy, symbol),
                                              name=f"preview {strategy.name} {symbol}")
        return self._preview_task

    def show_proposal(self, proposal: TradeProposal | None) -> None:
        """Fill the metrics, legs and P&L diagram from a proposal (None clears them)."""
        self.proposal = proposal
        m = self.metric_labels
        if proposal is None:
            for label in m.values():
                label.setText("—")
            self.warnings_label.setText("")
            self.preview_legs.setRowCount(0)
            if self.chart is not None:
                self.chart.set_proposal(None)
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
        self.preview_legs.setRowCount(len(proposal.legs))
        for row, leg in enumerate(proposal.legs):
            cells = ("Buy" if leg.side is Side.BUY else "Sell", str(leg.quantity),
                     leg.option_type.value.capitalize(), f"{leg.strike:,.2f}",
                     f"{leg.expiry:%Y-%m-%d}", f"{leg.mid:.2f}", f"{leg.delta:+.2f}", leg.reason)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col in (1, 3, 5, 6):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.preview_legs.setItem(row, col, item)
        self._ensure_chart().set_proposal(proposal)

    # ==== Slots ===============================================================================
    def _on_edited(self, *_args: object) -> None:
        if self._loading:
            return
        self.validate()

    def _on_limit_toggled(self, on: bool) -> None:
        self.limit_spin.setEnabled(on)
        self._on_edited()

    def _on_library_current_changed(self, current: QListWidgetItem | None,
                                    previous: QListWidgetItem | None) -> None:
        if current is None:
            return
        name = current.data(Qt.ItemDataRole.UserRole)
        if name == self._original_name:
            return
        if self.is_dirty() and not self.confirm(
                "Discard changes", "The strategy in the editor has unsaved changes. "
                "Discard them?", "Discard"):
            self.library.blockSignals(True)
            self.library.setCurrentItem(previous)
            self.library.blockSignals(False)
            return
        self._select_library(name)

    def _on_problem_activated(self, item: QListWidgetItem) -> None:
        widget = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(widget, QWidget):
            for i in range(self.tabs.count()):
                if self.tabs.widget(i).isAncestorOf(widget):
                    self.tabs.setCurrentIndex(i)
            widget.setFocus()

    def _on_add_leg(self) -> None:
        row = self.legs_model.add_leg()
        self.legs_view.selectRow(row)

    def _on_remove_leg(self) -> None:
        row = self._selected_row(self.legs_view)
        if row is not None:
            self.legs_model.remove_leg(row)

    def _on_move_leg(self, delta: int) -> None:
        row = self._selected_row(self.legs_view)
        if row is None or not 0 <= row + delta < self.legs_model.rowCount():
            return
        self.legs_model.move_leg(row, row + delta)
        self.legs_view.selectRow(row + delta)

    def _on_add_rule(self, rule_type: RuleType) -> None:
        row = self.rules_model.add_rule(rule_type)
        self.rules_view.selectRow(row)

    def _on_remove_rule(self) -> None:
        row = self._selected_row(self.rules_view)
        if row is not None:
            self.rules_model.remove_rule(row)

    def _on_move_rule(self, delta: int) -> None:
        row = self._selected_row(self.rules_view)
        if row is None:
            return
        moved = (self.rules_model.move_up(row) if delta < 0 else self.rules_model.move_down(row))
        if moved:
            self.rules_view.selectRow(row + delta)

    def _on_import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import strategy", "",
                                              "Strategy JSON (*.json);;All files (*)")
        if path:
            self.import_from_file(path)

    def _on_export_clicked(self) -> None:
        name = self.current_strategy().name.strip() or "strategy"
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "strategy"
        path, _ = QFileDialog.getSaveFileName(self, "Export strategy", f"{safe}.json",
                                              "Strategy JSON (*.json)")
        if path:
            self.export_to_file(path)

    def _on_preview_clicked(self) -> None:
        self.start_preview()

    # ==== internals ===========================================================================
    async def _run_preview(self, strategy: Strategy, symbol: str) -> TradeProposal | None:
        try:
            proposal = await self.engine.preview(strategy, symbol)
        except asyncio.CancelledError:
            self.preview_status.setText("Preview cancelled")
            raise
        except Exception as exc:  # every failure is the user's answer: show it, keep the editor
            log.info("preview of %s on %s failed: %s", strategy.name, symbol, exc)
            self.show_proposal(None)
            self.preview_status.setText(f"No proposal on {symbol}: {exc}")
            return None
        finally:
            self.preview_button.setEnabled(True)
        self.show_proposal(proposal)
        self.preview_status.setText(
            f"{proposal.underlying} at {proposal.spot:,.2f}: {len(proposal.legs)} legs, "
            f"{fmt.price(proposal.mid_price)}")
        return proposal

    def _ensure_chart(self) -> Any:
        if self.chart is None:
            from tastydesk.ui.widgets.pnl_chart import PnlChart

            self.chart = PnlChart(self.chart_holder)
            self.chart_holder.layout().addWidget(self.chart)
        return self.chart

    def _show_first_or_new(self) -> None:
        if self.library.count():
            self.library.blockSignals(True)
            self.library.setCurrentRow(0)
            self.library.blockSignals(False)
            self._select_library(self.library.item(0).data(Qt.ItemDataRole.UserRole))
        else:
            self.new_strategy()

    def _select_library(self, name: str | None) -> None:
        strategy = next((s for s in self.engine.strategies() if s.name == name), None)
        if strategy is None:
            return
        self.load(strategy, strategy.name)
        self.show_proposal(None)
        self.preview_status.setText("Pick a symbol and press Preview")

    def _unique_name(self, base: str) -> str:
        names = {s.name for s in self.engine.strategies()}
        if base not in names:
            return base
        n = 2
        while f"{base} {n}" in names:
            n += 1
        return f"{base} {n}"

    @staticmethod
    def _selected_row(view: QTableView) -> int | None:
        rows = view.selectionModel().selectedRows() if view.selectionModel() else []
        if rows:
            return rows[0].row()
        current = view.currentIndex()
        return current.row() if current.isValid() else None

    def _field_widgets(self) -> dict[str, QWidget]:
        return {
            "name": self.name_edit, "description": self.description_edit,
            "priority": self.priority_spin, "enabled": self.enabled_check,
            "biases": self.bias_box, "dte": self.dte_editor,
            "dte.min": self.dte_editor.min_spin, "dte.target": self.dte_editor.target_spin,
            "dte.max": self.dte_editor.max_spin, "dte.prefer_monthly":
                self.dte_editor.prefer_monthly,
            "legs": self.legs_view, "rules": self.rules_view,
            "filters": self.min_credit_spin,
            "filters.min_credit": self.min_credit_spin,
            "filters.min_underlying_price": self.min_underlying_spin,
            "filters.iv_rank_min": self.iv_rank_min_spin,
            "filters.iv_rank_max": self.iv_rank_max_spin,
            "filters.min_liquidity": self.min_liquidity_spin,
            "filters.max_spread_pct": self.max_spread_spin,
            "filters.min_open_interest": self.min_oi_spin,
            "filters.earnings_blackout_days": self.earnings_spin,
            "sizing": self.quantity_spin,
            "sizing.quantity": self.quantity_spin, "sizing.max_buying_power": self.max_bp_spin,
            "pricing": self.start_offset_spin,
            "pricing.start_offset": self.start_offset_spin, "pricing.step": self.step_spin,
            "pricing.interval_seconds": self.interval_spin,
            "pricing.max_attempts": self.max_attempts_spin,
            "pricing.limit_price": self.limit_spin,
        }

    def widget_for(self, path: str) -> QWidget | None:
        """The editor widget that shows the field a validation path names."""
        widgets = self._field_widgets()
        match = _ITEM_PATH.match(path)
        if match:
            return self.legs_view if match.group(1) == "legs" else self.rules_view
        key = re.sub(r"\[\d+\]$", "", path)
        while key:
            if key in widgets:
                return widgets[key]
            key = key.rpartition(".")[0]
        return None

    def _show_errors(self, errors: list[FieldError]) -> None:
        messages: dict[QWidget, list[str]] = {}
        leg_cells: dict[tuple[int, int], str] = {}
        rule_cells: dict[tuple[int, int], str] = {}
        self.problems.clear()
        for error in errors:
            match = _ITEM_PATH.match(error.path)
            widget: QWidget | None
            if match:
                kind, row, rest = match.group(1), int(match.group(2)), match.group(3) or ""
                if kind == "legs":
                    cell = (row, _LEG_COLUMNS.get(rest, L.COL_INDEX))
                    leg_cells[cell] = "; ".join(filter(None, (leg_cells.get(cell),
                                                              error.message)))
                    widget = self.legs_view
                else:
                    cell = (row, _RULE_COLUMNS.get(rest, R.COL_TYPE))
                    rule_cells[cell] = "; ".join(filter(None, (rule_cells.get(cell),
                                                               error.message)))
                    widget = self.rules_view
            else:
                widget = self.widget_for(error.path)
                if widget is not None:
                    messages.setdefault(widget, []).append(f"{error.path}: {error.message}")
            item = QListWidgetItem(f"✖ {error.path}: {error.message}")
            item.setData(Qt.ItemDataRole.UserRole, widget)
            self.problems.addItem(item)
        self.legs_model.set_errors(leg_cells)
        self.rules_model.set_errors(rule_cells)
        self._flag_widgets({w: "\n".join(m) for w, m in messages.items()})
        valid = not errors
        self.problems.setVisible(not valid)
        dirty = self.is_dirty()
        self.save_button.setEnabled(valid and (dirty or self._original_name is None))
        self.revert_button.setEnabled(dirty)
        self.export_button.setEnabled(valid)
        self.delete_button.setEnabled(self._original_name is not None)
        if valid:
            state = "not saved yet" if self._original_name is None else (
                "unsaved changes" if dirty else "saved")
            self.status.setText(f"✔ Valid, {state}")
        else:
            self.status.setText(f"✖ {len(errors)} problem(s): Save is disabled until fixed")

    def _flag_widgets(self, flagged: dict[QWidget, str]) -> None:
        for widget in set(self._flagged) | set(flagged):
            message = flagged.get(widget)
            if message is None:
                widget.setProperty("invalid", False)
                widget.setToolTip(self._flagged.pop(widget, ""))
            else:
                if widget not in self._flagged:
                    self._flagged[widget] = widget.toolTip()  # restored when the field is fixed
                widget.setProperty("invalid", True)
                widget.setToolTip(message)
            widget.style().unpolish(widget)
            widget.style().polish(widget)
            widget.update()

    def is_flagged(self, widget: QWidget) -> bool:
        return bool(widget.property("invalid"))

    def _show_import_errors(self, path: Path, errors: list[FieldError]) -> None:
        self.problems.clear()
        self.problems.addItem(QListWidgetItem(f"Import of {path.name} failed; nothing changed:"))
        for error in errors:
            self.problems.addItem(QListWidgetItem(f"✖ {error.path}: {error.message}"))
        self.problems.setVisible(True)
        self.status.setText(f"✖ {path.name} is not a valid strategy ({len(errors)} problem(s))")
        self.import_errors = list(errors)

    def _ask(self, title: str, text: str, accept_text: str) -> bool:
        from tastydesk.ui.widgets.dialogs import ask_confirm

        return ask_confirm(self, title, text, accept_text)

