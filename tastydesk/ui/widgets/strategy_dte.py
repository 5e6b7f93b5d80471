"""DTE range editor: a three-handle slider (min, target, max) linked to three spin boxes.

The slider keeps min <= target <= max while dragging; the spin boxes accept any value so the
strategy validation can name a range typed the wrong way round instead of silently fixing it.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

MAX_DTE = 730
HANDLES = ("min", "target", "max")


class DteRangeSlider(QWidget):
    """Three draggable handles on one track; the target handle is drawn as a diamond."""

    values_changed = Signal(int, int, int)

    def __init__(self, maximum: int = 120, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._maximum = maximum
        self._values = [0, 0, 0]
        self._drag: int | None = None
        self.setMinimumHeight(26)
        self.setMinimumWidth(160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the spin boxes carry keyboard editing
        self.setToolTip("Drag the handles: ○ min DTE, ◆ target DTE, ○ max DTE")

    # ---- Public API
    def values(self) -> tuple[int, int, int]:
        return self._values[0], self._values[1], self._values[2]

    def set_values(self, lo: int, target: int, hi: int) -> None:
        """Show the range; the track grows to fit values beyond its current end."""
        self._values = [lo, target, hi]
        top = max(lo, target, hi)
        if top > self._maximum or self._maximum > max(120, top * 2):
            self._maximum = min(MAX_DTE, max(120, int(top * 1.5)))
        self.update()

    def maximum(self) -> int:
        return self._maximum

    def value_at(self, x: float) -> int:
        left, width = self._track()
        frac = 0.0 if width <= 0 else (x - left) / width
        return round(min(1.0, max(0.0, frac)) * self._maximum)

    def x_of(self, value: int) -> float:
        left, width = self._track()
        return left + width * (min(value, self._maximum) / self._maximum)

    # ---- Qt overrides
    def sizeHint(self) -> QSize:
        return QSize(220, 26)

    def paintEvent(self, event: QPaintEvent) -> None:
        pal = self.palette()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        mid_y = self.height() / 2
        left, width = self._track()
        groove = pal.color(QPalette.ColorRole.Mid)
        accent = pal.color(QPalette.ColorRole.Highlight)
        painter.setPen(QPen(groove, 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(QPointF(left, mid_y), QPointF(left + width, mid_y))
        lo, target, hi = self._values
        inverted = not lo <= target <= hi
        band = QColor("#d32f2f") if inverted else accent
        painter.setPen(QPen(band, 5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(QPointF(self.x_of(min(lo, hi)), mid_y),
                         QPointF(self.x_of(max(lo, hi)), mid_y))
        painter.setPen(QPen(pal.color(QPalette.ColorRole.Text), 1))
        for i, value in enumerate(self._values):
            x = self.x_of(value)
            painter.setBrush(accent if i == 1 else pal.color(QPalette.ColorRole.Base))
            if i == 1:
                r = 7.0
                painter.drawPolygon([QPointF(x, mid_y - r), QPointF(x + r, mid_y),
                                     QPointF(x, mid_y + r), QPointF(x - r, mid_y)])
            else:
                painter.drawEllipse(QRectF(x - 6, mid_y - 6, 12, 12))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        x = event.position().x()
        distances = [abs(self.x_of(v) - x) for v in self._values]
        # Ties (stacked handles): prefer target, then the side the user clicked toward.
        best = min(range(3), key=lambda i: (distances[i], 0 if i == 1 else 1))
        self._drag = best
        self._drag_to(x)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None:
            self._drag_to(event.position().x())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None

    # ---- internals
    def _track(self) -> tuple[float, float]:
        margin = 9.0
        return margin, max(1.0, self.width() - 2 * margin)

    def _drag_to(self, x: float) -> None:
        assert self._drag is not None
        value = self.value_at(x)
        lo, target, hi = self._values
        if self._drag == 0:
            lo = min(value, target)
        elif self._drag == 1:
            target = min(max(value, lo), hi)
        else:
            hi = max(value, target)
        if [lo, target, hi] != self._values:
            self._values = [lo, target, hi]
            self.update()
            self.values_changed.emit(lo, target, hi)


class DteRangeEditor(QWidget):
    """min / target / max spin boxes, the range slider and "prefer monthly", kept in step."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.min_spin = self._spin("Minimum days to expiration")
        self.target_spin = self._spin("Target days to expiration: the expiry nearest it is used")
        self.max_spin = self._spin("Maximum days to expiration")
        self.slider = DteRangeSlider(parent=self)
        self.prefer_monthly = QCheckBox("Prefer monthly", self)
        self.prefer_monthly.setToolTip("Pick the monthly expiration when one lies in the range")
        # Spin boxes above, the slider under them at full width: the editor (and the Strategy
        # Builder dock) stays narrow enough to share a screen with the other docks.
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        row = QHBoxLayout()
        row.setSpacing(4)
        for label, spin in (("min", self.min_spin), ("target", self.target_spin),
                            ("max", self.max_spin)):
            caption = QLabel(label, self)
            caption.setBuddy(spin)
            row.addWidget(caption)
            row.addWidget(spin)
        row.addStretch(1)
        row.addWidget(self.prefer_monthly)
        layout.addLayout(row)
        layout.addWidget(self.slider)
        for spin in (self.min_spin, self.target_spin, self.max_spin):
            spin.valueChanged.connect(self._on_spin_changed)
        self.slider.values_changed.connect(self._on_slider_changed)
        self.prefer_monthly.toggled.connect(lambda _on: self.changed.emit())

    # ---- Public API
    def values(self) -> tuple[int, int, int, bool]:
        return (self.min_spin.value(), self.target_spin.value(), self.max_spin.value(),
                self.prefer_monthly.isChecked())

    def set_values(self, lo: int, target: int, hi: int, prefer_monthly: bool) -> None:
        for spin, value in ((self.min_spin, lo), (self.target_spin, target),
                            (self.max_spin, hi)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        self.prefer_monthly.blockSignals(True)
        self.prefer_monthly.setChecked(prefer_monthly)
        self.prefer_monthly.blockSignals(False)
        self.slider.set_values(lo, target, hi)

    # ---- Slots
    def _on_spin_changed(self, _value: int) -> None:
        self.slider.set_values(self.min_spin.value(), self.target_spin.value(),
                               self.max_spin.value())
        self.changed.emit()

    def _on_slider_changed(self, lo: int, target: int, hi: int) -> None:
        for spin, value in ((self.min_spin, lo), (self.target_spin, target),
                            (self.max_spin, hi)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        self.changed.emit()

    def _spin(self, tip: str) -> QSpinBox:
        spin = QSpinBox(self)
        spin.setRange(0, MAX_DTE)
        spin.setSuffix(" d")
        spin.setToolTip(tip)
        return spin
