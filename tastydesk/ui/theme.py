"""Light and dark themes: Fusion palette, style sheet, P&L colours and pyqtgraph colours."""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from tastydesk.engine.domain.enums import StreamHealth
from tastydesk.ui.resources import resource

log = logging.getLogger(__name__)

THEMES = ("light", "dark")
_current = "light"

_PNL = {
    "light": (QColor("#17803d"), QColor("#c62828")),
    "dark": (QColor("#4fc76f"), QColor("#ff6f61")),
}

MODE_COLOURS = {
    "PAPER": ("#1565c0", "#ffffff"),
    "SANDBOX": ("#ef8f00", "#000000"),
    "LIVE": ("#c62828", "#ffffff"),
    "READ-ONLY": ("#5f6368", "#ffffff"),  # an account only looked at: no mode's colour
}

HEALTH_COLOURS = {"ok": "#2e7d32", "warn": "#ef8f00", "danger": "#c62828"}

# Stream health: a mark that differs by shape (never colour alone) and a colour per theme.
_STREAM_STYLE = {
    StreamHealth.CONNECTED: ("\u25cf", "ok", "receiving data"),
    StreamHealth.CONNECTING: ("\u25cc", "warn", "connecting"),
    StreamHealth.STALE: ("\u25b2", "warn", "connected but nothing arrived lately"),
    StreamHealth.DISCONNECTED: ("\u2716", "danger", "disconnected: data is not arriving"),
}
_LEVEL_COLOURS = {
    "light": {"ok": "#2e7d32", "warn": "#c77700", "danger": "#c62828"},
    "dark": {"ok": "#4fc76f", "warn": "#ffb74d", "danger": "#ff6f61"},
}


def current_theme() -> str:
    return _current


def level_colour(level: str) -> str:
    """``ok`` / ``warn`` / ``danger`` as a colour readable on the current theme's background."""
    return _LEVEL_COLOURS[_current].get(level, "#888888")


def stream_chip(streams: Mapping[str, StreamHealth | str]) -> tuple[str, str]:
    """(rich text, tooltip) for the stream-health chip: each stream's name and a mark coloured
    green, amber or red by its health; the tooltip says what each state means."""
    if not streams:
        return "Streams \u2014", "No broker stream yet"
    parts, tips = [], []
    for name, value in sorted(streams.items()):
        try:
            health = StreamHealth(str(value))
        except ValueError:
            parts.append(f"{html.escape(name.title())} ?")
            tips.append(f"{name}: {value}")
            continue
        mark, level, meaning = _STREAM_STYLE[health]
        parts.append(f"{html.escape(name.title())} "
                     f"<span style=\"color: {level_colour(level)}\">{mark}</span>")
        tips.append(f"{name.title()}: {health.value} ({meaning})")
    return "&nbsp;&nbsp;".join(parts), "\n".join(tips)


def pnl_colour(value: object, text: str | None = None) -> QColor | None:
    """Gain/loss colour for ``value`` in the current theme; None for zero or no value.

    With the displayed ``text`` the colour follows what the reader sees: a figure shown as zero
    ("0%", "$0.00") stays neutral even when the value behind it is a hair off zero, and an
    explicit sign in the text decides the direction.
    """
    if text:
        digits = [c for c in text if c.isdigit()]
        if digits and all(c == "0" for c in digits):
            return None
        if text[0] in "+-\u2212":
            gain, loss = _PNL[_current]
            return gain if text[0] == "+" else loss
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if number == 0:
        return None
    gain, loss = _PNL[_current]
    return gain if number > 0 else loss


def _dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor("#1e2126"), QColor("#272b31"), QColor("#e3e6ea")
    p.setColor(QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorRole.WindowText, text)
    p.setColor(QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorRole.AlternateBase, QColor("#23272d"))
    p.setColor(QPalette.ColorRole.ToolTipBase, QColor("#31363d"))
    p.setColor(QPalette.ColorRole.ToolTipText, text)
    p.setColor(QPalette.ColorRole.PlaceholderText, QColor("#8a9099"))
    p.setColor(QPalette.ColorRole.Text, text)
    p.setColor(QPalette.ColorRole.Button, QColor("#30353c"))
    p.setColor(QPalette.ColorRole.ButtonText, text)
    p.setColor(QPalette.ColorRole.BrightText, QColor("#ff6f61"))
    p.setColor(QPalette.ColorRole.Link, QColor("#64a8ff"))
    p.setColor(QPalette.ColorRole.Highlight, QColor("#2f5f99"))
    p.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    p.setColor(QPalette.ColorRole.Mid, QColor("#3b4048"))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText,
                 QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6c727b"))
    return p


def apply_theme(app: QApplication, name: str) -> str:
    """Apply ``light`` or ``dark`` (unknown names fall back to light); returns the applied name."""
    global _current
    name = name if name in THEMES else "light"
    app.setStyle("Fusion")
    if name == "dark":
        app.setPalette(_dark_palette())
    else:
        app.setPalette(app.style().standardPalette())
    try:
        app.setStyleSheet(resource("styles", f"{name}.qss").read_text(encoding="utf-8"))
    except FileNotFoundError:
        log.warning("style sheet for theme %s not found; using the palette only", name)
        app.setStyleSheet("")
    _current = name
    return name


def plot_colours() -> tuple[str, str]:
    """(background, foreground) for pyqtgraph in the current theme."""
    return ("#1e2126", "#c8ccd2") if _current == "dark" else ("#ffffff", "#333333")
