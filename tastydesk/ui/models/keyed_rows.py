"""KeyedRows: the keyed rows and the columns a keyed model shows, without any Qt signalling.

A table and a tree over frozen rows keep the same state: the column definitions, the keys in
display order, the row held per key, each key's position and the function that keys a row.
Both models hold one of these and keep their own Qt signalling (inserts, removals,
``dataChanged``) around its mutations, so the state and its lookups are written once and can be
checked without a view.

The containers are plain public attributes because a model's ``data`` reads them for every
painted cell: an attribute read there, not a method call.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from PySide6.QtCore import Qt

if TYPE_CHECKING:
    from tastydesk.ui.models.base import Column

T = TypeVar("T")


class KeyedRows(Generic[T]):
    """Rows keyed by ``key(row)`` in display order, with the columns that show them."""

    __slots__ = ("by_key", "columns", "key_of", "order", "positions")

    def __init__(self, columns: Sequence[Column[T]], key: Callable[[T], Hashable]) -> None:
        self.columns: tuple[Column[T], ...] = tuple(columns)
        self.key_of = key
        self.order: list[Hashable] = []  # keys in display order
        self.by_key: dict[Hashable, T] = {}
        self.positions: dict[Hashable, int] = {}

    # ---- lookups (no side effects)
    def column_index(self, key: str) -> int:
        for i, column in enumerate(self.columns):
            if column.key == key:
                return i
        raise KeyError(f"no column {key!r}")

    def keys(self) -> list[Hashable]:
        return list(self.order)

    def rows(self) -> list[T]:
        return [self.by_key[k] for k in self.order]

    def row(self, key: Hashable) -> T | None:
        return self.by_key.get(key)

    def position(self, key: Hashable) -> int | None:
        return self.positions.get(key)

    def __len__(self) -> int:
        return len(self.order)

    def missing(self, wanted: Iterable[T]) -> list[Hashable]:
        """The keys held that none of ``wanted`` rows has (what a sync to them removes)."""
        keep = {self.key_of(r) for r in wanted}
        return [k for k in self.order if k not in keep]

    def removal_runs(self, keys: Iterable[Hashable]) -> list[tuple[int, int]]:
        """The contiguous position runs of the held ``keys``, last first, so removing them in
        this order leaves the earlier runs' positions valid (unknown keys are ignored)."""
        positions = sorted({self.positions[k] for k in keys if k in self.positions})
        return list(reversed(list(runs(positions))))

    def header_data(self, section: int, orientation: Qt.Orientation, role: int) -> Any:
        """A horizontal header's text, tooltip or alignment (None for anything else)."""
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].header
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.columns[section].header_tip or None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(self.columns[section].align)
        return None

    # ---- mutations (the owning model signals around them)
    def append(self, key: Hashable, row: T) -> None:
        """Add a row for a key not held yet, at the end."""
        self.positions[key] = len(self.order)
        self.order.append(key)
        self.by_key[key] = row

    def replace(self, key: Hashable, row: T) -> None:
        """Hold ``row`` for a key already held (its position is unchanged)."""
        self.by_key[key] = row

    def drop(self, start: int, end: int) -> list[Hashable]:
        """Remove the rows at positions ``start..end`` (inclusive); returns their keys.
        Positions are right when this returns, before the view hears of the removal."""
        dropped = self.order[start:end + 1]
        for key in dropped:
            del self.by_key[key]
        del self.order[start:end + 1]
        self.positions = {k: i for i, k in enumerate(self.order)}
        return dropped

    def reset(self, rows: Iterable[T]) -> None:
        """Hold exactly ``rows`` in their order; a key repeated keeps its first place and its
        last row."""
        self.order = []
        self.by_key = {}
        for row in rows:
            key = self.key_of(row)
            if key not in self.by_key:
                self.order.append(key)
            self.by_key[key] = row
        self.positions = {k: i for i, k in enumerate(self.order)}


def runs(positions: Sequence[int]) -> Iterable[tuple[int, int]]:
    """Group sorted, distinct row positions into contiguous ``(start, end)`` runs."""
    start = prev = None
    for p in positions:
        if start is None:
            start = prev = p
        elif p == prev + 1:
            prev = p
        else:
            yield start, prev
            start = prev = p
    if start is not None:
        yield start, prev
