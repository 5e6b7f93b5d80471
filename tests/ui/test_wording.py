"""Numbers that mean what they say: legs, zero, closing credit/debit, distance to target/stop."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLabel

from tastydesk.engine.domain.enums import RuleType
from tastydesk.ui import format as fmt
from tastydesk.ui.models.exits import (
    exit_label,
    exit_level,
    exit_tip,
    nearest_text,
    rule_distance,
    rule_measure,
)
from tastydesk.ui.models.positions import positions_model, rules_model
from tastydesk.ui.models.rules import format_threshold
from tastydesk.ui.theme import pnl_colour
from tastydesk.ui.widgets.delegates import PnlDelegate
from tastydesk.ui.widgets.dialogs import ConfirmDialog, ask_close, close_text, close_units
from tastydesk.ui.widgets.tree import KeyedTreeView
from tests.ui import factories as f


def test_option_legs_read_as_a_trader_writes_them() -> None:
    assert fmt.instrument("NVDA  270115C00175000") == "NVDA 15 Jan 27 175 C"
    assert fmt.instrument("SPY   260220P00612500") == "SPY 20 Feb 26 612.5 P"
    assert fmt.instrument("SPY") == "SPY"  # shares stay plain
    assert fmt.instrument("BRK B") == "BRK B"


def test_zero_has_no_sign_and_no_colour() -> None:
    assert fmt.pct(0.3, signed=True) == "0%"
    assert fmt.pct(-0.3, signed=True) == "0%"  # never "-0%"
    assert fmt.money(Decimal("-0.004"), signed=True) == "$0.00"
    assert fmt.number(-0.04, 1) == "0.0"
    assert fmt.pct(0.6, signed=True) == "+1%"
    assert fmt.money(Decimal("-1.5"), signed=True) == "\u2212$1.50"
    assert pnl_colour(0.3, "0%") is None
    assert pnl_colour(Decimal("-0.004"), "$0.00") is None
    assert pnl_colour(0.6, "+1%") is not None
    assert pnl_colour(-0.6, "\u22121%") != pnl_colour(0.6, "+1%")


def test_pnl_cells_that_read_zero_are_painted_neutral(qtbot: Any) -> None:
    model = positions_model()
    view = KeyedTreeView(model, "positions.table")
    qtbot.addWidget(view)
    model.upsert([f.position(1, pnl="0.40", pnl_pct=0.4), f.position(2, pnl="6", pnl_pct=7.0)])
    delegate = PnlDelegate(view)
    column = model.column_index("pnl_pct")

    def text_colour(row: int) -> Any:
        from PySide6.QtGui import QPalette
        from PySide6.QtWidgets import QStyleOptionViewItem

        option = QStyleOptionViewItem()
        option.initFrom(view)
        plain = option.palette.color(QPalette.ColorRole.Text)
        delegate.initStyleOption(option, view.proxy.index(row, column))
        return option.text, option.palette.color(QPalette.ColorRole.Text) == plain

    assert text_colour(0) == ("0%", True)  # 0.4 % shows as 0%: neutral, unsigned
    assert text_colour(1) == ("+7%", False)


def test_closing_a_credit_spread_is_a_debit_and_a_debit_spread_a_credit() -> None:
    credit = replace(f.position(1), quantity=2, mark=Decimal("3.26"), pnl=Decimal("-33"))
    question, detail = close_text(credit, 100)
    assert "whole position (2 of 2)" in question
    assert "buy back at a limit near 3.26 db" in detail
    assert "$652.00 paid" in detail
    assert "Legs held: -1 SPY 18 Dec 26 560 P" in detail
    assert "cr" not in detail.replace("credit", "")
    debit = replace(f.position(2), quantity=4, entry_price=Decimal("-1.50"),
                    mark=Decimal("-2.10"))
    question, detail = close_text(debit, 50)
    assert "50% of the position (2 of 4 spreads)" in question
    assert "sell at a limit near 2.10 cr" in detail and "received" in detail
    assert close_units(1, 50) == 0 and close_units(3, 25) == 1 and close_units(3, 75) == 2


def test_close_dialog_shows_the_closing_debit(qtbot: Any) -> None:
    view = replace(f.position(7), mark=Decimal("3.26"))
    seen: list[str] = []

    def answer() -> None:
        dialog = next(w for w in QApplication.topLevelWidgets()
                      if isinstance(w, ConfirmDialog) and w.isVisible())
        seen.append(" ".join(label.text() for label in dialog.findChildren(QLabel)))
        dialog.reject()

    QTimer.singleShot(0, answer)
    assert ask_close(None, view, 100) is False
    assert "limit near 3.26 db" in seen[0] and "3.26 cr" not in seen[0]


def test_distance_to_stop_and_target_in_dollars() -> None:
    # Entry 0.85 credit, 1 spread: max profit $85; the 50 % target fires at +$42.50 and the
    # 200 % stop at a loss of 2 x $85 = -$170.
    losing = f.position(1, pnl="-1.70", pnl_pct=-2.0)
    stop = exit_level(losing, RuleType.STOP_LOSS)
    assert stop is not None and stop.level == Decimal("-170.00")
    assert stop.away_pct == 99.0  # 1 % of the way covered, 99 % still to go
    assert exit_label(losing) == "stop at \u2212$170 (99% away)"
    winning = f.position(2, pnl="21.25", pnl_pct=25.0)
    assert exit_label(winning) == "target +$42 (50% away)"
    assert "fires at P&L +$42.50" in exit_tip(winning)
    assert "fires at P&L \u2212$170.00" in exit_tip(winning)
    beyond = f.position(3, pnl="-200", pnl_pct=-235.0)
    assert exit_label(beyond) == "stop at \u2212$170 (reached)"


def test_progress_cell_reads_the_stop_in_dollars(qtbot: Any) -> None:
    model = positions_model()
    model.upsert([f.position(1, pnl="-1.70", pnl_pct=-2.0)])
    index = model.index(0, model.column_index("progress"))
    assert index.data() == "stop at \u2212$170 (99% away)"
    assert "1% to stop" not in index.data()


def test_rules_table_in_the_builders_words_and_units(qtbot: Any) -> None:
    model = rules_model()
    rules = f.position(1, pnl="-1.70", pnl_pct=-2.0).rules
    model.sync(rules)

    def row(i: int) -> list[str]:
        return [model.index(i, c).data() for c in range(model.columnCount())]

    target, stop = row(0), row(1)
    # The engine measures both against the credit actually received, and so does the wording.
    assert target[:3] == ["Profit target", "Close", "50 % of credit received"]
    # Now and Distance leave the unit to the Threshold column (the tooltip spells it out).
    assert target[3] == "\u22122.0 %" and target[4] == "52.0 %"
    assert stop[:3] == ["Stop loss", "Close", "loss 200 % of credit received"]
    assert stop[3] == "loss 2.0 %" and stop[4] == "198.0 %"
    tip = model.index(1, model.column_index("current")).data(Qt.ItemDataRole.ToolTipRole)
    assert tip == "loss 2.0 % of credit received"
    tip = model.index(1, model.column_index("distance")).data(Qt.ItemDataRole.ToolTipRole)
    assert tip == "198.0 % of credit received"
    assert "stop_loss" not in " ".join(stop + target)
    assert "max profit" not in " ".join(stop + target)
    position = f.position(1, pnl="-1.70", pnl_pct=-2.0)
    # Compared relative to their thresholds: 198/200 of the stop's way beats 52/50 of the target's.
    assert nearest_text(position) == "Stop loss: 198 % of credit received to go"


def test_day_counts_read_in_the_singular_and_plural() -> None:
    assert format_threshold(RuleType.EXPIRATION_RISK, Decimal("1")) == "1 day left"
    assert format_threshold(RuleType.EXPIRATION_RISK, Decimal("3")) == "3 days left"
    assert format_threshold(RuleType.EX_DIVIDEND, Decimal("1")) == "1 day to ex-date"
    assert rule_measure(RuleType.EXPIRATION_RISK, 1.0) == "1 day left"
    assert rule_measure(RuleType.EX_DIVIDEND, 2.0) == "2 days to ex-date"
    one = replace(f.position(1).rules[0], rule_type=RuleType.TIME_EXIT, distance=1.0)
    assert rule_distance(one) == "1 day"
    assert rule_distance(replace(one, distance=4.0)) == "4 days"


def test_times_show_new_york_with_the_zone_and_local_on_request() -> None:
    t = datetime(2026, 1, 5, 19, 52, 54, tzinfo=UTC)
    assert fmt.time_of_day(t) == "14:52:54 ET"
    assert fmt.timestamp(t) == "2026-01-05 14:52:54 ET"
    assert fmt.clock_time(t) == "Mon 14:52:54 ET"
    fmt.set_local_time(True)
    try:
        assert fmt.local_time()
        local = t.astimezone()
        assert fmt.time_of_day(t).startswith(f"{local:%H:%M:%S} ")
        assert not fmt.time_of_day(t).endswith(" ET")
    finally:
        fmt.set_local_time(False)
    assert fmt.time_of_day(t).endswith(" ET")


def test_activity_times_carry_the_zone_like_the_toolbar_clock(qtbot: Any) -> None:
    from tastydesk.engine.domain.enums import AlertCategory, AlertLevel
    from tastydesk.engine.domain.events import Alert
    from tastydesk.ui.models.activity import activity_model, from_alert

    model = activity_model()
    t = datetime(2026, 1, 5, 19, 52, 54, tzinfo=UTC)
    model.upsert([from_alert(Alert(AlertLevel.INFO, AlertCategory.RULE, "t", "m", t), 1)])
    index = model.index(0, model.column_index("time"))
    assert index.data() == "Mon 14:52:54 ET"
    assert index.data(Qt.ItemDataRole.ToolTipRole) == "2026-01-05 14:52:54 ET"
