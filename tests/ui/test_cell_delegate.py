"""CellDelegate: keyed views paint each cell from one model answer, where the styled path would."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QStyledItemDelegate, QStyleOptionViewItem

from tastydesk.engine.domain.views import PositionView
from tastydesk.ui.models.base import LEFT, RIGHT, Cell, Column, KeyedTableModel
from tastydesk.ui.models.positions import (
    POSITION_COLUMNS,
    POSITION_LEG_CHILD_COLUMNS,
    positions_model,
)
from tastydesk.ui.models.roles import CellRole
from tastydesk.ui.models.tree import KeyedTreeModel
from tastydesk.ui.widgets.delegates import PnlDelegate, ProgressDelegate
from tastydesk.ui.widgets.table import KeyedTableView
from tastydesk.ui.widgets.tree import KeyedTreeView
from tests.ui import factories as f

AnyIndex = QModelIndex | QPersistentModelIndex


class AskedTree(KeyedTreeModel[PositionView, Any]):
    """The Position Monitor's model, counting the roles a view asks it for."""

    def __init__(self) -> None:
        super().__init__(POSITION_COLUMNS, key=lambda v: v.workflow_id,
                         children=lambda v: v.legs, child_columns=POSITION_LEG_CHILD_COLUMNS)
        self.asked: Counter[int] = Counter()

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        self.asked[role] += 1
        return super().data(index, role)


def test_a_repaint_asks_each_unselected_cell_once(qtbot: Any) -> None:
    model = AskedTree()
    view = KeyedTreeView(model, "positions.table", sort_column="id")
    view.setItemDelegateForColumn(model.column_index("pnl"), PnlDelegate(view))
    view.setItemDelegateForColumn(model.column_index("progress"), ProgressDelegate(view))
    qtbot.addWidget(view)
    view.setColumnWidth(model.column_index("rules"), 400)  # no text elided: see the last test
    view.resize(2600, 400)
    view.show()
    qtbot.waitExposed(view)
    model.upsert([f.position(1), f.position(2, pnl="-3"), f.position(3)])
    QApplication.processEvents()  # the view lays the new rows out
    cells = 6 * len(POSITION_COLUMNS)  # three positions and their legs, every column shown
    model.asked.clear()
    view.viewport().repaint()
    assert model.asked == Counter({CellRole: cells})
    assert view.select_key(2)
    model.asked.clear()
    view.viewport().repaint()
    # The selected row takes the styled path (highlight, focus frame): only its cells ask more.
    assert model.asked[CellRole] == cells
    assert model.asked[Qt.ItemDataRole.DisplayRole] == len(POSITION_COLUMNS)


def _ink(image: QImage, cell: QRect) -> QRect:
    """The bounding box of the pixels in ``cell`` that differ from its corner (the text)."""
    ground = image.pixel(cell.left() + 1, cell.top() + 1)
    xs: list[int] = []
    ys: list[int] = []
    for y in range(cell.top(), cell.bottom() + 1):
        for x in range(cell.left(), cell.right() + 1):
            if image.pixel(x, y) != ground:
                xs.append(x)
                ys.append(y)
    assert xs, "nothing painted in the cell"
    return QRect(min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1)


def _table(qtbot: Any, texts: tuple[str, str]) -> KeyedTableView:
    columns = [Column("name", "Name", lambda r: r[0], align=LEFT, width=120),
               Column("price", "Price", lambda r: r[1], align=RIGHT, width=120)]
    model: KeyedTableModel[tuple[str, str]] = KeyedTableModel(columns, key=lambda r: r[0])
    view = KeyedTableView(model, "cells.table")
    qtbot.addWidget(view)
    view.horizontalHeader().setStretchLastSection(False)
    view.resize(320, 120)
    view.show()
    qtbot.waitExposed(view)
    model.upsert([texts])
    QApplication.processEvents()
    return view


def _paint(view: KeyedTableView) -> QImage:
    view.viewport().repaint()
    return view.viewport().grab().toImage()


def test_cells_are_drawn_where_the_styled_path_draws_them(qtbot: Any) -> None:
    view = _table(qtbot, ("SPY put spread", "$12.50"))
    assert isinstance(view.proxy.index(0, 1).data(CellRole), Cell)
    fast = _paint(view)
    view.setItemDelegate(QStyledItemDelegate(view))
    styled = _paint(view)
    for column in (0, 1):  # left- and right-aligned text land on the same pixels, give or take one
        cell = view.visualRect(view.proxy.index(0, column))
        a, b = _ink(fast, cell), _ink(styled, cell)
        assert abs(a.left() - b.left()) <= 1 and abs(a.right() - b.right()) <= 1, (column, a, b)
        assert abs(a.top() - b.top()) <= 1 and abs(a.bottom() - b.bottom()) <= 1, (column, a, b)


def test_text_wider_than_its_cell_is_elided_as_before(qtbot: Any) -> None:
    view = _table(qtbot, ("a strategy name far too long for its column", str(Decimal("1.5"))))
    cell = view.visualRect(view.proxy.index(0, 0))
    fast = _paint(view).copy(cell)
    view.setItemDelegate(QStyledItemDelegate(view))
    assert fast == _paint(view).copy(cell)


def test_the_tree_measures_cells_as_the_styled_path_does(qtbot: Any) -> None:
    model = positions_model()
    view = KeyedTreeView(model, "positions.table")
    qtbot.addWidget(view)
    model.upsert([f.position(1, pnl="-13"), f.position(2)])
    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    styled = QStyledItemDelegate()
    row_height = option.fontMetrics.height() + 6
    parent = view.proxy.index(0, 0)
    for index in [view.proxy.index(0, c) for c in range(model.columnCount())] + \
            [view.proxy.index(0, c, parent) for c in range(model.columnCount())]:
        hint = styled.sizeHint(option, index)
        expected = QSize(hint.width(), max(hint.height(), row_height))
        assert view.itemDelegate().sizeHint(option, index) == expected, index.column()
