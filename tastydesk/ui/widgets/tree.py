"""A compact, sortable tree view over a KeyedTreeModel: parent rows with their children."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QHeaderView,
    QStyleOptionViewItem,
    QTreeView,
    QWidget,
)

from tastydesk.ui.models.base import Cell, TableFilterProxy, sort_less
from tastydesk.ui.models.roles import CellRole, KeyRole, RowObjectRole, SortRole
from tastydesk.ui.models.tree import KeyedTreeModel, ParentObjectRole
from tastydesk.ui.widgets.delegates import CellDelegate
from tastydesk.ui.widgets.table import apply_widths, select_keyed, setup_keyed_view


class TreeFilterProxy(TableFilterProxy):
    """Filters parents by their text; a parent that matches keeps all its children, and a
    parent with a matching child stays visible (recursive filtering)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setRecursiveFilteringEnabled(True)

    def filterAcceptsRow(self, source_row: int,
                         source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if source_parent.isValid() and super().filterAcceptsRow(source_parent.row(),
                                                                source_parent.parent()):
            return True
        return super().filterAcceptsRow(source_row, source_parent)

    def lessThan(self, left: QModelIndex | QPersistentModelIndex,
                 right: QModelIndex | QPersistentModelIndex) -> bool:
        # Children without a value in the sort column (legs under a rule-distance sort) keep
        # their own order, whichever way the parents are sorted.
        a = left.data(SortRole)
        b = right.data(SortRole)
        if a is None and b is None and left.parent().isValid():
            ascending = self.sortOrder() == Qt.SortOrder.AscendingOrder
            return (left.row() < right.row()) == ascending
        return sort_less(a, b)


class _RowHeightDelegate(CellDelegate):
    """Rows as tall as the tables' (font height + 6 px), so docks side by side line up."""

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        height = option.fontMetrics.height() + 6
        cell = index.data(CellRole)
        if isinstance(cell, Cell):  # one line of text: measured without the styled path's roles
            return QSize(self.text_width(option, cell), height)
        hint = super().sizeHint(option, index)
        return QSize(hint.width(), max(hint.height(), height))


class KeyedTreeView(QTreeView):
    """Tree over ``model`` through its own :class:`TreeFilterProxy`; one parent per selection.

    Selecting a child selects within its parent: :meth:`current_row` is the parent's row object
    either way, :meth:`current_child` the child's. New parents open expanded while the tree holds
    at most ``auto_expand`` of them (a large book opens collapsed, one line per parent); a parent
    the trader collapsed stays collapsed while it updates. The view tells the model which parents
    it shows expanded, so only their children are signalled on change.
    """

    def __init__(self, model: KeyedTreeModel[Any, Any], object_name: str,
                 parent: QWidget | None = None, sort_column: str | None = None,
                 sort_order: Qt.SortOrder = Qt.SortOrder.AscendingOrder,
                 auto_expand: int = 30) -> None:
        super().__init__(parent)
        self.auto_expand = auto_expand
        self.source = model
        self.proxy = TreeFilterProxy(self)
        self.proxy.setSourceModel(model)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.setWordWrap(False)
        self.setUniformRowHeights(True)
        self.setAllColumnsShowFocus(True)
        self.setIndentation(14)
        self.setItemDelegate(_RowHeightDelegate(self))
        header = self.header()
        setup_keyed_view(self, header, object_name)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.apply_default_widths()
        self.proxy.rowsInserted.connect(self._expand_new)
        self.expanded.connect(lambda index: self._watch(index, True))
        self.collapsed.connect(lambda index: self._watch(index, False))
        if sort_column is not None:
            self.sortByColumn(model.column_index(sort_column), sort_order)
        else:
            header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)

    def dataChanged(self, top_left: QModelIndex | QPersistentModelIndex,
                    bottom_right: QModelIndex | QPersistentModelIndex,
                    roles: Sequence[int] = ()) -> None:
        """Repaint only the changed columns of a change over many rows.

        Why: for a range of rows and columns Qt's tree repaints its whole viewport, so a market
        refresh that moved the prices of every position repainted the columns that never move
        (number, symbol, strategy) too, and that paint held the event loop longest. A change
        that reaches the first column (whose branch decoration may change) or a single cell
        takes Qt's own path, as does every change while assistive technology listens (Qt's path
        tells it what changed)."""
        if (top_left.column() <= 0 or top_left == bottom_right or not self.isVisible()
                or QAccessible.isActive()):
            super().dataChanged(top_left, bottom_right, list(roles))
            return
        header = self.header()
        left, right = self.viewport().width(), 0
        for column in range(top_left.column(), bottom_right.column() + 1):
            if not header.isSectionHidden(column):
                x = header.sectionViewportPosition(column)
                left = min(left, x)
                right = max(right, x + header.sectionSize(column))
        if right > left:
            self.viewport().update(QRect(left, 0, right - left, self.viewport().height()))

    def _expand_new(self, parent: QModelIndex, first: int, last: int) -> None:
        if not parent.isValid() and self.proxy.rowCount() <= self.auto_expand:
            for row in range(first, last + 1):
                self.expand(self.proxy.index(row, 0))

    def _watch(self, index: QModelIndex, shown: bool) -> None:
        source = self.proxy.mapToSource(index)
        if source.isValid() and not source.parent().isValid():
            self.source.watch(source.data(KeyRole), shown)

    def horizontalHeader(self) -> QHeaderView:
        """The column header, named as on the table views so layouts treat both alike."""
        return self.header()

    def apply_default_widths(self) -> None:
        apply_widths(self, self.header(), self.source.columns)

    def _selected(self) -> QModelIndex | None:
        rows = self.selectionModel().selectedRows()
        return rows[0] if rows else None

    def current_row(self) -> Any:
        """The selected parent's row object (also when one of its children is selected)."""
        index = self._selected()
        if index is None:
            return None
        if index.parent().isValid():
            return index.data(ParentObjectRole)
        return index.data(RowObjectRole)

    def current_child(self) -> Any:
        """The selected child's row object, or None when a parent (or nothing) is selected."""
        index = self._selected()
        if index is None or not index.parent().isValid():
            return None
        return index.data(RowObjectRole)

    def selected_rows(self) -> list[Any]:
        row = self.current_row()
        return [] if row is None else [row]

    def selectRow(self, row: int) -> None:
        """Select the parent at view row ``row``."""
        index = self.proxy.index(row, 0)
        if index.isValid():
            select_keyed(self, index.data(KeyRole))

    def select_key(self, key: Hashable) -> bool:
        """Select and scroll to the parent with ``key``; False if it is not visible."""
        return select_keyed(self, key)
