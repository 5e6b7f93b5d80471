"""A roll sent as several orders (a condor rolled as two legal spreads): the ticket fixes the
quantity and the limit and says why beside them, in visible text; a one-order roll leaves both
editable and shows no such note (real ticket on the in-memory facade)."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

from tastydesk.engine.domain.enums import OptionType, Side
from tastydesk.engine.domain.rolls import HeldLeg, RollPreview
from tastydesk.ui.widgets.roll_ticket import RollTicket
from tests.ui.engine_kit import wait_for
from tests.ui.factories import leg
from tests.ui.fake_facade import FakeFacade


def _condor_roll() -> RollPreview:
    held = tuple(HeldLeg(f"SPY   261218{k}00{s}000", q, Decimal("0.40"), Decimal("0.50"))
                 for k, s, q in (("P", "560", -2), ("P", "555", 2), ("C", "640", -2),
                                 ("C", "645", 2)))
    opening = (leg("550", Side.SELL), leg("545", Side.BUY),
               leg("650", Side.SELL, OptionType.CALL), leg("655", Side.BUY, OptionType.CALL))
    return RollPreview(
        workflow_id=1, symbol="SPY", strategy_name="Iron Condor - 45 DTE", held_units=2,
        quantity=2, closing=held, opening=opening, kept=(), expiry=date(2027, 1, 15),
        expirations=(date(2026, 12, 18), date(2027, 1, 15)), strikes=(),
        orders=("put spread", "call spread"), order_units=2, mid=Decimal("0.35"),
        natural=Decimal("0.10"), limit=Decimal("0.35"), max_loss=Decimal("860"),
        buying_power=Decimal("860"), buying_power_effect=Decimal("0"),
        credit_collected=Decimal("240"), credit_after=Decimal("310"))


def _ticket(qtbot: Any, preview: RollPreview) -> RollTicket:
    fake = FakeFacade()
    fake.roll_preview = preview
    ticket = RollTicket(None, fake, 1, "SPY Iron Condor (#1)")
    qtbot.addWidget(ticket)
    ticket.show()
    wait_for(qtbot, lambda: ticket.preview is not None and not ticket.busy, timeout_s=5)
    return ticket


def test_a_split_roll_fixes_quantity_and_limit_and_says_why_beside_them(
        qloop: Any, qtbot: Any) -> None:
    ticket = _ticket(qtbot, _condor_roll())
    assert not ticket.limit.isEnabled() and not ticket.quantity.isEnabled()
    note = ticket.split_note
    assert note.isVisible() and note.text() == (
        "Fixed: this roll goes out as 2 orders (at most 4 legs each), so it keeps the "
        "position's 2 units and each order is worked from its own mid; there is no single "
        "limit to set.")
    assert ticket.orders.text().startswith("Sent as 2 orders of at most 4 legs")
    assert ticket.send_button.isEnabled()
    ticket.send()
    assert ticket.edits is not None and ticket.edits.limit is None
    assert ticket.edits.quantity == 2


def test_a_one_order_roll_keeps_both_editable_without_the_note(qloop: Any, qtbot: Any) -> None:
    one = dataclasses.replace(_condor_roll(), orders=("roll",))
    ticket = _ticket(qtbot, one)
    assert ticket.limit.isEnabled() and ticket.quantity.isEnabled()
    assert not ticket.split_note.isVisible() and ticket.split_note.text() == ""
