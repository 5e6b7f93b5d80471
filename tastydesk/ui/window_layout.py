"""The main window's dock layout: the built-in arrangement, and keeping the trader's own.

Window geometry, dock placement, column widths, sort orders and splitter positions are saved
to QSettings on close and restored on start when they were written by this layout version.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QRegularExpression, QSettings, Qt
from PySide6.QtWidgets import QApplication, QDockWidget, QHeaderView, QMainWindow, QSplitter

from tastydesk.ui.theme import current_theme

STATE_VERSION = 5  # bump when docks or their tables change shape: old saved layouts are then ignored
KEY_STATE = "window/state"
KEY_GEOMETRY = "window/geometry"
KEY_VERSION = "window/version"
KEY_THEME = "window/theme"
# Only named views are kept; matching by name in Qt spares wrapping every unnamed header.
_NAMED_HEADER = QRegularExpression(r"\.header$")
_NAMED = QRegularExpression(r".")


SETTINGS_FOLDER = "qt"  # under the data directory


def keep_settings_in(data_dir: Path) -> Path:
    """Keep layout, theme and view settings in the data directory (INI files under
    ``SETTINGS_FOLDER``), so each data directory (each account, each test run) has its own
    rather than sharing one file in the user's configuration folder. Call before the first
    ``QSettings()``; returns the folder."""
    folder = data_dir / SETTINGS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    return folder


@dataclass(frozen=True, slots=True)
class Docks:
    """The window's docks by role (the builder is optional: it needs the chart library)."""

    approval: Any
    position: Any
    workflow: Any
    activity: Any
    builder: QDockWidget | None

    def all(self) -> list[QDockWidget]:
        return [d for d in (self.builder, self.approval, self.position, self.workflow,
                            self.activity) if d is not None]


class WindowLayout:
    """Arranges the docks and keeps the layout in ``settings``."""

    def __init__(self, window: QMainWindow, docks: Docks, settings: QSettings) -> None:
        self._window = window
        self._docks = docks
        self._settings = settings
        self._default_state = QByteArray()
        self._default_views: dict[str, QByteArray] = {}

    def arrange_default(self) -> None:
        """The built-in arrangement, tables first: the queue over the whole height on the left;
        on the right the positions (tabbed with the workflow status and the builder) over a
        compact activity log."""
        w, d = self._window, self._docks
        for dock in d.all():
            dock.setFloating(False)
            dock.show()
        w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, d.approval)
        w.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, d.position)
        w.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, d.activity)
        w.splitDockWidget(d.position, d.activity, Qt.Orientation.Vertical)
        for other in (d.workflow, d.builder):
            if other is not None:
                w.tabifyDockWidget(d.position, other)
        d.position.raise_()
        for splitter in (d.approval.splitter, d.position.splitter, d.workflow.splitter):
            splitter.setChildrenCollapsible(False)
        self.size_default()

    def size_default(self) -> None:
        """Dock and splitter sizes in proportion to the window (again once it has its size)."""
        w, d = self._window, self._docks
        width, height = max(w.width(), 1200), max(w.height(), 800)
        w.resizeDocks([d.approval, d.position], [int(width * 0.5), int(width * 0.5)],
                      Qt.Orientation.Horizontal)
        w.resizeDocks([d.position, d.activity], [int(height * 0.72), int(height * 0.18)],
                      Qt.Orientation.Vertical)
        # Tables first: a queue of at least eight rows with the detail pane below it, and
        # the positions over their detail.
        d.approval.splitter.setSizes([int(height * 0.29), int(height * 0.61)])
        d.position.splitter.setSizes([int(height * 0.40), int(height * 0.28)])
        d.workflow.splitter.setSizes([int(height * 0.45), int(height * 0.25)])

    def capture_defaults(self) -> None:
        """Remember the current arrangement as what Reset layout goes back to."""
        self._default_state = self._window.saveState(STATE_VERSION)
        self._default_views = self._view_states()

    def save(self) -> None:
        """Persist window geometry, dock layout, column widths and sort orders."""
        s = self._settings
        s.setValue(KEY_VERSION, STATE_VERSION)
        s.setValue(KEY_STATE, self._window.saveState(STATE_VERSION))
        s.setValue(KEY_GEOMETRY, self._window.saveGeometry())
        s.beginGroup("views")
        s.remove("")
        for name, state in self._view_states().items():
            s.setValue(name, state)
        s.endGroup()
        s.setValue(KEY_THEME, current_theme())
        s.sync()

    def restore(self) -> bool:
        """Restore the saved layout if it was written by this layout version."""
        s = self._settings
        try:
            version = int(s.value(KEY_VERSION, 0))
        except (TypeError, ValueError):
            version = 0
        if version != STATE_VERSION:
            return False
        geometry = s.value(KEY_GEOMETRY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self._window.restoreGeometry(geometry)
            self._keep_on_screen()
        ok = False
        state = s.value(KEY_STATE)
        if isinstance(state, QByteArray):
            ok = self._window.restoreState(state, STATE_VERSION)
        s.beginGroup("views")
        states = {k: s.value(k) for k in s.childKeys()}
        s.endGroup()
        self._apply_view_states(states)
        return ok

    def reset(self) -> None:
        """Back to the built-in layout, column widths and sort orders."""
        for dock in self._docks.all():
            dock.setFloating(False)
            dock.show()
        self._window.restoreState(self._default_state, STATE_VERSION)
        self._apply_view_states(self._default_views)
        self._settings.remove(KEY_STATE)
        self._settings.remove("views")

    def _views(self) -> list[QHeaderView | QSplitter]:
        """The table headers and splitters whose state is kept (the named ones)."""
        return [*self._window.findChildren(QHeaderView, _NAMED_HEADER),
                *self._window.findChildren(QSplitter, _NAMED)]

    def _view_states(self) -> dict[str, QByteArray]:
        return {view.objectName(): view.saveState() for view in self._views()}

    def _apply_view_states(self, states: dict[str, Any]) -> None:
        for view in self._views():
            state = states.get(view.objectName())
            if state:
                view.restoreState(state)

    def _keep_on_screen(self) -> None:
        screen = self._window.screen() or QApplication.primaryScreen()
        if screen is None:
            return
        available = screen.availableGeometry()
        if not available.intersects(self._window.frameGeometry()):
            self._window.move(available.topLeft())
