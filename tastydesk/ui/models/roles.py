"""Custom item-data roles shared by every tastydesk model, proxy and delegate."""

from __future__ import annotations

from PySide6.QtCore import Qt

RowObjectRole = int(Qt.ItemDataRole.UserRole) + 1  # the frozen row object behind a cell
SortRole = int(Qt.ItemDataRole.UserRole) + 2  # a comparable Python value (Decimal, float, str)
ValueRole = int(Qt.ItemDataRole.UserRole) + 3  # raw numeric value a delegate paints from
KeyRole = int(Qt.ItemDataRole.UserRole) + 4  # the row's key (e.g. workflow id)
#: What a view's delegate paints a cell from, in one answer: its text, alignment and value (a
#: view asking for each role separately crosses into Python seven times per cell, twice each
#: through a filter proxy).
CellRole = int(Qt.ItemDataRole.UserRole) + 5
