"""Notifications: the system tray when one exists, an in-app list and status-bar toast always.

Offscreen sessions, stock GNOME and Xvfb have no tray; there ``showMessage`` silently does
nothing, so the in-app channel is never skipped. Which alert categories notify follows
``EngineConfig.notify``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QSystemTrayIcon

from tastydesk.engine.domain.events import Alert

log = logging.getLogger(__name__)

_LEVEL_ICON = {
    "info": QSystemTrayIcon.MessageIcon.Information,
    "warning": QSystemTrayIcon.MessageIcon.Warning,
    "error": QSystemTrayIcon.MessageIcon.Critical,
}


class Notifier(QObject):
    notified = Signal(object)  # Alert shown in-app
    tray_message_shown = Signal(object)  # Alert sent to the tray
    focus_requested = Signal(object)  # workflow id (or None) the user clicked on

    def __init__(self, categories: Callable[[], tuple[str, ...]], icon: QIcon,
                 parent: QObject | None = None, tray_available: bool | None = None) -> None:
        super().__init__(parent)
        self._categories = categories
        self._last: Alert | None = None
        available = (QSystemTrayIcon.isSystemTrayAvailable() if tray_available is None
                     else tray_available)
        self.tray: QSystemTrayIcon | None = None
        if available:
            self.tray = QSystemTrayIcon(icon, self)
            self.tray.setToolTip("tastydesk")
            self.tray.messageClicked.connect(self._on_message_clicked)
            self.tray.activated.connect(lambda _reason: self.focus_requested.emit(None))
            self.tray.show()
        self.history: list[Alert] = []

    @property
    def uses_tray(self) -> bool:
        return self.tray is not None

    def notify(self, alert: Alert) -> bool:
        """Show ``alert`` if its category is enabled; returns whether it was shown."""
        if alert.category not in self._categories():
            return False
        self.history.append(alert)
        del self.history[:-200]
        self._last = alert
        self.notified.emit(alert)
        if self.tray is not None:
            icon = _LEVEL_ICON.get(alert.level, QSystemTrayIcon.MessageIcon.Information)
            self.tray.showMessage(alert.title, alert.message, icon, 8000)
            self.tray_message_shown.emit(alert)
        return True

    def set_context_menu(self, menu: object) -> None:
        if self.tray is not None:
            self.tray.setContextMenu(menu)  # type: ignore[arg-type]

    def hide(self) -> None:
        if self.tray is not None:
            self.tray.hide()

    def _on_message_clicked(self) -> None:
        self.focus_requested.emit(self._last.workflow_id if self._last is not None else None)
