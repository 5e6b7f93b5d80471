"""Editable table model over a strategy's legs, with drag-and-drop reordering.

The model is thin: it holds the tuple of frozen :class:`StrategyLeg` and replaces one leg per edit.
Moving rows remaps every ``reference_leg`` so LEG_OFFSET / WIDTH legs keep measuring from the same
leg after a reorder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from tastydesk.engine.domain.enums import ExpiryChoice, OptionType, SelectionMethod, Side
from tastydesk.engine.domain.strategy import StrategyLeg, StrikeSelection

LEG_ROWS_MIME = "application/x-tastydesk-leg-rows"
ErrorRole = Qt.ItemDataRole.UserRole + 40  # validation message for the cell, "" when valid

COL_INDEX, COL_TYPE, COL_SIDE, COL_METHOD, COL_VALUE, COL_REFERENCE, COL_RATIO, COL_EXPIRY, \
    COL_OFFSET = range(9)
HEADERS = ("#", "Type", "Side", "Strike by", "Value", "Ref leg", "Ratio", "Expiry", "+Days")
# Codec field name of each column, used to route validation paths ("legs[1].selection.value").
FIELDS = ("", "option_type", "side", "method", "value", "reference_leg", "ratio", "expiry",
          "expiry_offset_days")

METHOD_LABELS = {
    SelectionMethod.DELTA: "Delta",
    SelectionMethod.ATM: "At the money",
    SelectionMethod.OFFSET: "$ from spot",
    SelectionMethod.LEG_OFFSET: "$ from leg",
    SelectionMethod.PERCENT: "% from spot",
    SelectionMethod.PREMIUM: "Premium $",
    SelectionMethod.WIDTH: "Width $",
}
REFERENCE_METHODS = frozenset({SelectionMethod.LEG_OFFSET, SelectionMethod.WIDTH})

_Index = QModelIndex | QPersistentModelIndex


def format_value(method: SelectionMethod, value: Decimal) -> str:
    """How a strike-selection value reads for its method (the unit changes with the method)."""
    if method is SelectionMethod.ATM:
        return "-"
    if method is SelectionMethod.DELTA:
        return f"{value:.2f}Δ"
    if method is SelectionMethod.PERCENT:
        return f"{value:+.1f} %"
    if method in (SelectionMethod.OFFSET, SelectionMethod.LEG_OFFSET):
        sign = "-" if value < 0 else "+"
        return f"{sign}${abs(value):.2f}"
    return f"${value:.2f}"


def default_leg() -> StrategyLeg:
    return StrategyLeg(OptionType.PUT, Side.SELL,
                       StrikeSelection(SelectionMethod.DELTA, Decimal("0.30")))


def remap_reference(reference: int | None, mapping: dict[int, int]) -> int | None:
    """New index of a referenced leg after rows moved; ``None`` stays ``None``."""
    if reference is None:
        return None
    return mapping.get(reference, reference)


class LegTableModel(QAbstractTableModel):
    """One row per leg; every column editable through ``setData`` with plain Python values."""

    legs_changed = Signal()

    def __init__(self, legs: Sequence[StrategyLeg] = (), parent: Any = None) -> None:
        super().__init__(parent)
        self._legs: list[StrategyLeg] = list(legs)
        self._errors: dict[tuple[int, int], str] = {}

    # ---- Public API
    def legs(self) -> tuple[StrategyLeg, ...]:
        return tuple(self._legs)

    def set_legs(self, legs: Iterable[StrategyLeg]) -> None:
        self.beginResetModel()
        self._legs = list(legs)
        self._errors = {}
        self.endResetModel()

    def leg(self, row: int) -> StrategyLeg:
        return self._legs[row]

    def add_leg(self, leg: StrategyLeg | None = None) -> int:
        row = len(self._legs)
        self.beginInsertRows(QModelIndex(), row, row)
        self._legs.append(leg or default_leg())
        self.endInsertRows()
        self.legs_changed.emit()
        return row

    def remove_leg(self, row: int) -> None:
        """Remove a leg; references to later legs shift down, and a leg that measured from the
        removed one loses its reference, so validation names it instead of silently re-pointing."""
        if not 0 <= row < len(self._legs):
            raise IndexError(f"leg row {row} out of range 0..{len(self._legs) - 1}")
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._legs[row]
        mapping = {old: old - 1 for old in range(row + 1, len(self._legs) + 1)}
        self._legs = [self._with_reference(
            leg, None if leg.selection.reference_leg == row
            else remap_reference(leg.selection.reference_leg, mapping)) for leg in self._legs]
        self.endRemoveRows()
        self._emit_all_changed()
        self.legs_changed.emit()

    def move_leg(self, source: int, destination: int) -> bool:
        """Move one leg so it ends up at ``destination`` (an index in the resulting list)."""
        if source == destination:
            return False
        target = destination + 1 if destination > source else destination
        return self.moveRows(QModelIndex(), source, 1, QModelIndex(), target)

    def set_errors(self, errors: dict[tuple[int, int], str]) -> None:
        """Validation messages per (row, column); cells repaint with their red border."""
        changed = set(errors) | set(self._errors)
        self._errors = dict(errors)
        for row, col in changed:
            if row < len(self._legs):
                idx = self.index(row, col)
                self.dataChanged.emit(idx, idx, [ErrorRole, Qt.ItemDataRole.ToolTipRole])

    # ---- Qt overrides
    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._legs)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return HEADERS[section] if 0 <= section < len(HEADERS) else None
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Vertical:
            return str(section + 1)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        flags = (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                 | Qt.ItemFlag.ItemIsDragEnabled)
        leg = self._legs[index.row()]
        col = index.column()
        if col == COL_INDEX:
            return flags
        if col == COL_VALUE and leg.selection.method is SelectionMethod.ATM:
            return flags
        if col == COL_REFERENCE and leg.selection.method not in REFERENCE_METHODS:
            return flags
        if col == COL_OFFSET and leg.expiry is not ExpiryChoice.OFFSET:
            return flags
        return flags | Qt.ItemFlag.ItemIsEditable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._legs):
            return None
        leg = self._legs[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(leg, index.row(), col)
        if role == Qt.ItemDataRole.EditRole:
            return self._edit_value(leg, col)
        if role == ErrorRole:
            return self._errors.get((index.row(), col), "")
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._errors.get((index.row(), col)) or None
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_INDEX, COL_VALUE, COL_RATIO,
                                                                 COL_OFFSET, COL_REFERENCE):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        row, col = index.row(), index.column()
        if not 0 <= row < len(self._legs):
            return False
        try:
            leg = self._apply(self._legs[row], col, value)
        except (ValueError, InvalidOperation, TypeError):
            return False
        if leg == self._legs[row]:
            return True
        self._legs[row] = leg
        # A method change alters which sibling cells are editable and how the value reads.
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1))
        self.legs_changed.emit()
        return True

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [LEG_ROWS_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        rows = sorted({i.row() for i in indexes if i.isValid()})
        mime = QMimeData()
        mime.setData(LEG_ROWS_MIME, QByteArray(",".join(map(str, rows)).encode()))
        return mime

    def canDropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                        parent: _Index) -> bool:
        return action == Qt.DropAction.MoveAction and data.hasFormat(LEG_ROWS_MIME)

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                     parent: _Index) -> bool:
        """Move the dragged legs to the drop row.

        Returns False after moving on purpose: a True return makes the view remove the "source"
        rows itself, which would delete legs that were already moved.
        """
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        raw = bytes(data.data(LEG_ROWS_MIME).data()).decode()
        rows = [int(r) for r in raw.split(",") if r.strip().isdigit()]
        rows = [r for r in rows if 0 <= r < len(self._legs)]
        if not rows:
            return False
        if row < 0:
            row = parent.row() if parent.isValid() else len(self._legs)
        self._move_block(rows, row)
        return False

    def moveRows(self, source_parent: _Index, source_row: int, count: int,
                 destination_parent: _Index, destination_child: int) -> bool:
        if source_parent.isValid() or destination_parent.isValid() or count < 1:
            return False
        if source_row < 0 or source_row + count > len(self._legs):
            return False
        if not 0 <= destination_child <= len(self._legs):
            return False
        if source_row <= destination_child <= source_row + count:
            return False
        return self._move_block(list(range(source_row, source_row + count)), destination_child)

    # ---- internals
    def _move_block(self, rows: list[int], destination: int) -> bool:
        """Move ``rows`` (any set) before ``destination`` (a row of the current list)."""
        moving = set(rows)
        before = [r for r in range(len(self._legs)) if r not in moving and r < destination]
        after = [r for r in range(len(self._legs)) if r not in moving and r >= destination]
        order = before + sorted(moving) + after
        if order == list(range(len(self._legs))):
            return False
        mapping = {old: new for new, old in enumerate(order)}
        contiguous = sorted(moving) == list(range(min(moving), max(moving) + 1))
        if contiguous:
            first, last = min(moving), max(moving)
            if not self.beginMoveRows(QModelIndex(), first, last, QModelIndex(), destination):
                return False
        else:
            self.layoutAboutToBeChanged.emit()
        new_legs = [self._legs[old] for old in order]
        self._legs = [self._with_reference(leg, remap_reference(leg.selection.reference_leg,
                                                                 mapping))
                      for leg in new_legs]
        self._errors = {}
        if contiguous:
            self.endMoveRows()
        else:
            persistent = self.persistentIndexList()
            moved = [self.index(mapping.get(p.row(), p.row()), p.column()) for p in persistent]
            self.changePersistentIndexList(persistent, moved)
            self.layoutChanged.emit()
        self._emit_all_changed()
        self.legs_changed.emit()
        return True

    def _emit_all_changed(self) -> None:
        if self._legs:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self._legs) - 1, len(HEADERS) - 1))

    @staticmethod
    def _with_reference(leg: StrategyLeg, reference: int | None) -> StrategyLeg:
        if reference == leg.selection.reference_leg:
            return leg
        return dataclasses.replace(
            leg, selection=dataclasses.replace(leg.selection, reference_leg=reference))

    @staticmethod
    def _display(leg: StrategyLeg, row: int, col: int) -> str:
        sel = leg.selection
        if col == COL_INDEX:
            return str(row + 1)
        if col == COL_TYPE:
            return "Call" if leg.option_type is OptionType.CALL else "Put"
        if col == COL_SIDE:
            return "Buy" if leg.side is Side.BUY else "Sell"
        if col == COL_METHOD:
            return METHOD_LABELS[sel.method]
        if col == COL_VALUE:
            return format_value(sel.method, sel.value)
        if col == COL_REFERENCE:
            if sel.method not in REFERENCE_METHODS:
                return ""
            return "none" if sel.reference_leg is None else f"leg {sel.reference_leg + 1}"
        if col == COL_RATIO:
            return str(leg.ratio)
        if col == COL_EXPIRY:
            return "Strategy" if leg.expiry is ExpiryChoice.STRATEGY else "Offset"
        if col == COL_OFFSET:
            return f"{leg.expiry_offset_days:+d}d" if leg.expiry is ExpiryChoice.OFFSET else ""
        return ""

    @staticmethod
    def _edit_value(leg: StrategyLeg, col: int) -> Any:
        sel = leg.selection
        return {
            COL_INDEX: None,
            COL_TYPE: leg.option_type.value,
            COL_SIDE: leg.side.value,
            COL_METHOD: sel.method.value,
            COL_VALUE: float(sel.value),
            COL_REFERENCE: -1 if sel.reference_leg is None else sel.reference_leg,
            COL_RATIO: leg.ratio,
            COL_EXPIRY: leg.expiry.value,
            COL_OFFSET: leg.expiry_offset_days,
        }.get(col)

    @staticmethod
    def _apply(leg: StrategyLeg, col: int, value: Any) -> StrategyLeg:
        sel = leg.selection
        if col == COL_TYPE:
            return dataclasses.replace(leg, option_type=OptionType(str(value).lower()))
        if col == COL_SIDE:
            return dataclasses.replace(leg, side=Side(str(value).lower()))
        if col == COL_METHOD:
            method = SelectionMethod(str(value).lower())
            reference = sel.reference_leg if method in REFERENCE_METHODS else None
            return dataclasses.replace(leg, selection=StrikeSelection(method, sel.value, reference))
        if col == COL_VALUE:
            number = value if isinstance(value, Decimal) else Decimal(str(round(float(value), 4)))
            return dataclasses.replace(leg, selection=dataclasses.replace(sel, value=number))
        if col == COL_REFERENCE:
            reference = None if value is None or int(value) < 0 else int(value)
            return dataclasses.replace(leg, selection=dataclasses.replace(sel,
                                                                           reference_leg=reference))
        if col == COL_RATIO:
            return dataclasses.replace(leg, ratio=int(value))
        if col == COL_EXPIRY:
            choice = ExpiryChoice(str(value).lower())
            offset = leg.expiry_offset_days if choice is ExpiryChoice.OFFSET else 0
            return dataclasses.replace(leg, expiry=choice, expiry_offset_days=offset)
        if col == COL_OFFSET:
            return dataclasses.replace(leg, expiry_offset_days=int(value))
        raise ValueError(f"column {col} is not editable")
