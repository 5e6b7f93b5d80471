"""DAY orders die at the close: the engine learns it from the broker (an EXPIRED order update)
and acts by purpose: an entry ends its attempt; an exit goes out again at the next open."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tastydesk.engine.clock import NEW_YORK
from tastydesk.engine.domain.enums import OrderPurpose, OrderStatus, WorkflowState
from tastydesk.engine.domain.orders import CommandResult
from tastydesk.engine.domain.results import SENT
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
