"""The editor's widgets, made, loaded, read and laid out from the field table."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QWidget,
)

from tastydesk.engine.domain.strategy import Strategy
from tastydesk.ui.builder.fields import BY_PATH, FIELDS, Section, assemble, rows, value_of

ITEM_PATH = re.compile(r"^(legs|rules)\[(\d+)\](?:\.(.+))?$")
_GRID_COLUMNS = 5  # label, widget, label, widget, widget: the general rows


class FieldSet(QObject):
    """One widget per field; ``changed`` fires on edits, never while loading."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._widgets: dict[str, QWidget] = {}
        self._loading = False
        for field in FIELDS:
            widget = field.editor.create()
            if field.tip:
                widget.setToolTip(field.tip)
            field.editor.connect(widget, self._on_edited)
            self._widgets[field.path] = widget

    # ---- values
    def widget(self, path: str) -> Any:
        """The widget made for the field at ``path`` (its editor's own type)."""
        return self._widgets[path]

    def load(self, strategy: Strategy) -> None:
        self._loading = True
        try:
            for field in FIELDS:
                field.editor.write(self._widgets[field.path], value_of(strategy, field.path))
        finally:
            self._loading = False

    def strategy(self) -> Strategy:
        """The widgets' content as a Strategy (not validated)."""
        return assemble({f.path: f.editor.read(self._widgets[f.path]) for f in FIELDS})

    def widget_for(self, path: str) -> QWidget | None:
        """The widget that shows the field a validation path names.

        ``dte.min`` is a part of the DTE editor; ``legs[2].side`` is the legs table; a section
        path (``filters``) is its first field; unknown tails fall back to their parent field.
        """
        match = ITEM_PATH.match(path)
        if match:
            return BY_PATH[match.group(1)].editor.flag_target(self._widgets[match.group(1)])
        key = re.sub(r"\[\d+\]$", "", path)
        while key:
            field = BY_PATH.get(key)
            if field is not None:
                widget = self._widgets[key]
                rest = path[len(key) + 1:]
                return (rest and field.editor.part(widget, rest)) or field.editor.flag_target(
                    widget)
            first = next((f for f in FIELDS if f.path.startswith(key + ".")), None)
            if first is not None:
                return first.editor.flag_target(self._widgets[first.path])
            key = key.rpartition(".")[0]
        return None

    # ---- layout
    def general_grid(self) -> QGridLayout:
        """Name, priority, description, biases and DTE: label / widget pairs per row."""
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(3)
        for r, row in enumerate(rows(Section.GENERAL)):
            col = 0
            for i, field in enumerate(row):
                if field.label:
                    grid.addWidget(QLabel(field.label), r, col)
                    col += 1
                span = _GRID_COLUMNS - col if i == len(row) - 1 else 1
                grid.addWidget(self._widgets[field.path], r, col, 1, span)
                col += 1
        grid.setColumnStretch(1, 1)
        return grid

    def group(self, section: Section, title: str) -> QGroupBox:
        """A titled form of the section's fields, inline fields sharing their row."""
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setVerticalSpacing(3)
        for row in rows(section):
            first = self._widgets[row[0].path]
            if len(row) == 1:
                form.addRow(row[0].label, first)
                continue
            line = QHBoxLayout()
            line.addWidget(first)
            for field in row[1:]:
                if field.label:
                    line.addWidget(QLabel(field.label))
                line.addWidget(self._widgets[field.path])
            form.addRow(row[0].label, line)
        return box

    def _on_edited(self, *_args: object) -> None:
        if not self._loading:
            self.changed.emit()
