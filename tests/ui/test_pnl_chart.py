"""PnlChart: renders a proposal's curves and markers, hover readout, palette, bad input."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPalette
from PySide6.QtWidgets import QApplication

from tastydesk.engine.domain.enums import OptionType, Side
from tastydesk.engine.domain.proposal import (
    PnlCurve,
    PositionGreeks,
    ResolvedLeg,
    TradeProposal,
)
from tastydesk.ui.widgets.pnl_chart import PnlChart


def vertical_curve() -> PnlCurve:
    """Short 440/435 put spread for 1.00 credit: +100 above 440, -400 below 435."""
    x = np.linspace(400.0, 500.0, 201)
    expiry = np.clip((x - 440.0) * 100.0 + 100.0, -400.0, 100.0)
    today = expiry * 0.6
    return PnlCurve(tuple(x), tuple(expiry), tuple(today), 441.0, 469.0)


def make_proposal(curve: PnlCurve | None) -> TradeProposal:
    leg = ResolvedLeg("SPY 240119P00440000", ".SPY240119P440", OptionType.PUT, Side.SELL,
                      Decimal("440"), date(2024, 1, 19), 1, Decimal("2.0"), Decimal("2.2"),
                      Decimal("2.1"), -0.2, 0.01, -0.05, 0.2, 0.18)
    return TradeProposal(
        strategy_name="Put spread", underlying="SPY", spot=Decimal("455"), legs=(leg,),
        quantity=1, mid_price=Decimal("1.00"), natural_price=Decimal("0.90"),
        max_profit=Decimal("100"), max_loss=Decimal("400"), defined_risk=True,
        breakevens=(Decimal("439"),), pop=0.7, touch_probability=0.5,
        expected_value=Decimal("5"), risk_reward=4.0, greeks=PositionGreeks(delta=5.0),
        buying_power=Decimal("400"), fees=Decimal("2.2"), warnings=(),
        created_at=datetime(2023, 12, 20, 15, tzinfo=UTC), curve=curve)


@pytest.fixture(name="chart")
def fixture_chart(qtbot) -> PnlChart:
    chart = PnlChart()
    qtbot.addWidget(chart)
    chart.resize(640, 380)
    chart.show()
    qtbot.waitExposed(chart)
    return chart


def test_chart_renders_proposal_curves_and_markers(chart: PnlChart) -> None:
    chart.set_proposal(make_proposal(vertical_curve()))
    xs, ys = chart.expiry_item.getData()
    assert len(xs) == 201 and float(ys.max()) == pytest.approx(100.0)
    tx, ty = chart.today_item.getData()
    assert len(tx) == 201 and float(ty.min()) == pytest.approx(-240.0)
    assert chart.breakeven_points() == [(439.0, 0.0)]
    assert chart.spot_line.isVisible() and chart.spot_line.value() == pytest.approx(455.0)
    assert chart.band.getRegion() == pytest.approx((441.0, 469.0))
    assert "Breakeven 439.00" in chart.summary.text()
    texts = [label.textItem.toPlainText() for label in chart._extreme_labels]
    assert texts == ["Max profit +$100", "Max loss \u2212$400"]
    # Profit and loss fills meet at the zero crossing (inserted between samples).
    px, py = chart._profit_item.getData()
    assert 439.0 in set(np.round(px, 6)) and float(py.min()) == 0.0
    image = chart.grab().toImage()
    assert not image.isNull() and image.width() > 600


def test_chart_hover_readout_follows_mouse(chart: PnlChart, qtbot) -> None:
    chart.set_proposal(make_proposal(vertical_curve()))
    QApplication.processEvents()
    plot = chart.plot_widget.getPlotItem()
    scene_pos = plot.vb.mapViewToScene(QPointF(430.0, 0.0))
    view_pos = chart.plot_widget.mapFromScene(scene_pos)
    viewport = chart.plot_widget.viewport()
    event = QMouseEvent(QEvent.Type.MouseMove, QPointF(view_pos),
                        QPointF(viewport.mapToGlobal(QPoint(view_pos.x(), view_pos.y()))),
                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, event)
    text = chart.readout.text()
    assert text.startswith("Price ")
    price = float(text.split()[1].replace(",", ""))
    assert price == pytest.approx(430.0, abs=0.5)
    assert "At expiry \u2212$400.00" in text and "Today \u2212$240.00" in text
    assert chart.cross_v.isVisible()
    assert chart.cross_v.value() == pytest.approx(price, abs=0.01)


def test_chart_readout_interpolates(chart: PnlChart) -> None:
    chart.set_curve(vertical_curve(), 455.0, [439.0])
    assert chart.readout_at(437.5) == "Price 437.50   At expiry \u2212$150.00   Today \u2212$90.00"
    assert chart.readout_at(10.0).startswith("Price 400.00")  # clamped to the curve


def test_chart_clears_and_reports_missing_curve(chart: PnlChart) -> None:
    chart.set_proposal(make_proposal(vertical_curve()))
    chart.set_proposal(make_proposal(None))
    assert len(chart.expiry_item.getData()[0] or []) == 0
    assert chart.breakeven_points() == []
    assert chart.summary.text() == "No P&L curve for this proposal"
    assert not chart.plot_widget.isVisible()  # not the last trade's axes over nothing
    chart.set_proposal(None)
    assert chart.summary.text() == "No proposal"
    assert not chart.spot_line.isVisible()
    chart.set_proposal(make_proposal(vertical_curve()))
    assert chart.plot_widget.isVisible()


def test_chart_rejects_mismatched_curve(chart: PnlChart) -> None:
    bad = PnlCurve((1.0, 2.0), (0.0,), (0.0, 0.0), 1.0, 2.0)
    with pytest.raises(ValueError, match=r"curve\.at_expiry has 1 values"):
        chart.set_curve(bad, 1.5, ())


def test_chart_follows_palette(chart: PnlChart) -> None:
    app = QApplication.instance()
    original = app.palette()
    try:
        dark = QPalette(original)
        dark.setColor(QPalette.ColorRole.Base, QColor("#202124"))
        dark.setColor(QPalette.ColorRole.Text, QColor("#e8eaed"))
        app.setPalette(dark)
        QApplication.processEvents()
        assert chart.plot_widget.backgroundBrush().color().name() == "#202124"
        assert chart.expiry_item.opts["pen"].color().name() == "#e8eaed"
        # Max profit / max loss sit on the chart's own background, not on the red and green
        # fills (red on dark red was unreadable in the dark theme).
        chart.set_proposal(make_proposal(vertical_curve()))
        for label in chart._extreme_labels:
            assert label.fill.color().name() == "#202124" and label.fill.color().alpha() > 200
    finally:
        app.setPalette(original)
        QApplication.processEvents()
    assert chart.plot_widget.backgroundBrush().color() == original.color(QPalette.ColorRole.Base)


def test_chart_update_reuses_items(chart: PnlChart) -> None:
    chart.set_proposal(make_proposal(vertical_curve()))
    items = list(chart.plot_widget.getPlotItem().items)
    chart.set_proposal(make_proposal(vertical_curve()))
    assert list(chart.plot_widget.getPlotItem().items) == items


def test_narrow_chart_leaves_breakeven_labels_to_the_summary(chart: PnlChart, qtbot) -> None:
    chart.set_proposal(make_proposal(vertical_curve()))
    assert "BE 439.00" in chart.visible_labels()  # 640 px: room on the plot
    chart.resize(300, 180)
    qtbot.waitUntil(lambda: chart.compact)
    assert chart.visible_labels() == ["Max profit +$100", "Max loss \u2212$400"]
    assert "Breakeven 439.00" in chart.summary.text()
    assert chart.plot_widget.getAxis("left").tickStrings([-400.0], 1.0, 100.0) == ["\u2212$400"]
