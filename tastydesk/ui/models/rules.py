"""Editable table model over a strategy's management rules.

Row order is the evaluation priority: the first row has priority 1 and wins when several rules
trigger at once, so moving a row up or down renumbers every rule's ``priority``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from tastydesk.engine.domain.enums import DeltaScope, RuleAction, RuleType
from tastydesk.engine.domain.strategy import ManagementRule
from tastydesk.ui.models.legs import ErrorRole

COL_ENABLED, COL_PRIORITY, COL_TYPE, COL_THRESHOLD, COL_ACTION, COL_CLOSE_PCT, COL_SCOPE, \
    COL_HOLD_EVALS, COL_HOLD_SECONDS, COL_AUTO = range(10)
HEADERS = ("On", "Prio", "Rule", "Threshold", "Action", "Close %", "Delta of", "Hold evals",
           "Hold s", "Auto")
FIELDS = ("enabled", "priority", "rule_type", "threshold", "action", "close_pct", "delta_scope",
          "hold_evaluations", "hold_seconds", "auto")
_CHECK_COLUMNS = (COL_ENABLED, COL_AUTO)

RULE_LABELS = {
    RuleType.PROFIT_TARGET: "Profit target",
    RuleType.STOP_LOSS: "Stop loss",
    RuleType.TIME_EXIT: "Time exit",
    RuleType.DELTA_BREACH: "Delta breach",
    RuleType.PARTIAL_CLOSE: "Partial close",
    RuleType.ROLL: "Roll",
    RuleType.EXPIRATION_RISK: "Expiration risk",
    RuleType.EX_DIVIDEND: "Ex-dividend",
}
ACTION_LABELS = {
    RuleAction.CLOSE: "Close",
    RuleAction.PARTIAL_CLOSE: "Partial close",
    RuleAction.ROLL: "Roll",
    RuleAction.ALERT: "Alert",
}
# Unit of the threshold per rule type, shown next to the number. Profit and stop thresholds
# are measured against the credit actually received (the debit paid, for a debit trade).
CREDIT_RECEIVED = "% of credit received"
THRESHOLD_UNITS = {
    RuleType.PROFIT_TARGET: CREDIT_RECEIVED,
    RuleType.STOP_LOSS: f"loss, {CREDIT_RECEIVED}",
    RuleType.TIME_EXIT: "DTE",
    RuleType.DELTA_BREACH: "|Δ|",
    RuleType.PARTIAL_CLOSE: CREDIT_RECEIVED,
    RuleType.ROLL: "DTE",
    RuleType.EXPIRATION_RISK: "days left",
    RuleType.EX_DIVIDEND: "days to ex-date",
}
#: Rules whose threshold counts days (shown "1 day left", "3 days left").
DAY_RULES = frozenset({RuleType.EXPIRATION_RISK, RuleType.EX_DIVIDEND})
# A sensible starting rule for each type, used when the user adds one.
DEFAULT_RULES = {
    RuleType.PROFIT_TARGET: ManagementRule(RuleType.PROFIT_TARGET, Decimal("50")),
    RuleType.STOP_LOSS: ManagementRule(RuleType.STOP_LOSS, Decimal("200")),
    RuleType.TIME_EXIT: ManagementRule(RuleType.TIME_EXIT, Decimal("21")),
    RuleType.DELTA_BREACH: ManagementRule(RuleType.DELTA_BREACH, Decimal("0.40"),
                                          RuleAction.ALERT),
    RuleType.PARTIAL_CLOSE: ManagementRule(RuleType.PARTIAL_CLOSE, Decimal("25"),
                                           RuleAction.PARTIAL_CLOSE, close_pct=50),
    RuleType.ROLL: ManagementRule(RuleType.ROLL, Decimal("21"), RuleAction.ROLL),
    RuleType.EXPIRATION_RISK: ManagementRule(RuleType.EXPIRATION_RISK, Decimal("1"),
                                             strike_distance_pct=Decimal("1")),
    RuleType.EX_DIVIDEND: ManagementRule(RuleType.EX_DIVIDEND, Decimal("3")),
}

_Index = QModelIndex | QPersistentModelIndex


def days(count: float, what: str = "") -> str:
    """``1 day``, ``3 days``, ``1 day left``: the plural follows the rounded number."""
    n = round(count)
    return f"{n} day{'' if abs(n) == 1 else 's'}" + (f" {what}" if what else "")


def format_threshold(rule_type: RuleType, threshold: Decimal) -> str:
    """A threshold in the builder's words: ``50 % of credit received``, ``loss 200 % of credit
    received``, ``21 DTE``, ``1 day left``."""
    unit = THRESHOLD_UNITS[rule_type]
    if rule_type in (RuleType.TIME_EXIT, RuleType.ROLL):
        return f"{threshold:.0f} {unit}"
    if rule_type is RuleType.DELTA_BREACH:
        return f"{unit} {threshold:.2f}"
    if rule_type in DAY_RULES:
        return days(float(threshold), unit.removeprefix("days "))
    if rule_type is RuleType.STOP_LOSS:
        return f"loss {threshold:.0f} {CREDIT_RECEIVED}"
    return f"{threshold:.0f} {unit}"


class RuleTableModel(QAbstractTableModel):
    """One row per rule in priority order; check boxes for enabled and auto."""

    rules_changed = Signal()

    def __init__(self, rules: Iterable[ManagementRule] = (), parent: Any = None) -> None:
        super().__init__(parent)
        self._rules: list[ManagementRule] = self._renumber(sorted(rules, key=lambda r: r.priority))
        self._errors: dict[tuple[int, int], str] = {}

    # ---- Public API
    def rules(self) -> tuple[ManagementRule, ...]:
        return tuple(self._rules)

    def set_rules(self, rules: Iterable[ManagementRule]) -> None:
        """Replace every rule; rows follow ascending priority (ties keep the given order)."""
        self.beginResetModel()
        self._rules = self._renumber(sorted(rules, key=lambda r: r.priority))
        self._errors = {}
        self.endResetModel()

    def add_rule(self, rule_type: RuleType = RuleType.PROFIT_TARGET) -> int:
        row = len(self._rules)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rules.append(dataclasses.replace(DEFAULT_RULES[rule_type], priority=row + 1))
        self.endInsertRows()
        self.rules_changed.emit()
        return row

    def remove_rule(self, row: int) -> None:
        if not 0 <= row < len(self._rules):
            raise IndexError(f"rule row {row} out of range 0..{len(self._rules) - 1}")
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._rules[row]
        self._rules = self._renumber(self._rules)
        self._errors = {}
        self.endRemoveRows()
        self._emit_priorities()
        self.rules_changed.emit()

    def move_up(self, row: int) -> bool:
        """Raise a rule's priority by one place; False when it is already first."""
        if not 1 <= row < len(self._rules):
            return False
        return self.moveRows(QModelIndex(), row, 1, QModelIndex(), row - 1)

    def move_down(self, row: int) -> bool:
        if not 0 <= row < len(self._rules) - 1:
            return False
        return self.moveRows(QModelIndex(), row + 1, 1, QModelIndex(), row)

    def set_errors(self, errors: dict[tuple[int, int], str]) -> None:
        changed = set(errors) | set(self._errors)
        self._errors = dict(errors)
        for row, col in changed:
            if row < len(self._rules):
                idx = self.index(row, col)
                self.dataChanged.emit(idx, idx, [ErrorRole, Qt.ItemDataRole.ToolTipRole])

    # ---- Qt overrides
    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rules)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return HEADERS[section] if 0 <= section < len(HEADERS) else None
        return str(section + 1)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        col = index.column()
        if col in _CHECK_COLUMNS:
            return flags | Qt.ItemFlag.ItemIsUserCheckable
        if col == COL_PRIORITY:
            return flags  # set by row order
        rule = self._rules[index.row()]
        if col == COL_CLOSE_PCT and rule.action is not RuleAction.PARTIAL_CLOSE:
            return flags
        if col == COL_SCOPE and rule.rule_type is not RuleType.DELTA_BREACH:
            return flags
        return flags | Qt.ItemFlag.ItemIsEditable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rules):
            return None
        rule = self._rules[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.CheckStateRole and col in _CHECK_COLUMNS:
            on = rule.enabled if col == COL_ENABLED else rule.auto
            return Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(rule, col)
        if role == Qt.ItemDataRole.EditRole:
            return self._edit_value(rule, col)
        if role == ErrorRole:
            return self._errors.get((index.row(), col), "")
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._errors.get((index.row(), col)) or None
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (
                COL_PRIORITY, COL_THRESHOLD, COL_CLOSE_PCT, COL_HOLD_EVALS, COL_HOLD_SECONDS):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or not 0 <= index.row() < len(self._rules):
            return False
        row, col = index.row(), index.column()
        rule = self._rules[row]
        try:
            if role == Qt.ItemDataRole.CheckStateRole and col in _CHECK_COLUMNS:
                on = _is_checked(value)
                new = dataclasses.replace(rule, **{FIELDS[col]: on})
            elif role == Qt.ItemDataRole.EditRole and col != COL_PRIORITY:
                new = self._apply(rule, col, value)
            else:
                return False
        except (ValueError, InvalidOperation, TypeError):
            return False
        if new != rule:
            self._rules[row] = new
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1))
            self.rules_changed.emit()
        return True

    def moveRows(self, source_parent: _Index, source_row: int, count: int,
                 destination_parent: _Index, destination_child: int) -> bool:
        if source_parent.isValid() or destination_parent.isValid() or count < 1:
            return False
        if source_row < 0 or source_row + count > len(self._rules):
            return False
        if not 0 <= destination_child <= len(self._rules):
            return False
        if source_row <= destination_child <= source_row + count:
            return False
        if not self.beginMoveRows(QModelIndex(), source_row, source_row + count - 1,
                                  QModelIndex(), destination_child):
            return False
        block = self._rules[source_row:source_row + count]
        rest = self._rules[:source_row] + self._rules[source_row + count:]
        insert_at = destination_child if destination_child < source_row else \
            destination_child - count
        self._rules = self._renumber(rest[:insert_at] + block + rest[insert_at:])
        self._errors = {}
        self.endMoveRows()
        self._emit_priorities()
        self.rules_changed.emit()
        return True

    # ---- internals
    def _emit_priorities(self) -> None:
        if self._rules:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rules) - 1,
                                                               len(HEADERS) - 1))

    @staticmethod
    def _renumber(rules: list[ManagementRule]) -> list[ManagementRule]:
        return [r if r.priority == i + 1 else dataclasses.replace(r, priority=i + 1)
                for i, r in enumerate(rules)]

    @staticmethod
    def _display(rule: ManagementRule, col: int) -> str | None:
        if col in _CHECK_COLUMNS:
            return None
        if col == COL_PRIORITY:
            return str(rule.priority)
        if col == COL_TYPE:
            return RULE_LABELS[rule.rule_type]
        if col == COL_THRESHOLD:
            return format_threshold(rule.rule_type, rule.threshold)
        if col == COL_ACTION:
            return ACTION_LABELS[rule.action]
        if col == COL_CLOSE_PCT:
            return f"{rule.close_pct} %" if rule.action is RuleAction.PARTIAL_CLOSE else ""
        if col == COL_SCOPE:
            if rule.rule_type is not RuleType.DELTA_BREACH:
                return ""
            return "Short leg" if rule.delta_scope is DeltaScope.SHORT_LEG else "Position"
        if col == COL_HOLD_EVALS:
            return str(rule.hold_evaluations)
        if col == COL_HOLD_SECONDS:
            return str(rule.hold_seconds)
        return ""

    @staticmethod
    def _edit_value(rule: ManagementRule, col: int) -> Any:
        return {
            COL_ENABLED: rule.enabled,
            COL_PRIORITY: rule.priority,
            COL_TYPE: rule.rule_type.value,
            COL_THRESHOLD: float(rule.threshold),
            COL_ACTION: rule.action.value,
            COL_CLOSE_PCT: rule.close_pct,
            COL_SCOPE: rule.delta_scope.value,
            COL_HOLD_EVALS: rule.hold_evaluations,
            COL_HOLD_SECONDS: rule.hold_seconds,
            COL_AUTO: rule.auto,
        }.get(col)

    @staticmethod
    def _apply(rule: ManagementRule, col: int, value: Any) -> ManagementRule:
        if col == COL_TYPE:
            rule_type = RuleType(str(value))
            if rule_type is rule.rule_type:
                return rule
            # A new type brings its own threshold scale (DTE vs % vs delta): start from its default.
            fresh = DEFAULT_RULES[rule_type]
            return dataclasses.replace(rule, rule_type=rule_type, threshold=fresh.threshold,
                                       action=fresh.action, close_pct=fresh.close_pct)
        if col == COL_THRESHOLD:
            number = value if isinstance(value, Decimal) else Decimal(str(round(float(value), 4)))
            return dataclasses.replace(rule, threshold=number)
        if col == COL_ACTION:
            action = RuleAction(str(value))
            # Close % only means something for partial closes: keep it in the range that fits.
            if action is RuleAction.PARTIAL_CLOSE:
                close_pct = rule.close_pct if rule.close_pct < 100 else 50
            else:
                close_pct = 100
            return dataclasses.replace(rule, action=action, close_pct=close_pct)
        if col == COL_SCOPE:
            return dataclasses.replace(rule, delta_scope=DeltaScope(str(value)))
        if col in (COL_CLOSE_PCT, COL_HOLD_EVALS, COL_HOLD_SECONDS):
            return dataclasses.replace(rule, **{FIELDS[col]: int(value)})
        if col in _CHECK_COLUMNS:
            return dataclasses.replace(rule, **{FIELDS[col]: bool(value)})
        raise ValueError(f"column {col} is not editable")


def _is_checked(value: Any) -> bool:
    if isinstance(value, Qt.CheckState):
        return value == Qt.CheckState.Checked
    if isinstance(value, bool):
        return value
    return int(value) == Qt.CheckState.Checked.value
