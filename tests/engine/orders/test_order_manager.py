"""The order manager on the scripted broker: unknown outcomes, partial fills, replace races."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from tastydesk.engine.domain.enums import OrderAction, OrderPurpose, OrderStatus, Trigger, WorkflowState
from tastydesk.engine.domain.orders import OrderLeg
from tastydesk.engine.workflow.common import UNKNOWN_LOOKUP_DELAYS
from tests.kit.broker import Script
from tests.kit.world import World, world

SHORT = "SPY   260220P00570000"
LONG = "SPY   260220P00565000"
TO_EXECUTING = (Trigger.SCAN, Trigger.PROPOSE, Trigger.APPROVE)


@pytest.fixture(name="w")
async def fixture_world(tmp_path: Path) -> AsyncIterator[World]:
    w = await world(tmp_path)
    yield w
    await w.close()


async def send(w: World, units: int = 2, price: str = "0.40") -> tuple[int, str]:
    """An opening credit spread of ``units`` sent for a workflow in EXECUTING."""
    wid = await w.workflow_in("SPY", *TO_EXECUTING)
    legs = (OrderLeg(SHORT, OrderAction.SELL_TO_OPEN, units),
            OrderLeg(LONG, OrderAction.BUY_TO_OPEN, units))
    await w.kernel.orders.submit(wid, OrderPurpose.OPEN, "SPY", legs, units, Decimal(price),
                                 Decimal("0.30"), None, None)
    await w.step()
    (order,) = [o for o in w.kernel.orders.records() if o.workflow_id == wid]
    return wid, order.external_id


def stored(w: World, external_id: str) -> OrderStatus:
    order = w.store.get_order(external_id)
    assert order is not None
    return order.status


async def test_a_lost_reply_is_looked_up_and_never_sent_again(w: World) -> None:
    w.broker.script("place", Script.LOST_REPLY)
    wid, ext = await send(w)
    assert stored(w, ext) is OrderStatus.UNKNOWN
    await w.step(UNKNOWN_LOOKUP_DELAYS[0] + 1)
    assert stored(w, ext) is OrderStatus.WORKING
    assert w.store.get_order(ext).broker_order_id is not None  # type: ignore[union-attr]
    assert len(w.broker.placed) == 1
    assert w.kernel.book.state(wid) is WorkflowState.EXECUTING


async def test_an_order_lost_on_the_way_is_given_up_after_the_lookups_not_resent(w: World) -> None:
    w.broker.script("place", Script.LOST_ORDER)
    wid, ext = await send(w)
    for delay in UNKNOWN_LOOKUP_DELAYS:
        assert stored(w, ext) is OrderStatus.UNKNOWN
        await w.step(delay + 1)
    assert stored(w, ext) is OrderStatus.CANCELLED
    assert len(w.broker.placed) == 1
    assert w.kernel.book.state(wid) is WorkflowState.SCANNING  # entry failed, back to scanning


async def test_a_broker_rejection_ends_the_order_and_the_attempt(w: World) -> None:
    w.broker.script("place", Script.REJECT)
    wid, ext = await send(w)
    assert stored(w, ext) is OrderStatus.REJECTED
    assert w.kernel.book.state(wid) is WorkflowState.SCANNING


async def test_a_failed_dry_run_sends_nothing(w: World) -> None:
    w.broker.dry_run_errors = ("insufficient buying power",)
    _wid, ext = await send(w)
    assert w.broker.placed == []
    assert stored(w, ext) is OrderStatus.REJECTED
    assert "dry run" in w.store.order_events(ext)[-1].detail


async def test_partial_fills_keep_working_until_the_rest_fills(w: World) -> None:
    wid, ext = await send(w, units=2)
    (broker_id,) = w.broker.orders
    w.broker.fill(broker_id, 1)
    await w.step()
    order = w.store.get_order(ext)
    assert order is not None and order.status is OrderStatus.PARTIALLY_FILLED
    assert order.filled_quantity == 1
    assert w.kernel.book.state(wid) is WorkflowState.EXECUTING
    w.broker.fill(broker_id, 1)
    await w.step()
    assert stored(w, ext) is OrderStatus.FILLED
    assert w.kernel.book.state(wid) is WorkflowState.MONITORING
    assert len(w.store.fills(wid)) == 4  # two legs, two fills each
    assert w.kernel.positions.get(wid) is not None


async def test_a_replace_that_races_a_fill_books_the_fill(w: World) -> None:
    wid, ext = await send(w, units=1)
    (broker_id,) = w.broker.orders
    w.broker.fill(broker_id, 1, announce=False)  # filled at the broker; the stream is late
    interval = float(w.kernel.settings.config.pricing_interval_seconds)
    await w.step(interval + 1)  # the price walk tries to replace the filled order
    assert w.broker.replaced, "the walk tried a better price"
    assert stored(w, ext) is OrderStatus.FILLED
    assert w.kernel.book.state(wid) is WorkflowState.MONITORING
    assert len(w.broker.placed) == 1


async def test_the_walk_steps_the_price_then_cancels_after_its_attempts(w: World) -> None:
    wid, ext = await send(w, units=1, price="0.40")
    interval = float(w.kernel.settings.config.pricing_interval_seconds)
    await w.step(interval + 1)
    order = w.store.get_order(ext)
    assert order is not None and order.price < Decimal("0.40")
    steps = [e for e in w.store.order_events(ext) if e.status is OrderStatus.WORKING]
    assert len(steps) == 2  # placed, then one price step
    figures = w.kernel.facade.analytics()  # the read model counts the typed step marker
    assert (figures.orders_sent, figures.price_improvement_steps) == (1, 1)
    for _ in range(6):
        await w.step(interval + 1)
    assert stored(w, ext) is OrderStatus.CANCELLED
    assert w.kernel.book.state(wid) is WorkflowState.SCANNING
