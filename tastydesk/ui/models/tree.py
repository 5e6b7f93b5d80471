"""KeyedTreeModel: keyed frozen rows, each with its own child rows (a position and its legs).

Top-level rows behave like :class:`KeyedTableModel` rows: ``upsert`` signals only what really
changed. Children are derived from their parent row by a function, so they can never disagree
with it; a child's column may differ from the parent's (a leg has no rule distance) and then
reads as empty.

Children of a parent no view shows (a collapsed position) change without a signal: a quote
storm over hundreds of positions would otherwise cost the proxy and the tree one mapping pass
per parent per refresh. A view marks the parents it shows with :meth:`KeyedTreeModel.watch`;
watching a parent signals its children at once, so nothing on screen is ever stale.

Each child index carries a serial number of its parent key rather than the parent's position:
positions shift when rows are removed, serials never do, so persistent indexes of children stay
valid across removals.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractItemModel, QModelIndex, Qt

from tastydesk.ui.models.base import (
    ANSWERED_ROLES,
    AnyIndex,
    Cell,
    Column,
    changed_span,
    column_data,
)
from tastydesk.ui.models.keyed_rows import KeyedRows, runs
from tastydesk.ui.models.roles import CellRole, KeyRole, RowObjectRole

T = TypeVar("T")
C = TypeVar("C")

#: Role on a child index: the parent's row object (a leg's position).
ParentObjectRole = int(Qt.ItemDataRole.UserRole) + 40
_ANSWERED = ANSWERED_ROLES | {ParentObjectRole}

_TOP = 0  # internal id of top-level indexes; children carry their parent's serial (>= 1)


class KeyedTreeModel(QAbstractItemModel, Generic[T, C]):
    """Two-level read-only tree: rows keyed by ``key(row)``, children from ``children(row)``.

    ``child_columns`` maps a column key of ``columns`` to the column a child shows there;
    columns without an entry are empty on child rows. Child columns read ``(parent, child)``.
    The top-level rows and columns live in a :class:`KeyedRows`, the children and their
    serials here; the model signals around both.
    """

    def __init__(self, columns: Sequence[Column[T]], key: Callable[[T], Hashable],
                 children: Callable[[T], Sequence[C]],
                 child_columns: dict[str, Column[tuple[T, C]]],
                 parent: Any = None) -> None:
        super().__init__(parent)
        if not columns:
            raise ValueError("columns: a tree needs at least one column")
        unknown = set(child_columns) - {c.key for c in columns}
        if unknown:
            raise ValueError(f"child_columns: no parent column {sorted(unknown)}")
        self._table: KeyedRows[T] = KeyedRows(columns, key)
        self._child_columns = tuple(child_columns.get(c.key) for c in columns)
        self._children_of = children
        self._children: dict[Hashable, tuple[C, ...]] = {}
        self._serial: dict[Hashable, int] = {}
        self._by_serial: dict[int, Hashable] = {}
        self._next_serial = 1
        self._watched: set[Hashable] = set()

    # ---- Qt overrides
    def index(self, row: int, column: int, parent: AnyIndex = QModelIndex()) -> QModelIndex:
        table = self._table
        if column < 0 or column >= len(table.columns) or row < 0:
            return QModelIndex()
        if not parent.isValid():
            if row >= len(table.order):
                return QModelIndex()
            return self.createIndex(row, column, _TOP)
        if parent.internalId() != _TOP or parent.row() >= len(table.order):
            return QModelIndex()  # children have no children
        key = table.order[parent.row()]
        if row >= len(self._children[key]):
            return QModelIndex()
        return self.createIndex(row, column, self._serial[key])

    def parent(self, index: AnyIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid() or index.internalId() == _TOP:
            return QModelIndex()
        key = self._by_serial.get(index.internalId())
        pos = None if key is None else self._table.positions.get(key)
        if pos is None:
            return QModelIndex()
        return self.createIndex(pos, 0, _TOP)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        order = self._table.order
        if not parent.isValid():
            return len(order)
        if parent.internalId() != _TOP or parent.column() != 0:
            return 0
        if parent.row() >= len(order):
            return 0
        return len(self._children[order[parent.row()]])

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return len(self._table.columns)

    def hasChildren(self, parent: AnyIndex = QModelIndex()) -> bool:
        return self.rowCount(parent) > 0

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ANSWERED or not index.isValid():
            return None
        table = self._table
        if index.internalId() == _TOP:
            if index.row() >= len(table.order):
                return None
            key = table.order[index.row()]
            if role == RowObjectRole:
                return table.by_key[key]
            if role == KeyRole:
                return key
            return column_data(table.columns[index.column()], table.by_key[key], role)
        key = self._by_serial.get(index.internalId())
        if key is None or key not in table.by_key:
            return None
        parent_row = table.by_key[key]
        kids = self._children[key]
        if index.row() >= len(kids):
            return None
        if role == RowObjectRole:
            return kids[index.row()]
        if role == ParentObjectRole:
            return parent_row
        if role == KeyRole:
            return key
        column = self._child_columns[index.column()]
        if column is None:
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(table.columns[index.column()].align)
            if role == CellRole:
                return Cell(None, int(table.columns[index.column()].align))
            return None
        return column_data(column, (parent_row, kids[index.row()]), role)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return self._table.header_data(section, orientation, role)

    # ---- Public API: lookups (flags are Qt's own, no call into Python per painted cell)
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

    def children(self, key: Hashable) -> tuple[C, ...]:
        return self._children.get(key, ())

    # ---- Public API: changes
    def upsert(self, rows: Iterable[T]) -> int:
        """Insert new rows, replace changed ones (and their children); returns how many."""
        table = self._table
        changed: list[int] = []
        pairs: list[tuple[T, T]] = []
        new: dict[Hashable, T] = {}
        for row in rows:
            key = table.key_of(row)
            pos = table.positions.get(key)
            if pos is None:
                new[key] = row
                continue
            previous = table.by_key[key]
            if previous == row:
                continue
            table.replace(key, row)
            changed.append(pos)
            pairs.append((previous, row))
            self._replace_children(key, pos, tuple(self._children_of(row)))
        # The span of the columns that changed, one signal per run of rows (each signal costs
        # the proxy and the view a pass over its rows): the key column never changes, so the
        # tree need not re-check every changed parent's children, and a view sorted by a column
        # outside the span is not re-sorted.
        span = changed_span(table.columns, pairs) if pairs else None
        if span is not None:
            for start, end in runs(sorted(changed)):
                self.dataChanged.emit(self.index(start, span[0]), self.index(end, span[1]))
        if new:
            first = len(table.order)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for key, row in new.items():
                table.append(key, row)
                self._children[key] = tuple(self._children_of(row))
                self._serial[key] = self._next_serial
                self._by_serial[self._next_serial] = key
                self._next_serial += 1
            self.endInsertRows()
        return len(changed) + len(new)

    def sync(self, rows: Iterable[T]) -> None:
        """Make the model hold exactly ``rows``: remove missing keys, then upsert the rest."""
        rows = list(rows)
        self.remove(self._table.missing(rows))
        self.upsert(rows)

    def remove(self, keys: Iterable[Hashable]) -> int:
        """Remove rows (and their children) by key, unknown keys ignored; returns how many."""
        removed = 0
        for start, end in self._table.removal_runs(keys):
            self.beginRemoveRows(QModelIndex(), start, end)
            for key in self._table.drop(start, end):
                del self._children[key]
                del self._by_serial[self._serial.pop(key)]
                self._watched.discard(key)
                removed += 1
            self.endRemoveRows()
        return removed

    def watch(self, key: Hashable, shown: bool) -> None:
        """Mark whether a view shows ``key``'s children (only those are signalled on change)."""
        if not shown:
            self._watched.discard(key)
            return
        if key in self._watched:
            return
        self._watched.add(key)
        pos = self._table.position(key)
        kids = self._children.get(key, ())
        if pos is not None and kids:  # they may have changed silently while hidden
            parent = self.createIndex(pos, 0, _TOP)
            self.dataChanged.emit(self.index(0, 0, parent),
                                  self.index(len(kids) - 1, len(self._table.columns) - 1, parent))

    def _replace_children(self, key: Hashable, pos: int, kids: tuple[C, ...]) -> None:
        old = self._children[key]
        parent = self.createIndex(pos, 0, _TOP)
        if len(old) == len(kids):
            self._children[key] = kids
            if key in self._watched and kids and old != kids:
                self.dataChanged.emit(self.index(0, 0, parent),
                                      self.index(len(kids) - 1, len(self._table.columns) - 1,
                                                 parent))
            return
        if old:
            self.beginRemoveRows(parent, 0, len(old) - 1)
            self._children[key] = ()
            self.endRemoveRows()
        if kids:
            self.beginInsertRows(parent, 0, len(kids) - 1)
            self._children[key] = kids
            self.endInsertRows()
