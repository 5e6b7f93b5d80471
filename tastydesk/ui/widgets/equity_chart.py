"""Equity curve (cumulative realised P&L over time) drawn with pyqtgraph.

pyqtgraph costs about half a second to import, so this module is imported only when the
Analytics tab is first shown, never on the start-up path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from tastydesk.ui.theme import plot_colours, pnl_colour

EMPTY_TITLE = "Equity curve: no closed trades yet"


class EquityChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("equityChart")
        background, foreground = plot_colours()
        self.plot = pg.PlotWidget(background=background,
                                  axisItems={"bottom": pg.DateAxisItem()})
        self.plot.setObjectName("equityChart.plot")
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setLabel("left", "Realised P&L ($)", color=foreground)
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # dollars, never "x0.001"
        self._foreground = foreground
        self.plot.setTitle(EMPTY_TITLE, color=foreground, size="9pt")
        self.plot.getPlotItem().setClipToView(True)
        zero_pen = pg.mkPen(foreground, width=1, style=Qt.PenStyle.DashLine)
        self.plot.addItem(pg.InfiniteLine(0, angle=0, pen=zero_pen))
        self.curve = self.plot.plot([], [], pen=pg.mkPen("#5b9bff", width=2))
        self.points = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def set_points(self, points: Sequence[tuple[datetime, float]]) -> None:
        """Replace the curve with ``points`` (time, cumulative P&L)."""
        xs = [t.timestamp() for t, _ in points]
        ys = [float(v) for _, v in points]
        self.points = len(xs)
        last = ys[-1] if ys else 0.0
        colour = pnl_colour(last)
        self.curve.setPen(pg.mkPen(colour.name() if colour is not None else "#5b9bff", width=2))
        self.curve.setData(xs, ys)
        self.plot.setTitle("Equity curve" if xs else EMPTY_TITLE, color=self._foreground,
                           size="9pt")
