"""Equity curve (cumulative realised P&L over time) drawn with pyqtgraph.

pyqtgraph costs about half a second to import, so this module is imported only when the
Analytics tab is first shown, never on the start-up path. The value axis reads in dollars; the
time axis in New York time (or local time when the user chose it). Without a closed trade the
chart says so and shows a plain -$100..+$100 frame instead of epoch fractions of a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from tastydesk.ui import format as fmt
from tastydesk.ui.theme import plot_colours, pnl_colour

EMPTY_TITLE = "Equity curve: no closed trades yet"
EMPTY_RANGE = 100.0  # dollars either side of zero while there is nothing to draw


class DollarAxis(pg.AxisItem):
    """A value axis that reads ``−$250``, ``$0``, ``+$500`` (cents only when the steps need them)."""

    def tickStrings(self, values: Any, scale: float, spacing: float) -> list[str]:
        places = 0 if spacing >= 1 else 2
        return [fmt.money(v * scale, signed=True, places=places) for v in values]


class EquityChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("equityChart")
        background, foreground = plot_colours()
        self.time_axis = pg.DateAxisItem()
        self.plot = pg.PlotWidget(background=background,
                                  axisItems={"bottom": self.time_axis,
                                             "left": DollarAxis("left")})
        self.plot.setObjectName("equityChart.plot")
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setLabel("left", "Realised P&L", color=foreground)
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # dollars, never "x0.001"
        self._foreground = foreground
        self.plot.getPlotItem().setClipToView(True)
        zero_pen = pg.mkPen(foreground, width=1, style=Qt.PenStyle.DashLine)
        self.plot.addItem(pg.InfiniteLine(0, angle=0, pen=zero_pen))
        self.curve = self.plot.plot([], [], pen=pg.mkPen("#5b9bff", width=2))
        self.points = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self._show_empty()

    def set_points(self, points: Sequence[tuple[datetime, float]]) -> None:
        """Replace the curve with ``points`` (time, cumulative P&L)."""
        xs = [t.timestamp() for t, _ in points]
        ys = [float(v) for _, v in points]
        self.points = len(xs)
        last = ys[-1] if ys else 0.0
        colour = pnl_colour(last, fmt.money(last))
        self.curve.setPen(pg.mkPen(colour.name() if colour is not None else "#5b9bff", width=2))
        self.curve.setData(xs, ys)
        if not xs:
            self._show_empty()
            return
        self.time_axis.utcOffset = _utc_offset(points[-1][0])
        self.time_axis.setStyle(showValues=True)
        self.time_axis.setLabel(f"Time ({'local' if fmt.local_time() else 'ET'})",
                                color=self._foreground)
        self.plot.enableAutoRange()
        self.plot.setTitle("Equity curve", color=self._foreground, size="9pt")

    def _show_empty(self) -> None:
        self.plot.setTitle(EMPTY_TITLE, color=self._foreground, size="9pt")
        self.time_axis.setStyle(showValues=False)
        self.time_axis.setLabel("")
        self.plot.disableAutoRange()
        self.plot.setXRange(0.0, 1.0, padding=0)
        self.plot.setYRange(-EMPTY_RANGE, EMPTY_RANGE, padding=0)


def _utc_offset(when: datetime) -> int | None:
    """pyqtgraph's offset (seconds west of UTC) for New York time; None: the computer's zone."""
    if fmt.local_time():
        return None
    offset = when.astimezone(fmt.NEW_YORK).utcoffset()
    return None if offset is None else -int(offset.total_seconds())
