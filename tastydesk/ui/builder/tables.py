"""The builder's two list fields: legs and management rules, each a table with its toolbar.

Each panel is one field editor: it shows a tuple (legs or rules), says when it changed, and
marks the cells a validation path names (``legs[1].selection.value``).
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tastydesk.engine.domain.enums import RuleType
from tastydesk.engine.domain.strategy import ManagementRule, StrategyLeg
from tastydesk.ui.models import legs as L
from tastydesk.ui.models import rules as R
from tastydesk.ui.models.legs import LegTableModel
from tastydesk.ui.models.rules import RuleTableModel
from tastydesk.ui.widgets.strategy_delegates import LegDelegate, RuleDelegate

LEG_COLUMNS = {
    "option_type": L.COL_TYPE, "side": L.COL_SIDE, "ratio": L.COL_RATIO,
    "expiry": L.COL_EXPIRY, "expiry_offset_days": L.COL_OFFSET,
    "selection": L.COL_METHOD, "selection.method": L.COL_METHOD,
    "selection.value": L.COL_VALUE, "selection.reference_leg": L.COL_REFERENCE,
}
RULE_COLUMNS = {name: col for col, name in enumerate(R.FIELDS)}


def tool_button(text: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    button.setAutoRaise(False)
    return button


def setup_table(view: QTableView, stretch: int | None = None) -> None:
    """Row selection, compact rows and editing on double click or typing, as every builder table."""
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


def selected_row(view: QTableView) -> int | None:
    rows = view.selectionModel().selectedRows() if view.selectionModel() else []
    if rows:
        return rows[0].row()
    current = view.currentIndex()
    return current.row() if current.isValid() else None


class _TablePanel(QWidget):
    """A caption with tool buttons over a table view."""

    changed = Signal()

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = QTableView()
        self.bar = QHBoxLayout()
        self.bar.setSpacing(3)
        self.bar.addWidget(QLabel(caption))
        self.bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addLayout(self.bar)
        layout.addWidget(self.view, 1)

    def _add_buttons(self, *buttons: QToolButton) -> None:
        for button in buttons:
            self.bar.addWidget(button)

    def selected(self) -> int | None:
        return selected_row(self.view)


class LegsPanel(_TablePanel):
    """The strategy's legs: add, remove, move (buttons or drag and drop)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("<b>Legs</b> <span style='color:gray'>(drag rows to reorder; "
                         "references follow)</span>", parent)
        self.add_button = tool_button("Add leg", "Append a leg")
        self.remove_button = tool_button("Remove", "Remove the selected leg")
        self.up_button = tool_button("▲", "Move the selected leg up")
        self.down_button = tool_button("▼", "Move the selected leg down")
        self._add_buttons(self.add_button, self.remove_button, self.up_button, self.down_button)
        self.model = LegTableModel(parent=self)
        view = self.view
        view.setModel(self.model)
        view.setItemDelegate(LegDelegate(view))
        setup_table(view, stretch=L.COL_METHOD)
        view.setDragEnabled(True)
        view.setAcceptDrops(True)
        view.setDropIndicatorShown(True)
        view.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        view.setDefaultDropAction(Qt.DropAction.MoveAction)
        view.setDragDropOverwriteMode(False)
        self.model.legs_changed.connect(self.changed)
        self.add_button.clicked.connect(self.add)
        self.remove_button.clicked.connect(self.remove_selected)
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button.clicked.connect(lambda: self.move_selected(1))

    def value(self) -> tuple[StrategyLeg, ...]:
        return self.model.legs()

    def set_value(self, legs: Iterable[StrategyLeg]) -> None:
        self.model.set_legs(legs)

    def set_errors(self, cells: dict[tuple[int, int], str]) -> None:
        self.model.set_errors(cells)

    def add(self) -> None:
        self.view.selectRow(self.model.add_leg())

    def remove_selected(self) -> None:
        row = self.selected()
        if row is not None:
            self.model.remove_leg(row)

    def move_selected(self, delta: int) -> None:
        row = self.selected()
        if row is None or not 0 <= row + delta < self.model.rowCount():
            return
        self.model.move_leg(row, row + delta)
        self.view.selectRow(row + delta)


class RulesPanel(_TablePanel):
    """Management rules in priority order: add by type, remove, raise or lower."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("<b>Management rules</b> <span style='color:gray'>(first row wins "
                         "when several trigger)</span>", parent)
        self.add_button = tool_button("Add rule", "Append a management rule")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.add_button)
        for rule_type, label in R.RULE_LABELS.items():
            action = menu.addAction(label)
            action.triggered.connect(lambda _c=False, t=rule_type: self.add(t))
        self.add_button.setMenu(menu)
        self.remove_button = tool_button("Remove", "Remove the selected rule")
        self.up_button = tool_button("▲", "Raise the selected rule's priority")
        self.down_button = tool_button("▼", "Lower the selected rule's priority")
        self._add_buttons(self.add_button, self.remove_button, self.up_button, self.down_button)
        self.model = RuleTableModel(parent=self)
        self.view.setModel(self.model)
        self.view.setItemDelegate(RuleDelegate(self.view))
        setup_table(self.view)
        self.model.rules_changed.connect(self.changed)
        self.remove_button.clicked.connect(self.remove_selected)
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button.clicked.connect(lambda: self.move_selected(1))

    def value(self) -> tuple[ManagementRule, ...]:
        return self.model.rules()

    def set_value(self, rules: Iterable[ManagementRule]) -> None:
        self.model.set_rules(rules)

    def set_errors(self, cells: dict[tuple[int, int], str]) -> None:
        self.model.set_errors(cells)

    def add(self, rule_type: RuleType) -> None:
        self.view.selectRow(self.model.add_rule(rule_type))

    def remove_selected(self) -> None:
        row = self.selected()
        if row is not None:
            self.model.remove_rule(row)

    def move_selected(self, delta: int) -> None:
        row = self.selected()
        if row is None:
            return
        moved = self.model.move_up(row) if delta < 0 else self.model.move_down(row)
        if moved:
            self.view.selectRow(row + delta)
