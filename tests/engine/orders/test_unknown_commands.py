"""Replaces and cancels whose outcome is unknown (scripted broker): the order's fate is learned
by looking it up, and the command is never sent again for it, whether it went through or not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from tastydesk.engine.domain.enums import OrderStatus, WorkflowState
from tastydesk.engine.execution_pricing.walk import PATIENT
from tests.engine.orders.test_order_manager import send, stored
from tests.kit.broker import Script
from tests.kit.world import World, world

INTERVAL = PATIENT.interval_seconds + 1


@pytest.fixture(name="w")
async def fixture_world(tmp_path: Path) -> AsyncIterator[World]:
    w = await world(tmp_path)
    yield w
    await w.close()


async def test_a_replace_that_went_through_unheard_is_booked_from_the_lookup(w: World) -> None:
    _wid, ext = await send(w, units=1, price="0.40")
    w.broker.script("replace", Script.LOST_REPLY)
    await w.step(INTERVAL)
    ((first_id, price),) = w.broker.replaced  # sent once
    live = w.broker.live(ext)
    assert live is not None and live.order_id != first_id and live.price == price
    order = w.store.get_order(ext)
    assert order is not None and order.status is OrderStatus.WORKING
    assert (order.broker_order_id, order.price) == (live.order_id, price)  # the new order, booked
    assert any(e.detail.startswith(f"price step 1: {price}") for e in w.store.order_events(ext))
    await w.step(INTERVAL)
    (_, (second_id, second)) = w.broker.replaced
    assert second_id == live.order_id and second < price  # the walk went on from the new order


async def test_a_replace_that_never_arrived_keeps_the_order_at_its_price(w: World) -> None:
    _wid, ext = await send(w, units=1, price="0.40")
    (original,) = w.broker.orders
    w.broker.script("replace", Script.LOST_ORDER)
    await w.step(INTERVAL)
    ((replaced_id, price),) = w.broker.replaced
    assert replaced_id == original
    order = w.store.get_order(ext)
    assert order is not None and (order.broker_order_id, order.price) == (original,
                                                                          Decimal("0.40"))
    assert order.status is OrderStatus.WORKING
    await w.step(INTERVAL)
    (_, (again_id, again)) = w.broker.replaced
    assert again_id == original and again < price  # the next step, not the lost one re-sent


async def walk_to_cancel(w: World, ext: str) -> None:
    """Step the walk until it cancels (all its prices tried)."""
    for _ in range(10):
        if w.broker.cancelled:
            return
        await w.step(INTERVAL)
    raise AssertionError(f"{ext}: never cancelled")


async def test_a_cancel_that_went_through_unheard_ends_the_order(w: World) -> None:
    wid, ext = await send(w, units=1, price="0.40")
    w.broker.script("cancel", Script.LOST_REPLY)
    await walk_to_cancel(w, ext)
    assert len(w.broker.cancelled) == 1
    assert stored(w, ext) is OrderStatus.CANCELLED
    assert w.kernel.book.state(wid) is WorkflowState.SCANNING
    await w.step(INTERVAL)
    assert len(w.broker.cancelled) == 1  # never sent again


async def test_a_cancel_that_never_arrived_leaves_the_order_working(w: World) -> None:
    wid, ext = await send(w, units=1, price="0.40")
    w.broker.script("cancel", Script.LOST_ORDER)
    await walk_to_cancel(w, ext)
    (cancelled,) = w.broker.cancelled
    assert stored(w, ext) is OrderStatus.WORKING  # looked up: still working at the broker
    assert w.kernel.book.state(wid) is WorkflowState.EXECUTING
    assert len(w.broker.calls) == 2  # the place and the one cancel: nothing re-sent at once
    # The walk decides again one interval later, on what it now knows: a new cancel.
    await w.step(INTERVAL)
    assert w.broker.cancelled == [cancelled, cancelled]
    assert stored(w, ext) is OrderStatus.CANCELLED
    assert w.kernel.book.state(wid) is WorkflowState.SCANNING
