"""The main window: docks, toolbar with the kill switch, status bar, command failures.

The menus (``window_menus``), the dock layout and its persistence (``window_layout``) and the
login flow (``account_flow``) live in their own modules. Every engine command started here runs
through the window's command runner; a failed command of any dock's runner is reported in one
place: the status line and an in-app alert.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QTabWidget,
    QToolBar,
    QWidget,
)

from tastydesk.accounts.model import AccountRef
from tastydesk.engine.domain.enums import Mode
from tastydesk.engine.domain.events import Alert
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.views import HealthView
from tastydesk.engine.facade import EngineFacade
from tastydesk.ui import format as fmt
from tastydesk.ui.account_flow import AccountFlow
from tastydesk.ui.actions import CommandRunner, current_user
from tastydesk.ui.bridge import EngineBridge
from tastydesk.ui.docks.activity_log import ActivityLogDock
from tastydesk.ui.docks.approval_queue import ApprovalQueueDock
from tastydesk.ui.docks.position_monitor import PositionMonitorDock
from tastydesk.ui.docks.workflow_status import WorkflowStatusDock
from tastydesk.ui.heap import freeze_long_lived
from tastydesk.ui.notifications import Notifier
from tastydesk.ui.read_only import lock_writes
from tastydesk.ui.resources import icon
from tastydesk.ui.theme import MODE_COLOURS, apply_theme, stream_chip
from tastydesk.ui.widgets.dialogs import ask_confirm
from tastydesk.ui.window_layout import KEY_THEME, Docks, WindowLayout
from tastydesk.ui.window_menus import MenuHandlers, build_menus

log = logging.getLogger(__name__)

KEY_BANNER = "window/paper_banner_dismissed"
AUTOMATION = "automation"  # runner key of the kill switch


class MainWindow(QMainWindow):
    """The workstation window over one engine."""

    closing = Signal()  # emitted once, when the window is about to close

    def __init__(self, engine: EngineFacade, parent: QWidget | None = None,
                 settings: QSettings | None = None, tray_available: bool | None = None,
                 freeze_heap: bool = True) -> None:
        """``freeze_heap``: freeze the heap once built (see tastydesk.ui.heap); False when the
        caller does it itself (the app, once the window has painted)."""
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.engine = engine
        self.switch_requested = False  # closed to reopen on another account
        self.switch_target: AccountRef | None = None  # the account to reopen on
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
        roles = Docks(self.approval_dock, self.position_dock, self.workflow_dock,
                      self.activity_dock, self.builder_dock)
        self.docks: list[QDockWidget] = roles.all()
        for dock in self.docks:
            dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                             | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                             | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        for runner in (self.runner, self.approval_dock.runner, self.position_dock.runner):
            self.watch(runner)
        self.layout_keeper = WindowLayout(self, roles, self.settings)
        self.layout_keeper.arrange_default()
        self.account = AccountFlow(self, engine, self.runner, self.toast_message,
                                   self._switch_broker)

        self._build_toolbar()
        self._build_banner()
        self._build_status_bar()
        self._build_menus()
        self.bridge.alert_raised.connect(self._on_alert)
        self.bridge.ticked.connect(self._on_tick)
        self.bridge.config_changed.connect(lambda _e: self.refresh_status())
        # The Pending and Open chips follow workflow changes at once (coalesced: a burst of
        # transitions refreshes the chips once, on the next turn of the event loop).
        self._status_timer = QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.setInterval(0)
        self._status_timer.timeout.connect(self.refresh_status)
        self.bridge.workflow_changed.connect(lambda _e: self._schedule_status())
        self._ticks = 0

        self.layout_keeper.capture_defaults()
        self._shown_once = False
        self._restored = self.restore_layout()
        self.refresh_status()
        if freeze_heap:
            QTimer.singleShot(0, freeze_long_lived)  # once built: see tastydesk.ui.heap

    # ---- Docks and layout
    def _make_builder_dock(self) -> QDockWidget | None:
        try:
            from tastydesk.ui.builder import StrategyBuilderDock
        except ImportError as exc:
            log.warning("Strategy Builder unavailable: %s", exc)
            return None
        return StrategyBuilderDock(self.engine, self, user=current_user(), runner=self.runner)

    def save_layout(self) -> None:
        """Persist window geometry, dock layout, column widths and sort orders."""
        self.layout_keeper.save()

    def restore_layout(self) -> bool:
        """Restore the saved layout if it was written by this layout version."""
        return self.layout_keeper.restore()

    def reset_layout(self) -> None:
        """Back to the built-in layout, column widths and sort orders."""
        self.layout_keeper.reset()

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
        menus = build_menus(self, self.docks, MenuHandlers(
            login=self.account.show_login, logout=self.account.log_out,
            settings=self.show_settings, quit=self.close, focus_dock=self.focus_dock,
            set_theme=self.set_theme, reset_layout=self.reset_layout,
            switch_account=self.account.show_switch))
        self.login_action = menus.login
        self.dock_actions = menus.dock_actions
        self.theme_actions = menus.theme_actions

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

    # ---- Commands
    def toggle_automation(self) -> None:
        """Kill switch: pausing is immediate; re-arming asks for confirmation."""
        if self.engine.health().automation_armed:
            self._set_automation(False)
        elif ask_confirm(self, "Re-arm automation",
                         "Re-arm automation? Rules and scheduled scans may send orders again "
                         "without asking.", "Re-arm"):
            self._set_automation(True)
        self.refresh_status()

    def _set_automation(self, armed: bool) -> None:
        user = current_user()
        self.runner.run(AUTOMATION, lambda: self.engine.set_automation(armed, user),
                        on_success=lambda _r: self.refresh_status())

    def _on_kill_switch_clicked(self) -> None:
        # The button's checked state follows the engine, not the click.
        self.toggle_automation()

    def scan_now(self) -> None:
        self.runner.run("scan", lambda: self.engine.scan_now())

    def show_settings(self) -> None:
        from tastydesk.ui.widgets.settings_dialog import SettingsDialog

        SettingsDialog(self.engine, self, runner=self.runner).exec()
        self.refresh_status()

    def show_login(self) -> None:
        self.account.show_login()

    def _switch_broker(self, target: AccountRef | None = None) -> None:
        self.switch_requested = True
        self.switch_target = target
        self.close()

    def watch(self, runner: CommandRunner) -> None:
        """Report every failed command of ``runner`` the same way: status line and alert."""
        runner.failed.connect(self._on_command_failed)

    def _on_command_failed(self, _key: object, message: str) -> None:
        if message == "cancelled":
            return
        alert = Alert("warning", "error", "Not done", message, self.engine.clock.now())
        if not self.notifier.notify(alert):
            self.toast_message(f"Not done: {message}")

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

    def focus_workflow(self, workflow_id: WorkflowId | None) -> None:
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

    def _schedule_status(self) -> None:
        if not self._status_timer.isActive():
            self._status_timer.start()

    def refresh_status(self) -> None:
        """Update toolbar chips and the kill switch from the engine's health snapshot."""
        h: HealthView = self.engine.health()
        chips = self.chips
        streams_text, streams_tip = stream_chip(h.streams)
        chips["streams"].setTextFormat(Qt.TextFormat.RichText)
        chips["streams"].setText(streams_text)
        chips["streams"].setToolTip(streams_tip)
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
        lock_writes(self.engine, self.kill_switch, self.kill_action, self.scan_action)
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
        self.layout_keeper.size_default()

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
