"""The strategy library: the saved strategies, and the buttons that act on the library."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from tastydesk.engine.domain.strategy import Strategy
from tastydesk.ui.builder.tables import tool_button


class LibraryPanel(QWidget):
    """The list of saved strategies (by priority, then name) and the library buttons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addWidget(QLabel("<b>Library</b>"))
        self.list = QListWidget()
        self.list.setMinimumWidth(200)  # the default names fit without clipping
        self.list.setAlternatingRowColors(True)
        layout.addWidget(self.list, 1)
        self.new_button = tool_button("New", "Start a new strategy")
        self.duplicate_button = tool_button("Duplicate",
                                            "Copy the selected strategy under a new name")
        self.delete_button = tool_button("Delete", "Delete the selected strategy (asks first)")
        self.import_button = tool_button("Import…", "Read a strategy from a JSON file")
        self.export_button = tool_button("Export…",
                                         "Write the strategy in the editor to a JSON file")
        self.restore_button = tool_button("Defaults…",
                                          "Restore the built-in strategies (asks first)")
        grid = QGridLayout()
        grid.setSpacing(3)
        for i, button in enumerate((self.new_button, self.duplicate_button, self.delete_button,
                                    self.import_button, self.export_button,
                                    self.restore_button)):
            button.setSizePolicy(button.sizePolicy().horizontalPolicy().Expanding,
                                 button.sizePolicy().verticalPolicy())
            grid.addWidget(button, i // 2, i % 2)
        layout.addLayout(grid)

    def fill(self, strategies: Iterable[Strategy], select: str | None) -> None:
        """Show ``strategies``; the one named ``select`` becomes current (no signal)."""
        self.list.blockSignals(True)
        self.list.clear()
        for strategy in sorted(strategies, key=lambda s: (s.priority, s.name)):
            item = QListWidgetItem(strategy.name if strategy.enabled
                                   else f"{strategy.name}  (off)")
            item.setData(Qt.ItemDataRole.UserRole, strategy.name)
            biases = ", ".join(sorted(b.value for b in strategy.biases))
            item.setToolTip(f"{strategy.description}\nBias: {biases}; priority "
                            f"{strategy.priority}")
            self.list.addItem(item)
            if strategy.name == select:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def names(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.list.count())]

    def current_name(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def set_current(self, item: QListWidgetItem | None) -> None:
        """Move the selection without announcing it."""
        self.list.blockSignals(True)
        if item is None:
            self.list.clearSelection()
        self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def select_row(self, row: int) -> None:
        self.set_current(self.list.item(row))
