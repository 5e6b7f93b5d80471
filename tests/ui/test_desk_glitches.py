"""The smaller glitches of the approval desk, on real widgets: login error, Settings width and
display choice, equity chart axes, header room for the sort arrow, stream health, buying power."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QFormLayout, QGroupBox

from tastydesk.engine.domain.enums import StreamHealth
from tastydesk.engine.domain.views import PortfolioView
from tastydesk.ui import format as fmt
from tastydesk.ui.docks.position_monitor import buying_power_text
from tastydesk.ui.models.proposals import pending_model
from tastydesk.ui.theme import apply_theme, level_colour, stream_chip
from tastydesk.ui.widgets.login_dialog import LoginDialog
from tastydesk.ui.widgets.settings_dialog import SettingsDialog
from tastydesk.ui.widgets.table import KeyedTableView, header_width
from tests.conftest import run_coro
from tests.ui import factories as f
from tests.ui.engine_kit import open_paper_engine

LONG_ERROR = ("Login failed: the refresh token was rejected by tastytrade (401 invalid_grant); "
              "create a new one at my.tastytrade.com and paste it again, then verify.")


def test_login_error_does_not_squash_the_fields(qtbot: Any) -> None:
    dialog = LoginDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    fields = (dialog.env_combo, dialog.secret_edit, dialog.token_edit, dialog.account_combo)
    before = [w.height() for w in fields]
    dialog.message.setText(LONG_ERROR)
    QApplication.processEvents()
    dialog.resize(dialog.width(), 10)  # a window manager asking for less cannot squash them
    QApplication.processEvents()
    assert [w.height() for w in fields] == before
    label = dialog.message
    assert label.height() >= label.heightForWidth(label.width())  # the whole message shows


@pytest.fixture(name="engine")
def fixture_engine(qloop: Any, qtbot: Any, tmp_path: Path) -> Any:
    engine = open_paper_engine(qtbot, tmp_path / "data")
    yield engine
    run_coro(qtbot, engine.stop())


def test_settings_watchlist_takes_the_groups_width_and_local_time_saves_with_it(
        engine: Any, qtbot: Any) -> None:
    dialog = SettingsDialog(engine)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    watchlist = dialog.edits["watchlist"]
    group = next(g for g in dialog.findChildren(QGroupBox) if g.title() == "Scanning")
    assert watchlist.width() >= 240
    assert watchlist.width() >= group.width() - 40  # its own line, the group's whole width
    assert isinstance(group.layout(), QFormLayout)
    assert not fmt.local_time()
    dialog.local_time_check.setChecked(True)
    dialog.reject()  # Cancel keeps New York time
    assert not fmt.local_time()
    dialog = SettingsDialog(engine)
    qtbot.addWidget(dialog)
    dialog.local_time_check.setChecked(True)
    dialog.save()
    assert dialog.saved is not None and fmt.local_time()
    fmt.set_local_time(False)


def test_empty_equity_chart_reads_dollars_and_no_epoch_fractions(qtbot: Any) -> None:
    from tastydesk.ui.widgets.equity_chart import EMPTY_TITLE, EquityChart

    chart = EquityChart()
    qtbot.addWidget(chart)
    left, bottom = chart.plot.getAxis("left"), chart.plot.getAxis("bottom")
    assert left.tickStrings([-100.0, 0.0, 50.0], 1.0, 50.0) == ["\u2212$100", "$0", "+$50"]
    assert not bottom.style["showValues"]  # no "00.250 00.500" on an empty time axis
    assert EMPTY_TITLE in chart.plot.getPlotItem().titleLabel.text
    (_x0, _x1), (y0, y1) = chart.plot.viewRange()
    assert (y0, y1) == (-100.0, 100.0)
    start = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    chart.set_points([(start, -33.0), (start + timedelta(hours=3), 120.0)])
    assert bottom.style["showValues"] and chart.points == 2
    assert bottom.utcOffset == 5 * 3600  # New York in January: UTC-5
    chart.set_points([])
    assert not bottom.style["showValues"]


def test_headers_leave_room_for_the_sort_arrow(qtbot: Any) -> None:
    model = pending_model(lambda: f.T0)
    view = KeyedTableView(model, "approval.table", sort_column="pop")
    qtbot.addWidget(view)
    model.upsert([f.pending(1)])
    header = view.horizontalHeader()
    for i, column in enumerate(model.columns):
        if column.width:
            assert view.columnWidth(i) >= header_width(header, column.header), column.key
    pop = model.column_index("pop")
    assert view.columnWidth(pop) > header.fontMetrics().horizontalAdvance("POP") + 14


def test_stream_health_marks_are_coloured_by_state_with_a_tooltip(qtbot: Any) -> None:
    text, tip = stream_chip({"market": StreamHealth.CONNECTED,
                             "account": StreamHealth.DISCONNECTED})
    assert text.index("Account") < text.index("Market")
    assert f"color: {level_colour('ok')}\">\u25cf" in text
    assert f"color: {level_colour('danger')}\">\u2716" in text
    assert "Account: disconnected" in tip and "Market: connected (receiving data)" in tip
    stale, _ = stream_chip({"market": StreamHealth.STALE})
    assert level_colour("warn") in stale
    assert stream_chip({}) == ("Streams \u2014", "No broker stream yet")
    app = QApplication.instance()
    apply_theme(app, "dark")
    try:
        assert level_colour("ok") != "#2e7d32"  # brighter on a dark background
    finally:
        apply_theme(app, "light")


def test_buying_power_is_not_yet_known_until_a_balance_arrives() -> None:
    text, ratio, tip = buying_power_text(PortfolioView())
    assert "not yet known" in text and "$0 of $0" not in text and ratio == 0.0
    assert "balance" in tip
    known = PortfolioView(buying_power_used=Decimal("5312"), buying_power_limit=Decimal("79984"),
                          net_liquidating_value=Decimal("99980"))
    text, ratio, _ = buying_power_text(known)
    assert text == "$5,312 of $79,984 (7%)" and round(ratio, 3) == 0.066
