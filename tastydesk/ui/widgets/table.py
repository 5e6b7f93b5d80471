"""A compact, sortable table view wired to a KeyedTableModel through a filter proxy."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from tastydesk.ui.models.base import Column, KeyedTableModel, TableFilterProxy
from tastydesk.ui.models.roles import KeyRole, RowObjectRole
from tastydesk.ui.widgets.delegates import CellDelegate


def setup_keyed_view(view: QAbstractItemView, header: QHeaderView, object_name: str,
                     multi_select: bool = False) -> None:
    """The look and behaviour every keyed view shares (table or tree): read-only rows selected
    whole, sortable, movable columns; the header is named so layouts save its state."""
    view.setObjectName(object_name)
    view.setAlternatingRowColors(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection if multi_select
                          else QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    header.setObjectName(f"{object_name}.header")
    header.setHighlightSections(False)
    header.setSectionsMovable(True)
    header.setStretchLastSection(True)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)


class KeyedTableView(QTableView):
    """Table over ``model`` (via its own :class:`TableFilterProxy`), one row per selection."""

    def __init__(self, model: KeyedTableModel[Any], object_name: str,
                 parent: QWidget | None = None, multi_select: bool = False,
                 sort_column: str | None = None,
                 sort_order: Qt.SortOrder = Qt.SortOrder.AscendingOrder,
                 empty_text: str = "") -> None:
        super().__init__(parent)
        self.source = model
        # What the table says while it has no row, so an empty pane reads as a state (nothing
        # yet, or a filter hiding every row) rather than as something that failed to load.
        self.empty_text = empty_text
        self.proxy = TableFilterProxy(self)
        self.proxy.setSourceModel(model)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.setWordWrap(False)
        self.setShowGrid(False)
        self.setItemDelegate(CellDelegate(self))
        setup_keyed_view(self, self.horizontalHeader(), object_name, multi_select)
        vertical = self.verticalHeader()
        vertical.setVisible(False)
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 6)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.horizontalHeader()
        self.apply_default_widths()
        if sort_column is not None:
            self.sortByColumn(model.column_index(sort_column), sort_order)
        else:
            header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)

    def apply_default_widths(self) -> None:
        apply_widths(self, self.horizontalHeader(), self.source.columns)

    def shown_empty_text(self) -> str:
        """The note drawn over the empty table now ("" while it shows rows)."""
        if self.proxy.rowCount() > 0 or not self.empty_text:
            return ""
        return self.empty_text if self.source.rowCount() == 0 else "No row matches the filter."

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        text = self.shown_empty_text()
        if text:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.viewport().rect().adjusted(12, 10, -12, -10),
                             int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
                                 | Qt.TextFlag.TextWordWrap), text)
            painter.end()

    def selected_rows(self) -> list[Any]:
        """Row objects of the selected rows, in view order."""
        rows = sorted(self.selectionModel().selectedRows(), key=lambda ix: ix.row())
        return [ix.data(RowObjectRole) for ix in rows]

    def selected_keys(self) -> list[Hashable]:
        rows = sorted(self.selectionModel().selectedRows(), key=lambda ix: ix.row())
        return [ix.data(KeyRole) for ix in rows]

    def current_row(self) -> Any:
        index = self.currentIndex()
        if not index.isValid() or not self.selectionModel().isRowSelected(index.row()):
            rows = self.selected_rows()
            return rows[0] if rows else None
        return index.data(RowObjectRole)

    def select_key(self, key: Hashable) -> bool:
        """Select and scroll to the row with ``key``; False if it is not visible."""
        return select_keyed(self, key)


#: Room a header needs beside its text: the style sheet's padding (4 px left, 14 px right, where
#: the sort arrow is drawn) and a little air.
HEADER_ROOM = 24


def header_width(header: QHeaderView, title: str) -> int:
    """The narrowest section that shows ``title`` whole next to the sort arrow."""
    return header.fontMetrics().horizontalAdvance(title) + HEADER_ROOM


def apply_widths(view: Any, header: QHeaderView, columns: Sequence[Column[Any]]) -> None:
    """Each column's preferred width, never narrower than its header title and sort arrow."""
    for i, column in enumerate(columns):
        if column.width:
            view.setColumnWidth(i, max(column.width, header_width(header, column.header)))


def select_keyed(view: Any, key: Hashable) -> bool:
    """Select and scroll to ``view``'s row for ``key`` (through its proxy); False if hidden."""
    pos = view.source.position(key)
    if pos is None:
        return False
    index = view.proxy.mapFromSource(view.source.index(pos, 0))
    if not index.isValid():
        return False
    view.selectionModel().select(
        index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        | QItemSelectionModel.SelectionFlag.Rows)
    view.setCurrentIndex(index)
    view.scrollTo(index)
    return True
