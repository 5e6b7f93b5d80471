"""How the builder's parts are arranged: library | tabs over problems and the save bar."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tastydesk.ui.builder.fields import Section
from tastydesk.ui.builder.form import FieldSet
from tastydesk.ui.builder.marks import INVALID_STYLE


def fill_tabs(tabs: QTabWidget, fields: FieldSet, preview: QWidget) -> None:
    tabs.setDocumentMode(True)
    tabs.addTab(_general_tab(fields), "Strategy, legs && rules")
    tabs.addTab(_entry_tab(fields), "Entry, sizing && pricing")
    tabs.addTab(preview, "Preview")


def builder_body(parent: QWidget, library: QWidget, tabs: QTabWidget, problems: QListWidget,
                 status: QLabel, buttons: tuple[QPushButton, ...]) -> QWidget:
    """The dock's widget: the library beside the editor (tabs, problem list, save bar).

    Built as a child of ``parent`` and styled once assembled: re-parenting or re-styling a
    finished tree polishes every widget in it again, which is most of the builder's start-up.
    """
    root = QWidget(parent)
    editor = QWidget()
    layout = QVBoxLayout(editor)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(3)
    layout.addWidget(tabs, 1)
    layout.addWidget(problems)
    bar = QHBoxLayout()
    bar.addWidget(status, 1)
    for button in buttons:
        bar.addWidget(button)
    layout.addLayout(bar)
    splitter = QSplitter(Qt.Orientation.Horizontal, root)
    splitter.setChildrenCollapsible(False)  # the library list never disappears on a drag
    splitter.addWidget(library)
    splitter.addWidget(editor)
    splitter.setStretchFactor(0, 0)
    splitter.setStretchFactor(1, 1)
    splitter.setSizes([210, 740])
    outer = QVBoxLayout(root)
    outer.setContentsMargins(4, 4, 4, 4)
    outer.addWidget(splitter)
    root.setStyleSheet(INVALID_STYLE)
    return root


def _general_tab(fields: FieldSet) -> QWidget:
    tab = QWidget()
    layout = QVBoxLayout(tab)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.setSpacing(4)
    layout.addLayout(fields.general_grid())
    split = QSplitter(Qt.Orientation.Vertical)
    split.setChildrenCollapsible(False)
    split.addWidget(fields.widget("legs"))
    split.addWidget(fields.widget("rules"))
    split.setSizes([200, 180])
    layout.addWidget(split, 1)
    return tab


def _entry_tab(fields: FieldSet) -> QWidget:
    tab = QWidget()
    grid = QGridLayout(tab)
    grid.setContentsMargins(4, 4, 4, 4)
    grid.setSpacing(6)
    grid.addWidget(fields.group(Section.FILTERS, "Entry filters"), 0, 0, 2, 1)
    grid.addWidget(fields.group(Section.SIZING, "Sizing"), 0, 1)
    grid.addWidget(fields.group(Section.PRICING, "Smart pricing"), 1, 1)
    grid.setRowStretch(2, 1)
    grid.setColumnStretch(0, 1)
    grid.setColumnStretch(1, 1)
    return tab
