"""A compact, sortable table view wired to a KeyedTableModel through a filter proxy."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from tastydesk.ui.models.base import KeyedTableModel, TableFilterProxy
from tastydesk.ui.models.roles import KeyRole, RowObjectRole


class KeyedTableView(QTableView):
    """Table over ``model`` (via its own :class:`TableFilterProxy`), one row per selection."""

    def __init__(self, model: KeyedTableModel[Any], object_name: str,
                 parent: QWidget | None = None, multi_select: bool = False,
                 sort_column: str | None = None,
                 sort_order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.source = model
        self.proxy = TableFilterProxy(self)
        self.proxy.setSourceModel(model)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setShowGrid(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection if multi_select
                              else QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vertical = self.verticalHeader()
        vertical.setVisible(False)
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 6)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.horizontalHeader()
        header.setObjectName(f"{object_name}.header")
        header.setHighlightSections(False)
        header.setSectionsMovable(True)
        header.setStretchLastSection(True)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.apply_default_widths()
        if sort_column is not None:
            self.sortByColumn(model.column_index(sort_column), sort_order)
        else:
            header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)

    def apply_default_widths(self) -> None:
        for i, column in enumerate(self.source.columns):
            if column.width:
                self.setColumnWidth(i, column.width)

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
        pos = self.source.position(key)
        if pos is None:
            return False
        index = self.proxy.mapFromSource(self.source.index(pos, 0))
        if not index.isValid():
            return False
        self.selectionModel().select(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.setCurrentIndex(index)
        self.scrollTo(index)
        return True
