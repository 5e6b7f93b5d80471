"""Order flows every broker must get right, run once per broker through its harness."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tastydesk.engine.domain.enums import CommandOutcome, OrderAction, OrderStatus
from tastydesk.engine.domain.events import FillReceived, OrderUpdated
from tastydesk.engine.domain.instruments import TimeInForce


async def test_dry_run_then_place_is_accepted_with_our_external_id(flow):
    request = flow.spread()
    dry = await flow.broker.dry_run(request)
    assert dry.ok, dry.errors
    assert dry.buying_power_effect < 0  # opening a spread consumes buying power
    assert dry.fees >= 0
    result = await flow.broker.place(request)
    assert result.outcome is CommandOutcome.ACCEPTED, result.reason
    order = result.order
    assert order is not None and order.order_id
    assert order.external_id == request.external_id
    assert order.status is OrderStatus.WORKING
    assert order.price == request.price and order.quantity == 1
    assert [leg.symbol for leg in order.legs] == [leg.symbol for leg in request.legs]


async def test_find_order_by_external_id(flow):
    request = flow.spread()
    placed = await flow.broker.place(request)
    found = await flow.broker.find_order(request.external_id)
    assert found is not None and found.order_id == placed.order.order_id
    assert await flow.broker.find_order("td-never-sent") is None


async def test_replace_gives_new_id_and_cancels_old(flow):
    placed = await flow.broker.place(flow.spread())
    old_id = placed.order.order_id
    price = placed.order.price - Decimal("0.20")
    result = await flow.broker.replace(old_id, price)
    assert result.outcome is CommandOutcome.ACCEPTED, result.reason
    new = result.order
    assert new.order_id != old_id and new.price == price
    assert new.status is OrderStatus.WORKING
    assert new.external_id == placed.order.external_id
    await flow.settle()
    old = await flow.broker.get_order(old_id)
    assert old.status in {OrderStatus.REPLACED, OrderStatus.CANCELLED}


async def test_cancel(flow):
    placed = await flow.broker.place(flow.spread())
    result = await flow.broker.cancel(placed.order.order_id)
    assert result.outcome is CommandOutcome.ACCEPTED, result.reason
    await flow.settle()
    assert (await flow.broker.get_order(placed.order.order_id)).status is OrderStatus.CANCELLED
    again = await flow.broker.cancel(placed.order.order_id)
    assert again.outcome is CommandOutcome.REJECTED and again.reason


async def test_fill_arrives_on_the_bus(flow):
    placed = await flow.broker.place(flow.spread())
    order_id = placed.order.order_id
    await flow.make_fill(order_id)
    await flow.recorder.wait_for(lambda: any(
        e.order.order_id == order_id and e.order.status is OrderStatus.FILLED
        for e in flow.recorder.of(OrderUpdated)))
    fills = [e.fill for e in flow.recorder.of(FillReceived) if e.fill.order_id == order_id]
    assert {f.symbol for f in fills} == {leg.symbol for leg in placed.order.legs}
    assert all(f.quantity == 1 and f.price > 0 for f in fills)
    final = await flow.broker.get_order(order_id)
    assert final.status is OrderStatus.FILLED and final.filled_quantity == 1


async def test_partial_fill_keeps_the_rest_working(flow):
    placed = await flow.broker.place(flow.spread(quantity=2))
    order_id = placed.order.order_id
    assert placed.order.quantity == 2
    await flow.make_fill(order_id, 1)
    await flow.recorder.wait_for(lambda: any(
        e.order.order_id == order_id and e.order.status is OrderStatus.PARTIALLY_FILLED
        for e in flow.recorder.of(OrderUpdated)))
    current = await flow.broker.get_order(order_id)
    assert current.status is OrderStatus.PARTIALLY_FILLED
    assert current.filled_quantity == 1 and current.quantity == 2
    await flow.make_fill(order_id)
    await flow.recorder.wait_for(lambda: any(
        e.order.order_id == order_id and e.order.status is OrderStatus.FILLED
        for e in flow.recorder.of(OrderUpdated)))
    assert (await flow.broker.get_order(order_id)).filled_quantity == 2


@pytest.mark.parametrize("reason", ["Not enough buying power",
                                    "Closing quantity exceeds the position held"])
async def test_rejection_is_classified_with_reason(flow, reason):
    request = await flow.prepare_rejection(reason)
    result = await flow.broker.place(request)
    assert result.outcome is CommandOutcome.REJECTED
    assert result.reason
    assert result.order is None or result.order.status is OrderStatus.REJECTED
    found = await flow.broker.find_order(request.external_id)
    assert found is None or found.status is OrderStatus.REJECTED


async def test_live_orders_lists_todays_orders(flow):
    first = await flow.broker.place(flow.spread())
    second = await flow.broker.place(flow.spread())
    await flow.broker.cancel(second.order.order_id)
    await flow.settle()
    by_id = {o.order_id: o for o in await flow.broker.live_orders()}
    assert by_id[first.order.order_id].status is OrderStatus.WORKING
    assert by_id[second.order.order_id].status is OrderStatus.CANCELLED


async def test_positions_after_a_fill(flow):
    request = flow.spread(quantity=2)
    placed = await flow.broker.place(request)
    await flow.make_fill(placed.order.order_id)
    await flow.settle()
    positions = {p.symbol: p for p in await flow.broker.positions()}
    for leg in request.legs:
        sign = -1 if leg.action is OrderAction.SELL_TO_OPEN else 1
        assert positions[leg.symbol].quantity == sign * 2
        assert positions[leg.symbol].average_open_price > 0
        assert positions[leg.symbol].underlying == request.underlying


# -- the market's rules (four legs, ticks, sessions, time in force) -------------------------


@pytest.fixture
def ruled(flow: Any) -> Any:
    """The flow on every broker: each models the exchange's rules (legs per order, tick tables,
    a session clock)."""
    return flow


async def test_five_leg_order_is_rejected(ruled):
    request = ruled.wide_order(5)
    dry = await ruled.broker.dry_run(request)
    assert not dry.ok and any("4 legs" in e for e in dry.errors), dry.errors
    result = await ruled.broker.place(request)
    assert result.outcome is CommandOutcome.REJECTED
    assert "4 legs" in result.reason
    four = await ruled.broker.dry_run(ruled.wide_order(4))
    assert not any("legs" in e for e in four.errors), four.errors


async def test_off_tick_price_is_rejected(ruled):
    request = ruled.off_tick_order()
    result = await ruled.broker.place(request)
    assert result.outcome is CommandOutcome.REJECTED
    assert "tick" in result.reason
    rules = await ruled.broker.trading_rules(request.underlying)
    on_tick = rules.option_ticks.floor(request.price)
    assert rules.check(1, on_tick) is None and rules.check(1, request.price) is not None


async def test_day_order_after_the_close_is_rejected(ruled):
    working = await ruled.broker.place(ruled.spread())
    assert working.outcome is CommandOutcome.ACCEPTED, working.reason
    await ruled.end_session()
    await ruled.settle()
    expired = await ruled.broker.get_order(working.order.order_id)
    assert expired.status is OrderStatus.EXPIRED
    assert any(e.order.order_id == expired.order_id and e.order.status is OrderStatus.EXPIRED
               for e in ruled.recorder.of(OrderUpdated))
    late = await ruled.broker.place(ruled.spread())
    assert late.outcome is CommandOutcome.REJECTED and late.reason


async def test_gtc_order_works_overnight_and_fills_the_next_day(ruled):
    request = replace(ruled.spread(), time_in_force=TimeInForce.GTC)
    placed = await ruled.broker.place(request)
    assert placed.outcome is CommandOutcome.ACCEPTED, placed.reason
    order_id = placed.order.order_id
    await ruled.end_session()
    await ruled.settle()
    assert (await ruled.broker.get_order(order_id)).status is OrderStatus.WORKING
    await ruled.next_session()
    live = {o.order_id: o for o in await ruled.broker.live_orders()}
    assert order_id in live  # still listed on the next day, like tastytrade's live orders
    found = await ruled.broker.find_order(request.external_id)
    assert found is not None and found.order_id == order_id
    if found.status is not OrderStatus.FILLED:
        assert found.status in {OrderStatus.WORKING, OrderStatus.PARTIALLY_FILLED}
        await ruled.make_fill(order_id)
        await ruled.settle()
    final = await ruled.broker.get_order(order_id)
    assert final.status is OrderStatus.FILLED
    assert min(f.time for f in final.fills) > placed.order.updated_at + timedelta(hours=12)
