"""Activity log dock: alerts from the bus plus the engine's audit and error logs, filterable."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QComboBox, QDockWidget, QHBoxLayout, QLineEdit, QVBoxLayout, QWidget

from tastydesk.engine.domain.events import Alert
from tastydesk.engine.facade import EngineFacade
from tastydesk.ui.bridge import EngineBridge
from tastydesk.ui.models.activity import activity_model, from_alert, from_audit, from_error
from tastydesk.ui.widgets.table import KeyedTableView

LEVELS = ("All levels", "info", "warning", "error")
SOURCES = ("All sources", "alert", "audit", "error")


class ActivityLogDock(QDockWidget):
    def __init__(self, engine: EngineFacade, bridge: EngineBridge,
                 parent: QWidget | None = None) -> None:
        super().__init__("Activity", parent)
        self.setObjectName("dock.activity_log")
        self.engine = engine
        self._alerts = 0
        self.model = activity_model(self)
        self.table = KeyedTableView(self.model, "activity.table", sort_column="time",
                                    sort_order=Qt.SortOrder.DescendingOrder,
                                    empty_text="Nothing has happened yet.")
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("activity.filter")
        self.filter_edit.setPlaceholderText("Filter activity\u2026")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.table.proxy.set_text)
        self.level_combo = QComboBox()
        self.level_combo.setObjectName("activity.level")
        self.level_combo.addItems(LEVELS)
        self.source_combo = QComboBox()
        self.source_combo.setObjectName("activity.source")
        self.source_combo.addItems(SOURCES)
        self.level_combo.currentTextChanged.connect(lambda _t: self._apply_filter())
        self.source_combo.currentTextChanged.connect(lambda _t: self._apply_filter())
        bar = QHBoxLayout()
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.level_combo)
        bar.addWidget(self.source_combo)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        self.setWidget(body)
        bridge.workflow_changed.connect(lambda _e: self._schedule_refresh())
        bridge.alert_raised.connect(lambda _e: self._schedule_refresh())
        bridge.rule_triggered.connect(lambda _e: self._schedule_refresh())
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh)
        self.refresh()

    def add_alert(self, alert: Alert) -> None:
        """Record an alert shown to the user (every alert, whether notified or not)."""
        self._alerts += 1
        self.model.upsert([from_alert(alert, self._alerts)])

    def _apply_filter(self) -> None:
        level = self.level_combo.currentText()
        source = self.source_combo.currentText()
        if level == LEVELS[0] and source == SOURCES[0]:
            self.table.proxy.set_predicate(None)
            return
        self.table.proxy.set_predicate(
            lambda e: (level == LEVELS[0] or e.level == level)
            and (source == SOURCES[0] or e.source == source))

    def _schedule_refresh(self) -> None:
        if not self._refresh_timer.isActive():
            self._refresh_timer.start(250)

    def refresh(self) -> None:
        """Merge the latest audit and error records (alerts arrive through add_alert)."""
        entries = [from_audit(r) for r in self.engine.audit_log()]
        entries += [from_error(r) for r in self.engine.errors()]
        self.model.upsert(entries)
