"""DAY orders die at the close: the engine learns it from the broker (an EXPIRED order update)
and acts by purpose: an entry ends its attempt; an exit goes out again at the next open."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tastydesk.engine.clock import NEW_YORK
from tastydesk.engine.domain.enums import OrderAction, OrderPurpose, OrderStatus, WorkflowState
from tastydesk.engine.domain.orders import CommandResult
from tastydesk.engine.domain.results import SENT
from tastydesk.engine.domain.rolls import RollEdits
from tests.engine.rolls.test_roll_preview import vertical
from tests.engine.test_engine import paper, until_pending, until_position


def unfillable(engine: Any, purpose: str, price: Decimal) -> None:
    """The broker receives this purpose's orders at a price nobody trades at (the engine's
    record keeps its own), so they are still working at the close."""
    original = engine.broker.place

    async def place(order: Any) -> CommandResult:
        if f"-{purpose}-" in order.external_id:
            order = dataclasses.replace(order, price=price)
        return await original(order)

    engine.broker.place = place


async def to_minutes_before_close(engine: Any, driver: Any, minutes: int) -> None:
    at = engine.calendar.next_close(engine.clock.now()) - timedelta(minutes=minutes)
    driver.market.step(at)
    driver.clock.advance(at)
    await engine.tasks.drain()


async def test_an_entry_that_expires_ends_the_attempt(tmp_path: Path) -> None:
    # The approval window (real minutes; paper minutes in a headless run) outlasts the wait.
    engine, driver = await paper(tmp_path, approval_expiry_minutes=60)
    await to_minutes_before_close(engine, driver, 30)
    wid = (await until_pending(engine, driver))[0].workflow_id
    await to_minutes_before_close(engine, driver, 5)
    unfillable(engine, "open", Decimal("25.00"))
    assert await engine.facade.approve(wid, "lena") == SENT
    await engine.tasks.drain()
    driver.advance(300)  # to the close, then the next open
    await engine.tasks.drain()
    entry = (await engine.store.orders(wid))[0]
    assert entry.status is OrderStatus.EXPIRED
    wf = {w.workflow_id: w for w in engine.facade.workflows()}[wid]
    assert wf.state is WorkflowState.SCANNING
    reasons = [t.reason for t in engine.facade.transitions(wid)]
    assert "day order expired at the close: the entry attempt ends" in reasons
    assert wid not in {p.workflow_id for p in engine.facade.pending()}
    await engine.stop()


async def test_an_exit_that_expires_goes_out_again_at_the_next_open(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path, auto_manage=[])
    pos = await until_position(engine, driver)
    wid = pos.workflow_id
    await to_minutes_before_close(engine, driver, 5)
    unfillable(engine, "close", Decimal("-0.01"))
    assert await engine.facade.close_position(wid, "lena") == SENT
    await engine.tasks.drain()
    close = engine.calendar.next_close(engine.clock.now())
    opening = engine.calendar.next_open(close)
    driver.advance(300)  # steps to the close (the order expires), then to the next open
    await engine.tasks.drain()
    closes = [o for o in (await engine.store.orders(wid)) if o.purpose is OrderPurpose.CLOSE]
    assert closes[0].status is OrderStatus.EXPIRED
    reasons = [t.reason for t in engine.facade.transitions(wid)]
    local = opening.astimezone(NEW_YORK)
    assert (f"day order expired at the close: exit re-queued for the open at "
            f"09:30 ET ({local:%a %Y-%m-%d})") in reasons
    driver.advance(60)
    await engine.tasks.drain()
    closes = [o for o in (await engine.store.orders(wid)) if o.purpose is OrderPurpose.CLOSE]
    reasons = [t.reason for t in engine.facade.transitions(wid)]
    assert len(closes) == 2 and opening <= closes[1].created_at <= opening + timedelta(minutes=1)
    assert reasons[-1].startswith("re-sent at the open after the day order expired")
    await engine.stop()


async def test_a_roll_from_the_ticket_that_expires_goes_out_again_with_the_traders_edits(
        tmp_path: Path) -> None:
    engine, driver, pos = await vertical(tmp_path)
    wid = pos.workflow_id
    await to_minutes_before_close(engine, driver, 5)
    first = await engine.facade.preview_roll(wid)
    later = next(d for d in first.expirations if d > first.expiry)
    short, long_ = first.opening
    step = Decimal("1") if short.option_type.value == "put" else Decimal("-1")
    edits = RollEdits(expiry=later, strikes=(short.strike - step, long_.strike - step),
                      quantity=2)
    edited = await engine.facade.preview_roll(wid, edits)
    unfillable(engine, "roll", Decimal("25.00"))
    assert await engine.facade.roll_position(
        wid, "lena", dataclasses.replace(edits, limit=edited.mid)) == SENT
    await engine.tasks.drain()
    driver.advance(300)  # the order expires at the close; the roll is re-queued for the open
    await engine.tasks.drain()
    driver.advance(60)
    await engine.tasks.drain()
    rolls = [o for o in await engine.store.orders(wid) if o.purpose is OrderPurpose.ROLL]
    assert rolls[0].status is OrderStatus.EXPIRED and len(rolls) == 2
    opening = {leg.symbol: leg.quantity for leg in rolls[1].legs
               if leg.action in (OrderAction.SELL_TO_OPEN, OrderAction.BUY_TO_OPEN)}
    assert opening == {leg.symbol: 2 for leg in edited.opening}  # the ticket's legs, not new ones
    reasons = [t.reason for t in engine.facade.transitions(wid)]
    assert any(r.startswith("re-sent at the open after the day order expired") for r in reasons)
    await engine.stop()


def test_roll_edits_round_trip_through_the_timeline_payload() -> None:
    edits = RollEdits(expiry=date(2026, 3, 20), strikes=(Decimal("95"), Decimal("90.5")),
                      quantity=3, limit=Decimal("-0.42"))
    assert RollEdits.from_payload(json.loads(json.dumps(edits.to_payload()))) == edits
    assert RollEdits.from_payload(RollEdits().to_payload()) == RollEdits()
