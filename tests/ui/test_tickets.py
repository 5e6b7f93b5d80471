"""Tickets: Modify shows the market per leg and for the spread, Reject offers quick reasons
next to free text, a bulk approval states what it commits to."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses
from decimal import Decimal
from typing import Any

from tastydesk.engine.domain.views import PortfolioView
from tastydesk.ui.widgets.tickets import (
    QUICK_REASONS,
    ModifyTicket,
    RejectTicket,
    bulk_summary,
    price_rows,
)
from tests.ui.factories import pending


def test_price_rows_give_each_leg_and_the_spread() -> None:
    view = pending(1)  # sell 560 P, buy 555 P; each leg 1.10 x 1.20
    rows = price_rows(view.proposal)
    assert [r[0] for r in rows] == ["sell 1 SPY 18 Dec 26 560 P", "buy 1 SPY 18 Dec 26 555 P",
                                    "Spread (per share)"]
    assert rows[0][1:] == (Decimal("1.10"), Decimal("1.20"), Decimal("1.15"), Decimal("1.10"))
    assert rows[1][4] == Decimal("1.20")  # a leg bought costs its ask at natural
    spread = rows[2]
    assert spread[1:3] == (Decimal("-0.10"), Decimal("0.10"))  # 1.10 - 1.20, 1.20 - 1.10
    assert spread[3:] == (view.proposal.mid_price, view.proposal.natural_price)


def test_price_rows_of_a_follow_up_count_its_shares_per_hundred() -> None:
    """A close after an assignment: the long put and 100 shares in one order, priced per 100
    shares, so the shares' bid counts once per unit in the spread's bid."""
    from tastydesk.engine.domain.enums import AfterAssignment, Side
    from tastydesk.engine.domain.proposal import ShareLeg

    view = pending(1)
    put = dataclasses.replace(view.proposal.legs[1], side=Side.SELL)
    proposal = dataclasses.replace(
        view.proposal, legs=(put,), follow_up=AfterAssignment.CLOSE,
        shares=(ShareLeg("SPY", Side.SELL, 100, Decimal("600.00"), Decimal("600.10"),
                         Decimal("600.05")),))
    rows = price_rows(proposal)
    assert [r[0] for r in rows] == ["sell 1 SPY 18 Dec 26 555 P", "sell 100 SPY shares",
                                    "Spread (per share)"]
    assert rows[2][1:3] == (Decimal("601.10"), Decimal("601.30"))


def test_modify_ticket_shows_the_prices_above_the_limit(qtbot: Any) -> None:
    ticket = ModifyTicket(None, pending(1))
    qtbot.addWidget(ticket)
    table = ticket.prices
    assert table.rowCount() == 3
    assert [table.horizontalHeaderItem(c).text() for c in range(5)] == [
        "Leg", "Bid", "Ask", "Mid", "Natural"]
    assert table.item(2, 3).text() == "0.85 cr"
    assert ticket.price == Decimal("0.85")


def test_reject_ticket_takes_a_quick_reason_and_own_words(qtbot: Any) -> None:
    ticket = RejectTicket(None, "SPY Put Credit Spread")
    qtbot.addWidget(ticket)
    assert not ticket.accept_button.isEnabled()
    ticket.quick_buttons[1].click()
    assert ticket.reason == QUICK_REASONS[1]
    assert ticket.accept_button.isEnabled()
    ticket.reason_edit.setPlainText(ticket.reason + ": earnings Tuesday")
    ticket.use(QUICK_REASONS[2])
    assert ticket.reason == f"{QUICK_REASONS[2]}: earnings Tuesday"


def test_bulk_summary_totals_risk_buying_power_and_fees() -> None:
    views = [pending(1), pending(2, "QQQ")]
    undefined = pending(3, "IWM")
    undefined = dataclasses.replace(undefined, proposal=dataclasses.replace(
        undefined.proposal, max_loss=None))
    portfolio = PortfolioView(buying_power_used=Decimal("1000"),
                              buying_power_limit=Decimal("50000"))
    question, detail = bulk_summary([*views, undefined], portfolio)
    loss = sum(v.proposal.max_loss for v in views)
    assert question.startswith("Approve 3 trades")
    assert f"max loss {fmt_money(loss)} plus 1 undefined" in question
    assert "buying power $1,245 of $49,000 available" in question
    assert "fees $6.00" in question
    assert detail.count("\u2022") == 3 and "max loss undefined" in detail


def fmt_money(value: Decimal) -> str:
    from tastydesk.ui import format as fmt

    return fmt.money(value)


def test_screenshot_size_is_width_by_height_and_bad_sizes_are_named() -> None:
    import argparse

    import pytest

    from tastydesk.commands.screenshot import window_size

    assert window_size("1600x980") == (1600, 980)
    assert window_size("1920X1080") == (1920, 1080)
    for bad in ("1600", "wide", "100x100"):
        with pytest.raises(argparse.ArgumentTypeError, match=repr(bad)):
            window_size(bad)
