"""Settings dialog: every EngineConfig field, validated with field-named messages, applied live.

Values are edited as text and parsed by ``EngineConfig.from_dict`` so the dialog and the engine
share one set of rules; each ``ConfigError`` entry is shown next to its field.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from tastydesk.engine.config import ConfigError, EngineConfig
from tastydesk.engine.domain.enums import RuleType
from tastydesk.engine.facade import EngineFacade
from tastydesk.ui import format as fmt
from tastydesk.ui.actions import CommandRunner, current_user
from tastydesk.ui.read_only import lock_writes

NOTIFY_CATEGORIES = ("pending", "fill", "rule", "error", "risk", "connection")

GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Scanning", ("watchlist", "scan_interval_minutes", "max_workflows_per_symbol",
                  "max_workflows_total", "min_confidence", "trend_weight", "portfolio_weight",
                  "bias_threshold")),
    ("Portfolio limits", ("max_allocation_pct", "max_portfolio_bwd")),
    ("Pricing", ("reprice_tolerance", "max_exit_slippage", "max_quote_age_seconds")),
    ("Approvals and cool-downs", ("approval_expiry_minutes", "reject_cooldown_minutes",
                                  "restart_cooldown_minutes", "auto_approve")),
    ("Paper market", ("paper_speed", "paper_seed")),
)

WIDE_FIELDS = frozenset({"watchlist"})

LABELS = {
    "watchlist": ("Watchlist", "Symbols to scan, separated by commas or spaces"),
    "scan_interval_minutes": ("Scan every (min)", "Scheduled scans while the market is open"),
    "max_workflows_per_symbol": ("Max workflows / symbol", ""),
    "max_workflows_total": ("Max workflows total", ""),
    "min_confidence": ("Min confidence (0-1)", "Proposals below this confidence are dropped"),
    "trend_weight": ("Trend weight", "Bias score = trend weight x trend - portfolio weight x "
                     "normalised delta"),
    "portfolio_weight": ("Portfolio weight", ""),
    "bias_threshold": ("Bias threshold (0-1)", "|score| above which the bias is directional"),
    "max_allocation_pct": ("Max allocation (% of BP)", ""),
    "max_portfolio_bwd": ("Max |beta-weighted delta|", "New trades are blocked above this"),
    "reprice_tolerance": ("Approval tolerance ($)",
                          "How far the mid may move against the price the trader approved "
                          "before the trade comes back to the queue instead of being sent"),
    "max_exit_slippage": ("Max slippage on fast exits ($)",
                          "A stop, delta-breach or expiration-risk exit is re-priced at natural "
                          "until filled, but never more than this per share past the natural "
                          "at its trigger"),
    "max_quote_age_seconds": ("Max quote age (s)", "Older quotes block pricing and rules"),
    "approval_expiry_minutes": ("Approval expiry (real min)",
                                "Pending proposals expire after this many real (wall-clock) "
                                "minutes, whatever the paper speed"),
    "reject_cooldown_minutes": ("Cool-down after reject (min)", ""),
    "restart_cooldown_minutes": ("Cool-down after close (min)", ""),
    "auto_approve": ("Auto-approve (simulation only)", "Sends orders without asking: leave off "
                     "for real trading"),
    "paper_speed": ("Paper clock speed (x)", "Simulated seconds per wall second"),
    "paper_seed": ("Paper market seed", ""),
}


class SettingsDialog(QDialog):
    def __init__(self, engine: EngineFacade, parent: QWidget | None = None,
                 runner: CommandRunner | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.engine = engine
        # The window's runner outlives the dialog, so the command finishes after it closes.
        self.runner = runner if runner is not None else CommandRunner(self)
        self.resize(840, 660)
        self.edits: dict[str, QLineEdit | QCheckBox] = {}
        self.errors: dict[str, QLabel] = {}
        self.auto_manage: dict[RuleType, QCheckBox] = {}
        self.notify: dict[str, QCheckBox] = {}
        config = engine.config()

        content = QWidget()
        grid = QGridLayout(content)
        grid.setContentsMargins(6, 6, 6, 6)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        for i, (title, names) in enumerate(GROUPS):
            box = QGroupBox(title)
            form = QFormLayout(box)
            form.setVerticalSpacing(2)
            # Fields take the group's width (some platform styles keep them at their hint).
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            for name in names:
                self._add_field(form, name, getattr(config, name))
            if i < 4:
                grid.addWidget(box, i // 2, i % 2)
            else:
                left = QVBoxLayout()
                left.addWidget(box)
                left.addWidget(self._build_display())
                grid.addLayout(left, 2, 0)
        self.edits["watchlist"].setMinimumWidth(240)

        auto_box = QGroupBox("Automatic management (act without approval)")
        auto_layout = QVBoxLayout(auto_box)
        auto_layout.setSpacing(1)
        for rule_type in RuleType:
            check = QCheckBox(rule_type.value.replace("_", " "))
            check.setObjectName(f"settings.auto_manage.{rule_type.value}")
            check.setChecked(rule_type in config.auto_manage)
            self.auto_manage[rule_type] = check
            auto_layout.addWidget(check)
        self.errors["auto_manage"] = self._error_label("auto_manage")
        auto_layout.addWidget(self.errors["auto_manage"])
        notify_box = QGroupBox("Notify me about")
        notify_layout = QVBoxLayout(notify_box)
        notify_layout.setSpacing(1)
        for category in NOTIFY_CATEGORIES:
            check = QCheckBox(category)
            check.setObjectName(f"settings.notify.{category}")
            check.setChecked(category in config.notify)
            self.notify[category] = check
            notify_layout.addWidget(check)
        self.errors["notify"] = self._error_label("notify")
        notify_layout.addWidget(self.errors["notify"])
        side = QHBoxLayout()
        side.addWidget(auto_box)
        side.addWidget(notify_box)
        grid.addLayout(side, 2, 1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        self.summary = QLabel()
        self.summary.setObjectName("fieldError")
        self.summary.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.save_button = self.buttons.addButton("Save and apply",
                                                  QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.restore_button = self.buttons.addButton("Restore defaults",
                                                     QDialogButtonBox.ButtonRole.ResetRole)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.restore_button.clicked.connect(lambda: self.load(EngineConfig()))
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(content.minimumSizeHint().width()
                               + scroll.verticalScrollBar().sizeHint().width() + 4)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.buttons)
        self.saved: EngineConfig | None = None
        lock_writes(engine, self.save_button, self.restore_button, self.edits["auto_approve"],
                    *self.auto_manage.values())

    def _build_display(self) -> QGroupBox:
        """Display preferences of this computer (QSettings, not engine configuration)."""
        box = QGroupBox("Display")
        layout = QVBoxLayout(box)
        layout.setSpacing(1)
        self.local_time_check = QCheckBox("Show times in this computer's time zone")
        self.local_time_check.setObjectName("settings.local_time")
        self.local_time_check.setToolTip("Off: New York time (ET), the market's clock. On: the "
                                         "zone this computer is set to, named next to each time.")
        self.local_time_check.setChecked(fmt.local_time())
        layout.addWidget(self.local_time_check)
        return box

    def accept(self) -> None:
        """Keep the display preferences with the accepted settings (Cancel leaves them)."""
        fmt.set_local_time(self.local_time_check.isChecked())
        super().accept()

    def _error_label(self, name: str) -> QLabel:
        label = QLabel()
        label.setObjectName("fieldError")
        label.setProperty("field", name)
        label.setWordWrap(True)
        label.hide()
        return label

    def _add_field(self, form: QFormLayout, name: str, value: Any) -> None:
        title, tip = LABELS.get(name, (name, ""))
        if isinstance(value, bool):
            widget: QLineEdit | QCheckBox = QCheckBox()
            widget.setChecked(value)
        else:
            widget = QLineEdit(self._text(value))
            widget.setAlignment(Qt.AlignmentFlag.AlignRight if name != "watchlist"
                                else Qt.AlignmentFlag.AlignLeft)
        widget.setObjectName(f"settings.{name}")
        widget.setToolTip(tip)
        error = self._error_label(name)
        holder = QWidget()
        v = QVBoxLayout(holder)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(0)
        v.addWidget(widget)
        v.addWidget(error)
        label = QLabel(title)
        label.setToolTip(tip)
        if name in WIDE_FIELDS:  # a list: its own line, the group's full width
            form.addRow(label)
            form.addRow(holder)
        else:
            form.addRow(label, holder)
        self.edits[name] = widget
        self.errors[name] = error

    @staticmethod
    def _text(value: Any) -> str:
        if isinstance(value, tuple):
            return ", ".join(str(v) for v in value)
        return str(value)

    # ---- Public API
    def load(self, config: EngineConfig) -> None:
        for name, widget in self.edits.items():
            value = getattr(config, name)
            if isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            else:
                widget.setText(self._text(value))
        for rule_type, check in self.auto_manage.items():
            check.setChecked(rule_type in config.auto_manage)
        for category, check in self.notify.items():
            check.setChecked(category in config.notify)
        self.show_errors({})

    def values(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, widget in self.edits.items():
            data[name] = widget.isChecked() if isinstance(widget, QCheckBox) else widget.text()
        data["auto_manage"] = [r.value for r, c in self.auto_manage.items() if c.isChecked()]
        data["notify"] = [n for n, c in self.notify.items() if c.isChecked()]
        return data

    def validate(self) -> EngineConfig | None:
        """Parse the form; on errors show each next to its field and return None."""
        data = self.values()
        for name in ("watchlist",):
            data[name] = [p for p in str(data[name]).replace(",", " ").split() if p]
        try:
            config = EngineConfig.from_dict(data)
        except ConfigError as exc:
            self.show_errors(exc.errors)
            return None
        self.show_errors({})
        return config

    def show_errors(self, errors: dict[str, str]) -> None:
        for name, label in self.errors.items():
            message = errors.get(name)
            label.setVisible(message is not None)
            label.setText(f"{LABELS.get(name, (name,))[0]}: {message}" if message else "")
        self.summary.setText("" if not errors else
                             f"{len(errors)} field(s) need attention: "
                             + "; ".join(f"{k}: {v}" for k, v in errors.items()))

    def save(self) -> None:
        config = self.validate()
        if config is None:
            return
        current = self.engine.config()
        if config != current:
            changed = [f.name for f in dataclasses.fields(config)
                       if getattr(config, f.name) != getattr(current, f.name)]
            try:
                config.validate()  # the engine validates again; here the errors are shown
            except ConfigError as exc:
                self.show_errors(exc.errors)
                return
            user = current_user()
            self.runner.run("settings", lambda: self.engine.update_config(config, user))
            self.summary.setText("Applied: " + ", ".join(changed))
        self.saved = config
        self.accept()
