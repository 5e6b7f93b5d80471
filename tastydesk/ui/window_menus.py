"""The main window's menu bar (File, View, Help) and the Help menu's two boxes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QWidget

from tastydesk import __version__
from tastydesk.ui.theme import THEMES, current_theme


@dataclass(frozen=True, slots=True)
class MenuHandlers:
    """What the menu entries do (the window's own methods)."""

    login: Callable[[], None]
    logout: Callable[[], None]
    settings: Callable[[], None]
    quit: Callable[[], None]
    focus_dock: Callable[[QDockWidget], None]
    set_theme: Callable[[str], None]
    reset_layout: Callable[[], None]
    switch_account: Callable[[], None] | None = None


@dataclass(frozen=True, slots=True)
class Menus:
    login: QAction
    logout: QAction
    settings: QAction
    quit: QAction
    reset: QAction
    dock_actions: dict[str, QAction]  # dock object name -> its "Go to" action
    theme_actions: dict[str, QAction]


def build_menus(window: QMainWindow, docks: Sequence[QDockWidget],
                on: MenuHandlers) -> Menus:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    login = file_menu.addAction("Log &in to tastytrade\u2026", on.login)
    logout = file_menu.addAction("Log &out", on.logout)
    if on.switch_account is not None:
        file_menu.addAction("S&witch account\u2026", on.switch_account).setObjectName(
            "action.switchAccount")
    file_menu.addSeparator()
    settings = file_menu.addAction("&Settings\u2026", on.settings)
    settings.setShortcut(QKeySequence("Ctrl+,"))
    file_menu.addSeparator()
    quit_action = file_menu.addAction("&Quit", on.quit)
    quit_action.setShortcut(QKeySequence("Ctrl+Q"))

    view = bar.addMenu("&View")
    dock_actions: dict[str, QAction] = {}
    for i, dock in enumerate(docks, start=1):
        view.addAction(dock.toggleViewAction())
        focus = QAction(f"Go to {dock.windowTitle()}", window)
        focus.setShortcut(QKeySequence(f"Ctrl+{i}"))
        focus.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        focus.triggered.connect(lambda _c=False, d=dock: on.focus_dock(d))
        view.addAction(focus)
        dock_actions[dock.objectName()] = focus
    view.addSeparator()
    theme_menu = view.addMenu("&Theme")
    group = QActionGroup(window)
    theme_actions: dict[str, QAction] = {}
    for name in THEMES:
        action = theme_menu.addAction(name.title())
        action.setCheckable(True)
        action.setChecked(name == current_theme())
        action.triggered.connect(lambda _c=False, n=name: on.set_theme(n))
        group.addAction(action)
        theme_actions[name] = action
    view.addSeparator()
    reset = view.addAction("&Reset layout", on.reset_layout)

    help_menu = bar.addMenu("&Help")
    help_menu.addAction("&Keyboard shortcuts", lambda: show_shortcuts(window, docks))
    help_menu.addAction("&About tastydesk", lambda: show_about(window))
    return Menus(login, logout, settings, quit_action, reset, dock_actions, theme_actions)


def show_shortcuts(parent: QWidget, docks: Sequence[QDockWidget]) -> None:
    lines = [f"Ctrl+{i}: {d.windowTitle()}" for i, d in enumerate(docks, start=1)]
    lines += ["Ctrl+Enter: approve selected trade(s) (asks first)",
              "Ctrl+M: modify price/quantity, then approve", "Ctrl+R: reject (reason)",
              "Ctrl+Shift+K: kill switch (pause automation / re-arm)", "F5: scan now",
              "Ctrl+,: settings", "Ctrl+Q: quit"]
    QMessageBox.information(parent, "Keyboard shortcuts", "\n".join(lines))


def show_about(parent: QWidget) -> None:
    QMessageBox.about(parent, "About tastydesk",
                      f"tastydesk {__version__}\nOptions-trading workstation for "
                      "tastytrade: scan, select, approve, execute, monitor, close.")
