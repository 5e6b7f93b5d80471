"""The main window: docks, menus, toolbar with the kill switch, status bar, layout persistence."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTabWidget,
    QToolBar,
    QWidget,
)

from tastydesk import __version__
from tastydesk.engine.domain.enums import Mode, StreamHealth
from tastydesk.engine.domain.events import Alert
from tastydesk.engine.domain.views import HealthView
from tastydesk.engine.facade import EngineFacade
from tastydesk.ui import format as fmt
from tastydesk.ui.actions import CommandRunner, current_user
from tastydesk.ui.bridge import EngineBridge
from tastydesk.ui.docks.activity_log import ActivityLogDock
from tastydesk.ui.docks.approval_queue import ApprovalQueueDock
from tastydesk.ui.docks.position_monitor import PositionMonitorDock
from tastydesk.ui.docks.workflow_status import WorkflowStatusDock
from tastydesk.ui.notifications import Notifier
from tastydesk.ui.resources import icon
from tastydesk.ui.theme import MODE_COLOURS, THEMES, apply_theme, current_theme
from tastydesk.ui.widgets.dialogs import ask_confirm

log = logging.getLogger(__name__)

STATE_VERSION = 3  # bump when docks are added/renamed: old saved layouts are then ignored
KEY_STATE = "window/state"
KEY_GEOMETRY = "window/geometry"
KEY_VERSION = "window/version"
KEY_THEME = "window/theme"
KEY_BANNER = "window/paper_banner_dismissed"

_STREAM_MARK = {
    StreamHealth.CONNECTED: "\u25cf",
    StreamHealth.CONNECTING: "\u25cc",
    StreamHealth.STALE: "\u25b2",
    StreamHealth.DISCONNECTED: "\u2716",
}


class MainWindow(QMainWindow):
    """The workstation window over one engine."""

    closing = Signal()  # emitted once, when the window is about to close

    def __init__(self, engine: EngineFacade, parent: QWidget | None = None,
                 settings: QSettings | None = None, tray_available: bool | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.engine = engine
        self.switch_requested = False  # closed to reopen on another broker (after a login)
        self.settings = settings or QSettings()
        self.setWindowTitle(f"tastydesk \u2014 {engine.mode}")
        self.setWindowIcon(icon("tastydesk"))
        self.setDockOptions(QMainWindow.DockOption.AllowNestedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AnimatedDocks)
        self.setTabPosition(Qt.DockWidgetArea.AllDockWidgetAreas, QTabWidget.TabPosition.North)
        self.resize(1600, 980)
        self._closed = False
        self.runner = CommandRunner(self)
        self.runner.finished.connect(lambda _key, _result: self.refresh_status())
        self.runner.failed.connect(self._on_command_failed)
        self.bridge = EngineBridge(engine, self)
        self.notifier = Notifier(lambda: self.engine.config().notify, icon("tastydesk"), self,
                                 tray_available=tray_available)
        self.notifier.notified.connect(self._show_toast)
        self.notifier.focus_requested.connect(self.focus_workflow)

        self.approval_dock = ApprovalQueueDock(engine, self.bridge, self)
        self.position_dock = PositionMonitorDock(engine, self.bridge, self)
        self.workflow_dock = WorkflowStatusDock(engine, self.bridge, self)
        self.activity_dock = ActivityLogDock(engine, self.bridge, self)
        self.builder_dock = self._make_builder_dock()
        self.docks: list[QDockWidget] = [d for d in (
            self.builder_dock, self.approval_dock, self.position_dock, self.workflow_dock,
            self.activity_dock) if d is not None]
        for dock in self.docks:
            dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                             | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                             | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self._arrange_default()

        self._build_toolbar()
        self._build_banner()
        self._build_status_bar()
        self._build_menus()
        self.bridge.alert_raised.connect(self._on_alert)
        self.bridge.ticked.connect(self._on_tick)
        self.bridge.config_changed.connect(lambda _e: self.refresh_status())
        self._ticks = 0

        self._default_state = self.saveState(STATE_VERSION)
        self._default_views = self._view_states()
        self._shown_once = False
        self._restored = self.restore_layout()
        self.refresh_status()

    # ---- Docks and layout
    def _make_builder_dock(self) -> QDockWidget | None:
        try:
            from tastydesk.ui.docks.strategy_builder import StrategyBuilderDock
        except ImportError as exc:
            log.warning("Strategy Builder unavailable: %s", exc)
            return None
        dock = StrategyBuilderDock(self.engine, self)
        dock.setObjectName("dock.strategy_builder")
        return dock

    def _arrange_default(self) -> None:
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        right = Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        for dock in self.docks:
            dock.setFloating(False)
            dock.show()
        self.addDockWidget(left, self.approval_dock)
        self.addDockWidget(left, self.position_dock)
        self.splitDockWidget(self.approval_dock, self.position_dock, Qt.Orientation.Vertical)
        self.addDockWidget(right, self.workflow_dock)
        if self.builder_dock is not None:
            self.addDockWidget(right, self.builder_dock)
            self.tabifyDockWidget(self.workflow_dock, self.builder_dock)
            self.workflow_dock.raise_()
        self.addDockWidget(bottom, self.activity_dock)
        self._size_docks()
        self._size_splitters()

    def _size_docks(self) -> None:
        # In proportion to the window, so it also holds once the window has its real size.
        width, height = max(self.width(), 1200), max(self.height(), 800)
        self.resizeDocks([self.approval_dock, self.workflow_dock],
                         [int(width * 0.56), int(width * 0.44)], Qt.Orientation.Horizontal)
        self.resizeDocks([self.approval_dock, self.position_dock],
                         [int(height * 0.42), int(height * 0.42)], Qt.Orientation.Vertical)
        self.resizeDocks([self.activity_dock], [120], Qt.Orientation.Vertical)

    def _size_splitters(self) -> None:
        # Tables first: the detail panes get what is left.
        self.approval_dock.splitter.setSizes([170, 430])
        self.position_dock.splitter.setSizes([340, 110])
        self.workflow_dock.splitter.setSizes([600, 300])

    def _tables(self) -> list[QHeaderView]:
        return [h for h in self.findChildren(QHeaderView)
                if h.objectName().endswith(".header")]

    def _view_states(self) -> dict[str, QByteArray]:
        states = {h.objectName(): h.saveState() for h in self._tables()}
        for splitter in self.findChildren(QSplitter):
            if splitter.objectName():
                states[splitter.objectName()] = splitter.saveState()
        return states

    def _apply_view_states(self, states: dict[str, Any]) -> None:
        for header in self._tables():
            state = states.get(header.objectName())
            if state:
                header.restoreState(state)
        for splitter in self.findChildren(QSplitter):
            state = states.get(splitter.objectName()) if splitter.objectName() else None
            if state:
                splitter.restoreState(state)

    def save_layout(self) -> None:
        """Persist window geometry, dock layout, column widths and sort orders."""
        s = self.settings
        s.setValue(KEY_VERSION, STATE_VERSION)
        s.setValue(KEY_STATE, self.saveState(STATE_VERSION))
        s.setValue(KEY_GEOMETRY, self.saveGeometry())
        s.beginGroup("views")
        s.remove("")
        for name, state in self._view_states().items():
            s.setValue(name, state)
        s.endGroup()
        s.setValue(KEY_THEME, current_theme())
        s.sync()

    def restore_layout(self) -> bool:
        """Restore the saved layout if it was written by this layout version."""
        s = self.settings
        try:
            version = int(s.value(KEY_VERSION, 0))
        except (TypeError, ValueError):
            version = 0
        if version != STATE_VERSION:
            return False
        geometry = s.value(KEY_GEOMETRY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
            self._keep_on_screen()
        ok = False
        state = s.value(KEY_STATE)
        if isinstance(state, QByteArray):
            ok = self.restoreState(state, STATE_VERSION)
        s.beginGroup("views")
        states = {k: s.value(k) for k in s.childKeys()}
        s.endGroup()
        self._apply_view_states(states)
        return ok

    def reset_layout(self) -> None:
        """Back to the built-in layout, column widths and sort orders."""
        for dock in self.docks:
            dock.setFloating(False)
            dock.show()
        self.restoreState(self._default_state, STATE_VERSION)
        self._apply_view_states(self._default_views)
        self.settings.remove(KEY_STATE)
        self.settings.remove("views")

    def _keep_on_screen(self) -> None:
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            return
        available = screen.availableGeometry()
        if not available.intersects(self.frameGeometry()):
            self.move(available.topLeft())

    # ---- Toolbar, banner, status bar
    def _build_toolbar(self) -> None:
        bar = QToolBar("Main toolbar", self)
        bar.setObjectName("toolbar.main")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.mode_badge = QLabel(str(self.engine.mode))
        self.mode_badge.setObjectName("modeBadge")
        background, foreground = MODE_COLOURS.get(str(self.engine.mode), ("#555", "#fff"))
        self.mode_badge.setStyleSheet(f"background: {background}; color: {foreground};")
        self.mode_badge.setToolTip({Mode.PAPER: "Paper trading: simulated market, no real "
                                                "orders",
                                    Mode.SANDBOX: "tastytrade sandbox: test account",
                                    Mode.LIVE: "LIVE: real orders with real money"}
                                   .get(self.engine.mode, ""))
        bar.addWidget(self.mode_badge)
        self.kill_switch = QPushButton()
        self.kill_switch.setObjectName("killSwitch")
        self.kill_switch.setCheckable(True)
        self.kill_switch.setToolTip("Automation kill switch (Ctrl+Shift+K): when paused no "
                                    "automated path sends an order; re-arming asks first")
        self.kill_switch.clicked.connect(self._on_kill_switch_clicked)
        bar.addWidget(self.kill_switch)
        self.kill_action = QAction("Toggle automation (kill switch)", self)
        self.kill_action.setShortcut(QKeySequence("Ctrl+Shift+K"))
        self.kill_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.kill_action.triggered.connect(self.toggle_automation)
        self.addAction(self.kill_action)
        self.scan_action = QAction(icon("scan"), "Scan now", self)
        self.scan_action.setObjectName("action.scan_now")
        self.scan_action.setToolTip("Scan the watchlist now (F5)")
        self.scan_action.setShortcut(QKeySequence("F5"))
        self.scan_action.triggered.connect(self.scan_now)
        bar.addAction(self.scan_action)
        bar.addSeparator()
        self.chips: dict[str, QLabel] = {}
        for key, tip in (("streams", "Broker streams: market data and account"),
                         ("quote_age", "Age of the newest quote"),
                         ("clock", "Engine clock (paper time runs faster) and speed"),
                         ("pending", "Trades waiting for approval"),
                         ("positions", "Open positions")):
            chip = QLabel("\u2014")
            chip.setObjectName("statusChip")
            chip.setProperty("chip", key)
            chip.setToolTip(tip)
            bar.addWidget(chip)
            self.chips[key] = chip

    def _build_banner(self) -> None:
        self.banner_bar = QToolBar("Paper mode", self)
        self.banner_bar.setObjectName("toolbar.banner")
        self.banner_bar.setMovable(False)
        frame = QFrame()
        frame.setObjectName("paperBanner")
        layout = QHBoxLayout(frame)
        layout.setContentsMargins(8, 3, 8, 3)
        text = QLabel("<b>Paper mode:</b> a simulated market and simulated money; nothing "
                      "reaches tastytrade and time runs faster than real time.")
        text.setToolTip("Log in to trade a tastytrade sandbox (test) or live account.")
        layout.addWidget(text, 1)
        login = QPushButton("Log in to tastytrade\u2026")
        login.setObjectName("banner.login")
        login.clicked.connect(self.show_login)
        dismiss = QPushButton("Dismiss")
        dismiss.setObjectName("banner.dismiss")
        dismiss.clicked.connect(self.dismiss_banner)
        layout.addWidget(login)
        layout.addWidget(dismiss)
        self.banner_bar.addWidget(frame)
        self.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.banner_bar)
        show = (self.engine.mode is Mode.PAPER
                and not _as_bool(self.settings.value(KEY_BANNER, False)))
        self.banner_bar.setVisible(show)

    def dismiss_banner(self) -> None:
        self.settings.setValue(KEY_BANNER, True)
        self.banner_bar.hide()

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        status.setObjectName("statusBar")
        self.toast = QLabel()
        self.toast.setObjectName("toast")
        self.toast.hide()
        self.notification_button = QPushButton("0 alerts")
        self.notification_button.setObjectName("status.alerts")
        self.notification_button.setFlat(True)
        self.notification_button.setToolTip("Show the Activity log")
        self.notification_button.clicked.connect(lambda: self.focus_dock(self.activity_dock))
        self.armed_label = QLabel()
        self.armed_label.setObjectName("statusChip")
        status.addWidget(self.toast, 1)
        status.addPermanentWidget(self.armed_label)
        status.addPermanentWidget(self.notification_button)
        self._toast_timer = QTimer(self)
        self._toast_timer.setSingleShot(True)
        self._toast_timer.timeout.connect(self.toast.hide)

    # ---- Menus
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.login_action = file_menu.addAction("Log &in to tastytrade\u2026", self.show_login)
        self.logout_action = file_menu.addAction("Log &out", self.log_out)
        file_menu.addSeparator()
        self.settings_action = file_menu.addAction("&Settings\u2026", self.show_settings)
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        file_menu.addSeparator()
        self.quit_action = file_menu.addAction("&Quit", self.close)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))

        view = self.menuBar().addMenu("&View")
        self.dock_actions: dict[str, QAction] = {}
        for i, dock in enumerate(self.docks, start=1):
            toggle = dock.toggleViewAction()
            view.addAction(toggle)
            focus = QAction(f"Go to {dock.windowTitle()}", self)
            focus.setShortcut(QKeySequence(f"Ctrl+{i}"))
            focus.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
            focus.triggered.connect(lambda _c=False, d=dock: self.focus_dock(d))
            view.addAction(focus)
            self.dock_actions[dock.objectName()] = focus
        view.addSeparator()
        theme_menu = view.addMenu("&Theme")
        group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for name in THEMES:
            action = theme_menu.addAction(name.title())
            action.setCheckable(True)
            action.setChecked(name == current_theme())
            action.triggered.connect(lambda _c=False, n=name: self.set_theme(n))
            group.addAction(action)
            self.theme_actions[name] = action
        view.addSeparator()
        self.reset_action = view.addAction("&Reset layout", self.reset_layout)

        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction("&Keyboard shortcuts", self.show_shortcuts)
        help_menu.addAction("&About tastydesk", self.show_about)

    def focus_dock(self, dock: QDockWidget) -> None:
        dock.show()
        dock.raise_()
        widget = dock.widget()
        if widget is not None:
            widget.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def set_theme(self, name: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            applied = apply_theme(app, name)
            self.settings.setValue(KEY_THEME, applied)
            for key, action in self.theme_actions.items():
                action.setChecked(key == applied)

    def show_shortcuts(self) -> None:
        lines = [f"Ctrl+{i}: {d.windowTitle()}" for i, d in enumerate(self.docks, start=1)]
        lines += ["Ctrl+Enter: approve selected trade(s) (asks first)",
                  "Ctrl+M: modify price/quantity, then approve", "Ctrl+R: reject (reason)",
                  "Ctrl+Shift+K: kill switch (pause automation / re-arm)", "F5: scan now",
                  "Ctrl+,: settings", "Ctrl+Q: quit"]
        QMessageBox.information(self, "Keyboard shortcuts", "\n".join(lines))

    def show_about(self) -> None:
        QMessageBox.about(self, "About tastydesk",
                          f"tastydesk {__version__}\nOptions-trading workstation for "
                          "tastytrade: scan, select, approve, execute, monitor, close.")

    # ---- Commands
    def toggle_automation(self) -> None:
        """Kill switch: pausing is immediate; re-arming asks for confirmation."""
        armed = self.engine.health().automation_armed
        user = current_user()
        if armed:
            self.runner.run("automation", lambda: self.engine.set_automation(False, user))
        elif ask_confirm(self, "Re-arm automation",
                         "Re-arm automation? Rules and scheduled scans may send orders again "
                         "without asking.", "Re-arm"):
            self.runner.run("automation", lambda: self.engine.set_automation(True, user))

    def _on_kill_switch_clicked(self) -> None:
        # The button's checked state follows the engine, not the click.
        self.toggle_automation()

    def _on_command_failed(self, key: object, message: str) -> None:
        if message != "cancelled":
            self.toast_message(f"{key}: {message}")
        self.refresh_status()

    def scan_now(self) -> None:
        self.runner.run("scan", lambda: self.engine.scan_now())

    def show_settings(self) -> None:
        from tastydesk.ui.widgets.settings_dialog import SettingsDialog

        SettingsDialog(self.engine, self, runner=self.runner).exec()
        self.refresh_status()

    def show_login(self) -> None:
        from tastydesk.ui.widgets.login_dialog import LoginDialog

        dialog = LoginDialog(self)
        dialog.logged_in.connect(self._on_logged_in)
        dialog.exec()

    def _on_logged_in(self, env: str, account: str) -> None:
        self.runner.run("account", lambda: self.engine.remember_account(env, account, "user"))
        if ask_confirm(self, "Switch to tastytrade", f"Logged in to tastytrade {env}, account "
                       f"{account}.\n\nSwitch to live data now? The paper session stops; "
                       "automation starts paused until the broker is reconciled.", "Switch now"):
            self.switch_requested = True
            self.close()
        else:
            self.toast_message(f"Logged in to tastytrade {env}, account {account}. tastydesk "
                               "uses it from the next start.")

    def log_out(self) -> None:
        from tastydesk.ui.widgets.login_dialog import log_out

        if not ask_confirm(self, "Log out", "Delete the stored tastytrade credentials from "
                           "the system keyring?", "Log out"):
            return
        try:
            cleared = log_out()
        except Exception as exc:
            self.toast_message(f"Log out failed: {exc}")
            return
        self.toast_message("Logged out: " + (", ".join(cleared) or "nothing was stored"))

    # ---- Notifications
    def _on_alert(self, alert: Alert) -> None:
        self.activity_dock.add_alert(alert)
        self.notifier.notify(alert)

    def _show_toast(self, alert: Alert) -> None:
        self.toast_message(f"{alert.title}: {alert.message}")
        count = len(self.notifier.history)
        self.notification_button.setText(f"{count} alert{'s' if count != 1 else ''}")

    def toast_message(self, text: str, ms: int = 12000) -> None:
        self.toast.setText(text)
        self.toast.setToolTip(text)
        self.toast.show()
        self._toast_timer.start(ms)

    def focus_workflow(self, workflow_id: int | None) -> None:
        """Bring the window up and select the item a notification was about."""
        self.showNormal()
        self.raise_()
        self.activateWindow()
        if workflow_id is None:
            return
        for dock, finder in ((self.approval_dock, self.approval_dock.focus_workflow),
                             (self.position_dock, self.position_dock.focus_workflow),
                             (self.workflow_dock, self.workflow_dock.focus_workflow)):
            if finder(workflow_id):
                self.focus_dock(dock)
                return

    # ---- Status
    def _on_tick(self) -> None:
        self._ticks += 1
        if self._ticks % 5 == 0:
            self.refresh_status()

    def refresh_status(self) -> None:
        """Update toolbar chips and the kill switch from the engine's health snapshot."""
        h: HealthView = self.engine.health()
        chips = self.chips
        chips["streams"].setText("  ".join(
            f"{name.title()} {_STREAM_MARK.get(health, '?')}"
            for name, health in sorted(h.streams.items())) or "Streams \u2014")
        chips["streams"].setToolTip("\n".join(f"{name}: {health}" for name, health
                                              in sorted(h.streams.items()))
                                    or "No broker stream yet")
        chips["quote_age"].setText(f"Quotes {fmt.age(h.quote_age_s)}")
        chips["clock"].setText(f"{fmt.clock_time(h.clock_now)} \u00d7{h.clock_speed:g}"
                               + ("" if h.market_open else " (closed)"))
        chips["pending"].setText(f"Pending {h.pending_count}")
        chips["positions"].setText(f"Open {h.open_positions}")
        self.kill_switch.setChecked(h.automation_armed)
        self.kill_switch.setText("Automation ARMED" if h.automation_armed
                                 else "Automation PAUSED")
        self.armed_label.setText("armed" if h.automation_armed else "paused")
        self.login_action.setEnabled(True)
        if h.login_required:
            self.toast_message("tastytrade login required: File \u2192 Log in")

    # ---- Qt overrides
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            if not self._restored:
                QTimer.singleShot(0, self._first_layout)

    def _first_layout(self) -> None:
        self._size_docks()
        self._size_splitters()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self._closed = True
            self.save_layout()
            self.bridge.dispose()
            self.notifier.hide()
            self.closing.emit()
        super().closeEvent(event)


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)
