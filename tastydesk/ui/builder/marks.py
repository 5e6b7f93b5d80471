"""Errors on the fields: red borders with the message as tooltip, table cells, a problem list.

Every problem is shown where it belongs (the widget or the table cell its path names) and as a
line in the problem list; double-clicking a line goes to the field.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from tastydesk.engine.strategies.validation import FieldError
from tastydesk.ui.builder.form import ITEM_PATH, FieldSet
from tastydesk.ui.builder.tables import LEG_COLUMNS, RULE_COLUMNS, LegsPanel, RulesPanel
from tastydesk.ui.models import legs as L
from tastydesk.ui.models import rules as R

INVALID_STYLE = "*[invalid=\"true\"] { border: 1px solid #d32f2f; border-radius: 2px; }"


class ErrorMarks:
    """Shows a list of field errors on a :class:`FieldSet` and in a problem list."""

    def __init__(self, fields: FieldSet, problems: QListWidget) -> None:
        self._fields = fields
        self._problems = problems
        self._flagged: dict[QWidget, str] = {}  # flagged widget -> its own tooltip

    def show(self, errors: Sequence[FieldError], heading: str = "") -> None:
        """Mark ``errors`` (replacing earlier marks); an empty list clears everything."""
        messages: dict[QWidget, list[str]] = {}
        cells: dict[str, dict[tuple[int, int], str]] = {"legs": {}, "rules": {}}
        self._problems.clear()
        if heading:
            self._problems.addItem(QListWidgetItem(heading))
        for error in errors:
            widget = self._fields.widget_for(error.path)
            match = ITEM_PATH.match(error.path)
            if match:
                kind, row, rest = match.group(1), int(match.group(2)), match.group(3) or ""
                column = (LEG_COLUMNS.get(rest, L.COL_INDEX) if kind == "legs"
                          else RULE_COLUMNS.get(rest, R.COL_TYPE))
                table = cells[kind]
                table[(row, column)] = "; ".join(filter(None, (table.get((row, column)),
                                                               error.message)))
            elif widget is not None:
                messages.setdefault(widget, []).append(f"{error.path}: {error.message}")
            item = QListWidgetItem(f"✖ {error.path}: {error.message}")
            item.setData(Qt.ItemDataRole.UserRole, widget)
            self._problems.addItem(item)
        legs: LegsPanel = self._fields.widget("legs")
        rules: RulesPanel = self._fields.widget("rules")
        legs.set_errors(cells["legs"])
        rules.set_errors(cells["rules"])
        self._flag({w: "\n".join(m) for w, m in messages.items()})
        self._problems.setVisible(bool(errors) or bool(heading))

    def list_only(self, heading: str, errors: Sequence[FieldError]) -> None:
        """Problems that belong to no field in the editor (a file that failed to import)."""
        self._problems.clear()
        self._problems.addItem(QListWidgetItem(heading))
        for error in errors:
            self._problems.addItem(QListWidgetItem(f"✖ {error.path}: {error.message}"))
        self._problems.setVisible(True)

    @staticmethod
    def is_flagged(widget: QWidget) -> bool:
        return bool(widget.property("invalid"))

    def _flag(self, flagged: dict[QWidget, str]) -> None:
        for widget in set(self._flagged) | set(flagged):
            message = flagged.get(widget)
            if message is None:
                widget.setProperty("invalid", False)
                widget.setToolTip(self._flagged.pop(widget, ""))
            else:
                if widget not in self._flagged:
                    self._flagged[widget] = widget.toolTip()  # restored when the field is fixed
                widget.setProperty("invalid", True)
                widget.setToolTip(message)
            widget.style().unpolish(widget)
            widget.style().polish(widget)
            widget.update()
