"""Risk graph of a proposal: P&L at expiry and today against the underlying price.

pyqtgraph costs about half a second to import, so it is imported when the first chart is built,
never when this module is imported. Items are created once; updates only call ``setData``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QColor, QPalette, QResizeEvent
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from tastydesk.engine.domain.proposal import PnlCurve, TradeProposal
from tastydesk.ui import format as fmt

HOVER_HINT = "Hover over the chart to read the P&L at a price"
#: Below this plot width the breakeven labels (also listed in the summary line) are left off,
#: so they never print over the max profit / max loss labels.
COMPACT_WIDTH = 400


def chart_colors(palette: QPalette) -> dict[str, QColor]:
    """Colours for the current light or dark palette; profit/loss stay distinguishable on both."""
    background = palette.color(QPalette.ColorRole.Base)
    foreground = palette.color(QPalette.ColorRole.Text)
    dark = background.lightness() < 128
    accent = palette.color(QPalette.ColorRole.Highlight)
    return {
        "background": background,
        "foreground": foreground,
        "grid": palette.color(QPalette.ColorRole.Mid),
        "profit": QColor("#66bb6a" if dark else "#2e7d32"),
        "loss": QColor("#ef5350" if dark else "#c62828"),
        "today": QColor("#64b5f6" if dark else "#1565c0"),
        "spot": QColor("#ffb74d" if dark else "#e65100"),
        "band": QColor(accent.red(), accent.green(), accent.blue(), 38),
    }


def _signed_money(value: float, places: int = 2) -> str:
    return fmt.money(value, signed=True, places=places)


def _split_at_zero(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insert the zero crossings so profit and loss fills meet exactly on the zero line."""
    if len(x) < 2:
        return x, y
    sign = np.sign(y)
    cross = np.nonzero(sign[:-1] * sign[1:] < 0)[0]
    if len(cross) == 0:
        return x, y
    x0, x1, y0, y1 = x[cross], x[cross + 1], y[cross], y[cross + 1]
    xc = x0 - y0 * (x1 - x0) / (y1 - y0)
    xs = np.insert(x, cross + 1, xc)
    ys = np.insert(y, cross + 1, 0.0)
    return xs, ys


def _plateau_middle(y: np.ndarray, level: float) -> int:
    """Index in the middle of the longest run of points at ``level`` (where a label fits best)."""
    hits = np.abs(y - level) <= 1e-9 * max(1.0, abs(level))
    best_start, best_len, start = 0, 0, None
    for i, hit in enumerate(np.append(hits, False)):
        if hit and start is None:
            start = i
        elif not hit and start is not None:
            if i - start > best_len:
                best_start, best_len = start, i - start
            start = None
    return best_start + best_len // 2


class PnlChart(QWidget):
    """P&L at expiry (solid) and today (dashed), zero line, breakevens, spot, 1σ band."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        self._pg = pg
        self._x = np.zeros(0)
        self._expiry = np.zeros(0)
        self._today = np.zeros(0)
        self._breakevens: list[float] = []
        self._spot: float | None = None
        self._colors = chart_colors(QApplication.palette())

        self.summary = QLabel(self)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout = QLabel(HOVER_HINT, self)
        from tastydesk.ui.widgets.equity_chart import DollarAxis

        self.plot_widget = pg.PlotWidget(parent=self, axisItems={"left": DollarAxis("left")})
        self.plot_widget.setMenuEnabled(False)
        self.plot_widget.setMinimumHeight(160)
        plot = self.plot_widget.getPlotItem()
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setLabel("bottom", "Underlying price")
        plot.setLabel("left", "P&L")
        plot.hideButtons()
        plot.vb.setDefaultPadding(0.12)  # room for the max profit / max loss labels

        self.band = pg.LinearRegionItem(values=(0, 0), movable=False)
        self.band.setZValue(-20)
        plot.addItem(self.band)
        self.zero_line = pg.InfiniteLine(pos=0, angle=0, movable=False)
        plot.addItem(self.zero_line)
        self._zero_item = pg.PlotDataItem()
        self._profit_item = pg.PlotDataItem()
        self._loss_item = pg.PlotDataItem()
        self.profit_fill = pg.FillBetweenItem(self._profit_item, self._zero_item)
        self.loss_fill = pg.FillBetweenItem(self._loss_item, self._zero_item)
        for fill in (self.profit_fill, self.loss_fill):
            fill.setZValue(-10)
            plot.addItem(fill)
        self.expiry_item = plot.plot()
        self.today_item = plot.plot()
        self.spot_line = pg.InfiniteLine(angle=90, movable=False, label="spot {value:.2f}",
                                         labelOpts={"position": 0.5})
        plot.addItem(self.spot_line)
        self.breakeven_item = pg.ScatterPlotItem(size=9, symbol="d")
        plot.addItem(self.breakeven_item)
        self._breakeven_labels: list[Any] = []
        self._extreme_labels = [pg.TextItem(anchor=(0.5, 1.2)), pg.TextItem(anchor=(0.5, 1.2))]
        for label in self._extreme_labels:
            plot.addItem(label)
        self.cross_v = pg.InfiniteLine(angle=90, movable=False)
        self.cross_h = pg.InfiniteLine(angle=0, movable=False)
        for line in (self.cross_v, self.cross_h):
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        for label in (self.summary, self.readout):
            label.setContentsMargins(6, 0, 6, 0)
            label.setWordWrap(True)  # a narrow pane wraps the legend instead of clipping it
        layout.addWidget(self.summary)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.readout)
        self.plot_widget.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._apply_palette()
        self.set_curve(None, None, ())

    # ---- Public API
    def set_proposal(self, proposal: TradeProposal | None) -> None:
        """Show a proposal's curve; ``None`` or a proposal without a curve clears the chart."""
        if proposal is None or proposal.curve is None:
            self.set_curve(None, None, ())
            if proposal is not None:
                self.summary.setText("No P&L curve for this proposal")
            return
        self.set_curve(proposal.curve, float(proposal.spot),
                       [float(b) for b in proposal.breakevens])

    def set_curve(self, curve: PnlCurve | None, spot: float | None,
                  breakevens: Sequence[float]) -> None:
        """Plot ``curve``; every series must have one value per price."""
        if curve is None:
            self._x = self._expiry = self._today = np.zeros(0)
            self._spot = None
            self._breakevens = []
        else:
            n = len(curve.prices)
            if len(curve.at_expiry) != n:
                raise ValueError(f"curve.at_expiry has {len(curve.at_expiry)} values, "
                                 f"curve.prices has {n}")
            if len(curve.today) != n:
                raise ValueError(f"curve.today has {len(curve.today)} values, "
                                 f"curve.prices has {n}")
            order = np.argsort(np.asarray(curve.prices, dtype=float), kind="stable")
            self._x = np.asarray(curve.prices, dtype=float)[order]
            self._expiry = np.asarray(curve.at_expiry, dtype=float)[order]
            self._today = np.asarray(curve.today, dtype=float)[order]
            self._spot = None if spot is None else float(spot)
            self._breakevens = sorted(float(b) for b in breakevens)
        self._render(curve)

    def readout_at(self, price: float) -> str:
        """The hover text for ``price``: P&L at expiry and today, interpolated on the curve."""
        if len(self._x) == 0:
            return "No curve"
        price = float(min(max(price, self._x[0]), self._x[-1]))
        at_exp = float(np.interp(price, self._x, self._expiry))
        today = float(np.interp(price, self._x, self._today))
        return (f"Price {price:,.2f}   At expiry {_signed_money(at_exp)}   "
                f"Today {_signed_money(today)}")

    def show_crosshair(self, price: float) -> None:
        if len(self._x) == 0:
            return
        price = float(min(max(price, self._x[0]), self._x[-1]))
        self.cross_v.setPos(price)
        self.cross_h.setPos(float(np.interp(price, self._x, self._expiry)))
        self.cross_v.setVisible(True)
        self.cross_h.setVisible(True)
        self.readout.setText(self.readout_at(price))

    def breakeven_points(self) -> list[tuple[float, float]]:
        xs, ys = self.breakeven_item.getData()
        return [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]

    def visible_labels(self) -> list[str]:
        """Texts of the labels drawn on the plot (breakevens, max profit, max loss)."""
        return [label.textItem.toPlainText()
                for label in (*self._breakeven_labels, *self._extreme_labels)
                if label.isVisible()]

    @property
    def compact(self) -> bool:
        """Too narrow for breakeven labels on the plot (the summary line lists them)."""
        return self.plot_widget.width() < COMPACT_WIDTH

    # ---- Qt overrides
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        for i, label in enumerate(self._breakeven_labels):
            label.setVisible(i < len(self._breakevens) and not self.compact)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_palette()
        super().changeEvent(event)

    # ---- Slots
    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        plot = self.plot_widget.getPlotItem()
        if len(self._x) == 0 or not plot.sceneBoundingRect().contains(scene_pos):
            return
        point = plot.vb.mapSceneToView(scene_pos)
        self.show_crosshair(point.x())

    # ---- internals
    def _render(self, curve: PnlCurve | None) -> None:
        pg = self._pg
        has = len(self._x) > 0
        self.expiry_item.setData(self._x, self._expiry)
        self.today_item.setData(self._x, self._today)
        xs, ys = _split_at_zero(self._x, self._expiry)
        self._zero_item.setData(xs, np.zeros_like(ys))
        self._profit_item.setData(xs, np.maximum(ys, 0.0))
        self._loss_item.setData(xs, np.minimum(ys, 0.0))
        for fill in (self.profit_fill, self.loss_fill, self.band, self.zero_line):
            fill.setVisible(has)
        # No curve: no axes either (they would keep the last trade's dollar scale).
        self.plot_widget.setVisible(has)
        self.spot_line.setVisible(has and self._spot is not None)
        if self._spot is not None:
            self.spot_line.setPos(self._spot)
        if curve is not None:
            self.band.setRegion((curve.one_sd_low, curve.one_sd_high))
        self.breakeven_item.setData(self._breakevens, [0.0] * len(self._breakevens))
        while len(self._breakeven_labels) < len(self._breakevens):
            label = self._backed(pg.TextItem(anchor=(0.5, -0.4),
                                             color=self._colors["foreground"]))
            self.plot_widget.getPlotItem().addItem(label)
            self._breakeven_labels.append(label)
        for i, label in enumerate(self._breakeven_labels):
            if i < len(self._breakevens):
                label.setText(f"BE {self._breakevens[i]:,.2f}")
                label.setPos(self._breakevens[i], 0.0)
                label.setAnchor((self._breakeven_anchor(i), -0.4))
                label.setVisible(not self.compact)
            else:
                label.setVisible(False)
        top, bottom = self._extreme_labels
        if has:
            hi = _plateau_middle(self._expiry, float(self._expiry.max()))
            lo = _plateau_middle(self._expiry, float(self._expiry.min()))
            top.setText(f"Max profit {_signed_money(float(self._expiry[hi]), 0)}")
            top.setPos(float(self._x[hi]), float(self._expiry[hi]))
            top.setAnchor((self._anchor_x(hi), -0.25))  # under the plateau: never off the top
            bottom.setText(f"Max loss {_signed_money(float(self._expiry[lo]), 0)}")
            bottom.setPos(float(self._x[lo]), float(self._expiry[lo]))
            bottom.setAnchor((self._anchor_x(lo), 1.2))
        top.setVisible(has and float(self._expiry.max(initial=0.0)) > 0)
        bottom.setVisible(has and float(self._expiry.min(initial=0.0)) < 0)
        for line in (self.cross_v, self.cross_h):
            line.setVisible(False)
        self.summary.setText(self._summary_text(curve))
        self.readout.setText(HOVER_HINT if has else "")
        if has:
            self.plot_widget.getPlotItem().enableAutoRange()

    def _backed(self, label: Any) -> Any:
        """A label on the chart's own background: readable over the profit and loss fills and
        the curves, in the dark theme too."""
        back = QColor(self._colors["background"])
        back.setAlpha(215)
        label.fill = self._pg.mkBrush(back)  # TextItem's public fill (it has no setter)
        label.update()
        return label

    def _breakeven_anchor(self, i: int) -> float:
        """Outer breakevens label outward (left of the lowest, right of the highest), so two
        breakevens close together on a narrow chart never print over each other."""
        n = len(self._breakevens)
        if n < 2:
            return 0.5
        return 1.04 if i == 0 else (-0.04 if i == n - 1 else 0.5)

    def _anchor_x(self, i: int) -> float:
        """Keep a label inside the plot: left-aligned near the left edge, right near the right."""
        frac = i / max(1, len(self._x) - 1)
        return 0.0 if frac < 0.2 else (1.0 if frac > 0.8 else 0.5)

    def _summary_text(self, curve: PnlCurve | None) -> str:
        if curve is None or len(self._x) == 0:
            return "No proposal"
        c = self._colors
        parts = [f"<span style='color:{c['foreground'].name()}'>━ at expiry</span>",
                 f"<span style='color:{c['today'].name()}'>╌ today</span>"]
        parts.append(f"1σ {curve.one_sd_low:,.2f} – {curve.one_sd_high:,.2f}")
        if self._breakevens:
            parts.append("Breakeven " + ", ".join(f"{b:,.2f}" for b in self._breakevens))
        else:
            parts.append("No breakeven")
        return "&nbsp;&nbsp;&nbsp;".join(parts)

    def _apply_palette(self) -> None:
        pg = self._pg
        c = self._colors = chart_colors(QApplication.palette())
        self.plot_widget.setBackground(c["background"])
        plot = self.plot_widget.getPlotItem()
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(pg.mkPen(c["grid"]))
            axis.setTextPen(pg.mkPen(c["foreground"]))
        self.expiry_item.setPen(pg.mkPen(c["foreground"], width=2))
        self.today_item.setPen(pg.mkPen(c["today"], width=1.5, style=Qt.PenStyle.DashLine))
        self.zero_line.setPen(pg.mkPen(c["grid"], width=1))
        self.spot_line.setPen(pg.mkPen(c["spot"], width=1, style=Qt.PenStyle.DotLine))
        self.spot_line.label.setColor(c["spot"])
        profit, loss = QColor(c["profit"]), QColor(c["loss"])
        profit.setAlpha(70)
        loss.setAlpha(70)
        self.profit_fill.setBrush(pg.mkBrush(profit))
        self.loss_fill.setBrush(pg.mkBrush(loss))
        self.band.setBrush(pg.mkBrush(c["band"]))
        for line in self.band.lines:
            line.setPen(pg.mkPen(c["band"].darker(130), width=1))
        self.breakeven_item.setBrush(pg.mkBrush(c["foreground"]))
        self.breakeven_item.setPen(pg.mkPen(c["background"]))
        for label in self._breakeven_labels:
            label.setColor(c["foreground"])
        self._extreme_labels[0].setColor(c["profit"])
        self._extreme_labels[1].setColor(c["loss"])
        for label in (*self._breakeven_labels, *self._extreme_labels):
            self._backed(label)
        cross = QColor(c["foreground"])
        cross.setAlpha(120)
        self.cross_v.setPen(pg.mkPen(cross, style=Qt.PenStyle.DashLine))
        self.cross_h.setPen(pg.mkPen(cross, style=Qt.PenStyle.DashLine))
