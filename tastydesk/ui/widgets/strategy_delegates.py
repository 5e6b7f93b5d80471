"""Cell editors for the strategy builder's leg and rule tables.

The strike-selection value editor changes with the leg's method: delta 0..1, signed $ offset,
signed %, premium $ or width $; the reference-leg editor lists the other legs. Cells carrying a
validation message get a red border (the message is the cell's tooltip).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QSpinBox,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from tastydesk.engine.domain.enums import (
    DeltaScope,
    ExpiryChoice,
    OptionType,
    RuleType,
    SelectionMethod,
    Side,
)
from tastydesk.ui.models import legs as L
from tastydesk.ui.models import rules as R

ERROR_COLOR = QColor("#d32f2f")
_Index = QModelIndex | QPersistentModelIndex


def value_range(method: SelectionMethod) -> tuple[float, float, int, str, str, str]:
    """(minimum, maximum, decimals, prefix, suffix, meaning) of the value for a method."""
    return {
        SelectionMethod.DELTA: (0.0, 1.0, 2, "", " Δ", "absolute delta of the strike, 0 to 1"),
        SelectionMethod.ATM: (0.0, 0.0, 0, "", "", "not used: the strike nearest the spot"),
        SelectionMethod.OFFSET: (-10000.0, 10000.0, 2, "$", "",
                                 "$ from spot: positive above, negative below"),
        SelectionMethod.LEG_OFFSET: (-10000.0, 10000.0, 2, "$", "",
                                     "$ from the reference leg's strike, signed"),
        SelectionMethod.PERCENT: (-99.9, 99.9, 1, "", " %",
                                  "% from spot: positive above, negative below"),
        SelectionMethod.PREMIUM: (0.0, 10000.0, 2, "$", "", "target mid price of the option"),
        SelectionMethod.WIDTH: (0.0, 10000.0, 2, "$", "",
                                "$ further out of the money than the reference leg"),
    }[method]


def paint_error_border(painter: QPainter, option: QStyleOptionViewItem, index: _Index,
                       role: int) -> None:
    if index.data(role):
        painter.save()
        pen = QPen(ERROR_COLOR)
        pen.setWidth(2)
        painter.setPen(pen)
        painter.drawRect(option.rect.adjusted(1, 1, -1, -1))
        painter.restore()


def _combo(parent: QWidget, items: list[tuple[str, Any]]) -> QComboBox:
    combo = QComboBox(parent)
    for label, value in items:
        combo.addItem(label, value)
    return combo


class _EditRoleDelegate(QStyledItemDelegate):
    """Editors read and write the model's EditRole value (the same for legs and rules)."""

    def setEditorData(self, editor: QWidget, index: _Index) -> None:
        _set_editor(editor, index.data(Qt.ItemDataRole.EditRole))

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: _Index) -> None:
        model.setData(index, _editor_value(editor), Qt.ItemDataRole.EditRole)


class LegDelegate(_EditRoleDelegate):
    """Editors for :class:`~tastydesk.ui.models.legs.LegTableModel` cells."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        super().paint(painter, option, index)
        paint_error_border(painter, option, index, L.ErrorRole)

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem,
                     index: _Index) -> QWidget | None:
        model = index.model()
        col = index.column()
        leg = model.leg(index.row()) if isinstance(model, L.LegTableModel) else None
        if col == L.COL_TYPE:
            return _combo(parent, [("Call", OptionType.CALL.value), ("Put", OptionType.PUT.value)])
        if col == L.COL_SIDE:
            return _combo(parent, [("Buy", Side.BUY.value), ("Sell", Side.SELL.value)])
        if col == L.COL_METHOD:
            return _combo(parent, [(label, m.value) for m, label in L.METHOD_LABELS.items()])
        if col == L.COL_EXPIRY:
            return _combo(parent, [("Strategy", ExpiryChoice.STRATEGY.value),
                                   ("Offset", ExpiryChoice.OFFSET.value)])
        if col == L.COL_REFERENCE:
            # A leg measures from an earlier leg only (the engine resolves legs in order).
            items = [("none", -1)] + [(f"leg {i + 1}", i) for i in range(index.row())]
            return _combo(parent, items)
        if col == L.COL_VALUE and leg is not None:
            lo, hi, decimals, prefix, suffix, meaning = value_range(leg.selection.method)
            spin = QDoubleSpinBox(parent)
            spin.setRange(lo, hi)
            spin.setDecimals(decimals)
            spin.setSingleStep(0.05 if leg.selection.method is SelectionMethod.DELTA else 1.0)
            spin.setPrefix(prefix)
            spin.setSuffix(suffix)
            spin.setToolTip(meaning)
            return spin
        if col in (L.COL_RATIO, L.COL_OFFSET):
            spin = QSpinBox(parent)
            if col == L.COL_RATIO:
                spin.setRange(1, 100)
            else:
                spin.setRange(0, 730)
                spin.setSuffix(" d")
            return spin
        return None


class RuleDelegate(_EditRoleDelegate):
    """Editors for :class:`~tastydesk.ui.models.rules.RuleTableModel` cells."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        super().paint(painter, option, index)
        paint_error_border(painter, option, index, L.ErrorRole)

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem,
                     index: _Index) -> QWidget | None:
        col = index.column()
        if col == R.COL_TYPE:
            return _combo(parent, [(label, t.value) for t, label in R.RULE_LABELS.items()])
        if col == R.COL_ACTION:
            return _combo(parent, [(label, a.value) for a, label in R.ACTION_LABELS.items()])
        if col == R.COL_SCOPE:
            return _combo(parent, [("Short leg", DeltaScope.SHORT_LEG.value),
                                   ("Position", DeltaScope.POSITION.value)])
        if col == R.COL_CLOSE_PCT:
            return _combo(parent, [("25 %", 25), ("50 %", 50), ("75 %", 75)])
        if col == R.COL_THRESHOLD:
            rule_type = RuleType(str(index.siblingAtColumn(R.COL_TYPE)
                                     .data(Qt.ItemDataRole.EditRole)))
            spin = QDoubleSpinBox(parent)
            if rule_type is RuleType.DELTA_BREACH:
                spin.setRange(0.0, 1.0)
                spin.setDecimals(2)
                spin.setSingleStep(0.05)
            elif rule_type in (RuleType.TIME_EXIT, RuleType.ROLL):
                spin.setRange(0, 730)
                spin.setDecimals(0)
                spin.setSuffix(" DTE")
            elif rule_type in R.DAY_RULES:
                spin.setRange(0, 365)
                spin.setDecimals(0)
                spin.setSuffix(" days")
            else:
                spin.setRange(0, 10000)
                spin.setDecimals(0)
                spin.setSingleStep(5)
                spin.setSuffix(" %")
            spin.setToolTip(R.THRESHOLD_UNITS[rule_type])
            return spin
        if col in (R.COL_HOLD_EVALS, R.COL_HOLD_SECONDS):
            spin = QSpinBox(parent)
            if col == R.COL_HOLD_EVALS:
                spin.setRange(1, 1000)
            else:
                spin.setRange(0, 86400)
                spin.setSuffix(" s")
            return spin
        return None


def _set_editor(editor: QWidget, value: Any) -> None:
    if isinstance(editor, QComboBox):
        i = editor.findData(value)
        editor.setCurrentIndex(max(i, 0))
    elif isinstance(editor, QDoubleSpinBox):
        editor.setValue(float(value or 0))
    elif isinstance(editor, QSpinBox):
        editor.setValue(int(value or 0))


def _editor_value(editor: QWidget) -> Any:
    if isinstance(editor, QComboBox):
        return editor.currentData()
    if isinstance(editor, QDoubleSpinBox):
        return round(editor.value(), editor.decimals())
    if isinstance(editor, QSpinBox):
        return editor.value()
    return None
