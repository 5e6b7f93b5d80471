"""KeyedTableModel: a Qt table adapter over frozen rows keyed by id, and its filter proxy.

Rows are immutable snapshots from the engine. ``upsert`` compares each incoming row with the one
held and signals only the rows that really changed, grouped into contiguous runs, so a stream of
market-driven refreshes repaints a few cells instead of the whole view.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from tastydesk.ui.models.keyed_rows import KeyedRows, runs
from tastydesk.ui.models.roles import CellRole, KeyRole, RowObjectRole, SortRole, ValueRole

T = TypeVar("T")
AnyIndex = QModelIndex | QPersistentModelIndex

LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
CENTER = Qt.AlignmentFlag.AlignCenter
TIME_WIDTH = 166  # a timestamp column: "2026-01-05 14:54:45 ET" and the sort arrow


def _text(value: object) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Column(Generic[T]):
    """How one column reads, shows, sorts and explains a row."""

    key: str
    header: str
    value: Callable[[T], Any]
    fmt: Callable[[Any], str] = _text
    sort_key: Callable[[T], Any] | None = None
    align: Qt.AlignmentFlag = LEFT
    tooltip: Callable[[T], str] | None = None
    header_tip: str = ""
    width: int = 0  # preferred initial width in pixels (0: let the view decide)
    # Display text from the whole row, when the text needs more than ``value`` (a bar's label).
    text: Callable[[T], str] | None = None


@dataclass(frozen=True, slots=True)
class Cell:
    """What a delegate paints: the display text, its alignment and the raw value (a P&L colour
    or a progress bar is drawn from it). ``text`` None: the cell has no text at all (a column a
    child row leaves empty), which measures narrower than an empty text."""

    text: str | None
    align: int
    value: Any = None


#: The roles a keyed model answers. A view asks each painted cell for a dozen roles (font,
#: colours, check state, decoration...); the rest are refused before any lookup, since painting
#: a full table calls ``data`` thousands of times.
ANSWERED_ROLES = frozenset({int(Qt.ItemDataRole.DisplayRole), int(Qt.ItemDataRole.ToolTipRole),
                            int(Qt.ItemDataRole.TextAlignmentRole), RowObjectRole, SortRole,
                            ValueRole, KeyRole, CellRole})


def column_data(column: Column[Any], row: Any, role: int) -> Any:
    """A cell's display text, sort key, value, alignment, tooltip or :class:`Cell` (None for
    other roles)."""
    if role == CellRole:
        value = column.value(row)
        text = column.text(row) if column.text is not None else column.fmt(value)
        return Cell(text, int(column.align), value)
    if role == Qt.ItemDataRole.DisplayRole:
        if column.text is not None:
            return column.text(row)
        return column.fmt(column.value(row))
    if role == SortRole:
        return column.sort_key(row) if column.sort_key is not None else column.value(row)
    if role == ValueRole:
        return column.value(row)
    if role == Qt.ItemDataRole.TextAlignmentRole:
        return int(column.align)
    if role == Qt.ItemDataRole.ToolTipRole:
        return column.tooltip(row) if column.tooltip is not None else None
    return None


class KeyedTableModel(QAbstractTableModel, Generic[T]):
    """Read-only table over frozen rows; rows are identified by ``key(row)``.

    The rows and columns live in a :class:`KeyedRows`; the model signals around its changes.
    Flags are Qt's own (enabled and selectable), answered without a call into Python per
    painted cell."""

    def __init__(self, columns: Sequence[Column[T]], key: Callable[[T], Hashable],
                 parent: Any = None) -> None:
        super().__init__(parent)
        if not columns:
            raise ValueError("columns: a table needs at least one column")
        self._table: KeyedRows[T] = KeyedRows(columns, key)

    # ---- Qt overrides
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._table.order)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._table.columns)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        table = self._table
        if role not in ANSWERED_ROLES or not index.isValid() or index.row() >= len(table.order):
            return None
        key = table.order[index.row()]
        if role == RowObjectRole:
            return table.by_key[key]
        if role == KeyRole:
            return key
        return column_data(table.columns[index.column()], table.by_key[key], role)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return self._table.header_data(section, orientation, role)

    # ---- Public API: lookups
    @property
    def columns(self) -> tuple[Column[T], ...]:
        return self._table.columns

    def column_index(self, key: str) -> int:
        return self._table.column_index(key)

    def keys(self) -> list[Hashable]:
        return self._table.keys()

    def rows(self) -> list[T]:
        return self._table.rows()

    def row(self, key: Hashable) -> T | None:
        return self._table.row(key)

    def position(self, key: Hashable) -> int | None:
        return self._table.position(key)

    def row_at(self, position: int) -> T:
        return self._table.by_key[self._table.order[position]]

    # ---- Public API: changes
    def upsert(self, rows: Iterable[T]) -> int:
        """Insert new rows, replace changed ones; returns how many rows changed or were added."""
        table = self._table
        changed: list[int] = []
        new: list[tuple[Hashable, T]] = []
        for row in rows:
            key = table.key_of(row)
            pos = table.positions.get(key)
            if pos is None:
                new.append((key, row))
            elif table.by_key[key] != row:
                table.replace(key, row)
                changed.append(pos)
        for start, end in runs(sorted(changed)):
            self.dataChanged.emit(self.index(start, 0),
                                  self.index(end, len(table.columns) - 1))
        if new:
            # A key repeated inside one batch keeps its last row.
            unique: dict[Hashable, T] = dict(new)
            first = len(table.order)
            self.beginInsertRows(QModelIndex(), first, first + len(unique) - 1)
            for key, row in unique.items():
                table.append(key, row)
            self.endInsertRows()
            return len(changed) + len(unique)
        return len(changed)

    def sync(self, rows: Iterable[T]) -> None:
        """Make the model hold exactly ``rows``: remove missing keys, then upsert the rest."""
        rows = list(rows)
        self.remove(self._table.missing(rows))
        self.upsert(rows)

    def remove(self, keys: Iterable[Hashable]) -> int:
        """Remove rows by key (unknown keys are ignored); returns how many were removed."""
        removed = 0
        for start, end in self._table.removal_runs(keys):
            self.beginRemoveRows(QModelIndex(), start, end)
            removed += len(self._table.drop(start, end))
            self.endRemoveRows()
        return removed

    def reset(self, rows: Iterable[T]) -> None:
        """Replace everything (a full resync, e.g. after a reconnect)."""
        self.beginResetModel()
        self._table.reset(rows)
        self.endResetModel()

    def refresh_column(self, key: str) -> None:
        """Signal that one column's display changed for every row (e.g. a time-based age)."""
        if self._table.order:
            col = self.column_index(key)
            self.dataChanged.emit(self.index(0, col), self.index(len(self._table.order) - 1, col))


def changed_span(columns: Sequence[Column[Any]],
                 pairs: Iterable[tuple[Any, Any]]) -> tuple[int, int] | None:
    """The first and last position of the columns whose value or display text differs in any of
    the ``(old, new)`` row pairs (None: none differs). Only that span is signalled, so a price
    tick neither repaints a row's other cells nor re-sorts a view sorted by a column outside it.
    Only columns outside the span found so far are compared on the next rows, so a batch of
    hundreds of rows costs little more than its first few."""
    pending = list(enumerate(columns))
    low = high = -1
    for old, new in pairs:
        for i, column in pending:
            if column.value(old) != column.value(new) or (
                    column.text is not None and column.text(old) != column.text(new)):
                low = i if low < 0 else min(low, i)
                high = max(high, i)
        if low >= 0:
            pending = [(i, c) for i, c in pending if i < low or i > high]
        if not pending:
            break
    return None if low < 0 else (low, high)


class TableFilterProxy(QSortFilterProxyModel):
    """Sorts by :data:`SortRole` with Python comparison and filters on text and a predicate."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._predicate: Callable[[Any], bool] | None = None
        self.setSortRole(SortRole)
        self.setDynamicSortFilter(True)

    def set_text(self, text: str) -> None:
        """Keep rows where any column's displayed text contains ``text`` (case-insensitive)."""
        self._text = text.strip().lower()
        self.invalidateFilter()

    def set_predicate(self, predicate: Callable[[Any], bool] | None) -> None:
        """Keep rows whose row object satisfies ``predicate`` (None: all rows)."""
        self._predicate = predicate
        self.invalidateFilter()

    @property
    def text(self) -> str:
        return self._text

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        model = self.sourceModel()
        if self._predicate is not None:
            obj = model.data(model.index(source_row, 0, source_parent), RowObjectRole)
            if obj is not None and not self._predicate(obj):
                return False
        if not self._text:
            return True
        for col in range(model.columnCount(source_parent)):
            text = model.data(model.index(source_row, col, source_parent),
                              Qt.ItemDataRole.DisplayRole)
            if text and self._text in str(text).lower():
                return True
        return False

    def lessThan(self, left: AnyIndex, right: AnyIndex) -> bool:
        return sort_less(left.data(SortRole), right.data(SortRole))


def sort_less(a: Any, b: Any) -> bool:
    """Python ordering for sort values: None first; mismatched types fall back to their text."""
    if a is None or b is None:
        return a is None and b is not None
    try:
        return bool(a < b)
    except TypeError:
        return str(a) < str(b)
