"""A position's closing order on the scripted broker: a place whose outcome is unknown, a partial
fill, a replace racing the fill. The position is closed once, and never by two orders at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from tastydesk.engine.domain.enums import OrderPurpose, OrderStatus, WorkflowState
from tastydesk.engine.domain.events import OrderUpdated
from tastydesk.engine.domain.records import OrderRecord
from tastydesk.engine.execution_pricing.walk import FAST, PATIENT
from tastydesk.engine.workflow.common import CLOSE_RETRY_MINUTES, OPEN_ORDER, UNKNOWN_LOOKUP_DELAYS
from tests.engine.orders.test_order_manager import stored
from tests.engine.positions.test_position_book import LONG, SHORT, held, quote
from tests.kit.broker import Script
from tests.kit.world import World, world

#: Fill prices of one closing unit: the short leg bought back at 3.45, the long sold at 1.10.
CLOSE_PRICES = {SHORT: "3.45", LONG: "1.10"}
CLOSE_CASH = Decimal("-235.00")  # per unit: (1.10 - 3.45) x 100


@pytest.fixture(name="w")
async def fixture_world(tmp_path: Path) -> AsyncIterator[World]:
    w = await world(tmp_path, auto_manage=["stop_loss"])
    yield w
    await w.close()


async def losing(w: World, seconds: float = 5) -> None:
    """Stream the spread far through the stop (worth 2.35 against a 0.35 credit) for a while."""
    quote(w, SHORT, "3.44", "3.46")
    quote(w, LONG, "1.09", "1.11")
    await w.step(seconds)


async def stopped_out(w: World, wid: int) -> OrderRecord:
    """Hold the loss until the stop loss sends its closing order; that order."""
    for _ in range(10):
        await losing(w)
        if w.broker.placed:
            break
    (order,) = closing_orders(w, wid)
    assert order.purpose is OrderPurpose.CLOSE
    return order


def closing_orders(w: World, wid: int) -> list[OrderRecord]:
    return [o for o in w.store.orders(wid) if o.purpose is not OrderPurpose.OPEN]


def open_closing_orders(w: World, wid: int) -> list[OrderRecord]:
    return [o for o in closing_orders(w, wid) if o.status in OPEN_ORDER]


def held_legs(w: World, wid: int) -> dict[str, int]:
    return {p.symbol: p.quantity for p in w.store.positions(wid, open_only=True) if p.quantity}


async def test_an_exit_placed_unheard_is_looked_up_and_booked_when_filled(w: World) -> None:
    wid = await held(w)
    w.broker.script("place", Script.LOST_REPLY)
    order = await stopped_out(w, wid)
    assert stored(w, order.external_id) is OrderStatus.UNKNOWN
    assert w.kernel.book.state(wid) is WorkflowState.CLOSING
    await w.step(UNKNOWN_LOOKUP_DELAYS[0] + 1)
    assert stored(w, order.external_id) is OrderStatus.WORKING  # found at the broker
    assert w.kernel.book.state(wid) is WorkflowState.CLOSING
    live = w.broker.live(order.external_id)
    assert live is not None
    w.broker.fill(live.order_id, 1, prices=CLOSE_PRICES)
    await w.step()
    assert stored(w, order.external_id) is OrderStatus.FILLED
    assert w.kernel.book.state(wid) is WorkflowState.COMPLETED
    assert w.kernel.positions.get(wid) is None
    (entry,) = w.store.journal()
    assert entry.closing_rule == "stop_loss"
    assert entry.realised_pnl == CLOSE_CASH - entry.fees
    assert len(w.broker.placed) == 1, "looked up, never sent again"


async def test_an_exit_lost_on_the_way_is_decided_again_never_two_at_once(w: World) -> None:
    wid = await held(w)
    w.broker.script("place", Script.LOST_ORDER)
    first = await stopped_out(w, wid)
    # While the lost order is looked up, the stop still holds: no second closing order.
    for delay in UNKNOWN_LOOKUP_DELAYS:
        assert stored(w, first.external_id) is OrderStatus.UNKNOWN
        assert w.kernel.book.state(wid) is WorkflowState.CLOSING
        await losing(w, delay + 1)
        assert len(w.broker.placed) == 1
    assert stored(w, first.external_id) is OrderStatus.CANCELLED  # never found: given up
    assert w.kernel.book.state(wid) is WorkflowState.MONITORING
    mon = w.kernel.positions.get(wid)
    assert mon is not None and mon.units == 1
    given_up = w.clock.now()
    # The rule waits out its retry pause, then decides the exit again: one new order.
    for _ in range(CLOSE_RETRY_MINUTES * 60 // 30 + 10):
        await losing(w, 30)
        assert len(open_closing_orders(w, wid)) <= 1
        if len(w.broker.placed) > 1:
            break
    assert len(w.broker.placed) == 2
    assert w.broker.placed[1].external_id != first.external_id
    assert w.kernel.book.state(wid) is WorkflowState.CLOSING
    (second,) = open_closing_orders(w, wid)
    assert second.status is OrderStatus.WORKING
    assert (second.created_at - given_up).total_seconds() >= CLOSE_RETRY_MINUTES * 60


async def test_a_partly_filled_exit_keeps_the_rest_monitored_and_books_only_the_fill(
        w: World) -> None:
    wid = await held(w, units=2)
    result = await w.kernel.actions.close_position(wid, "ivy")  # the trader closes all of it
    assert result.sent
    await w.step()
    (order,) = closing_orders(w, wid)
    assert order.purpose is OrderPurpose.CLOSE and order.quantity == 2
    (broker_id,) = w.broker.orders
    w.broker.fill(broker_id, 1, prices=CLOSE_PRICES)
    await w.step()
    part = w.store.get_order(order.external_id)
    assert part is not None and part.status is OrderStatus.PARTIALLY_FILLED
    assert part.filled_quantity == 1
    assert w.kernel.book.state(wid) is WorkflowState.CLOSING
    assert held_legs(w, wid) == {SHORT: -1, LONG: 1}  # the filled unit is off the books
    working = w.kernel.positions.get(wid)  # and off the monitored position (risk, views)
    assert working is not None and working.units == 1
    assert working.acting, "the exit is still in progress: no rule acts on the rest meanwhile"
    assert {leg.symbol: leg.quantity for leg in working.legs} == {SHORT: -1, LONG: 1}
    quote(w, SHORT, "0.50", "0.52")
    quote(w, LONG, "0.38", "0.40")
    await w.step()
    view = working.view(WorkflowState.CLOSING, w.clock.today())
    assert view.pnl == Decimal("23.00")  # (0.35 credit - 0.12 to close) x 100 x one unit
    # The rest keeps working: the walk steps the price of the one unit left, then gives up.
    await w.step(PATIENT.interval_seconds + 1)
    assert w.broker.replaced
    assert w.broker.live(order.external_id).quantity == 1  # type: ignore[union-attr]
    for _ in range(10):
        if w.broker.cancelled:
            break
        await w.step(PATIENT.interval_seconds + 1)
    ended = w.store.get_order(order.external_id)
    assert ended is not None and ended.status is OrderStatus.CANCELLED
    assert ended.filled_quantity == 1
    # The unit left is monitored again, priced on its own quantity; no cycle is journalled.
    assert w.kernel.book.state(wid) is WorkflowState.MONITORING
    mon = w.kernel.positions.get(wid)
    assert mon is not None and mon.units == 1
    assert {leg.symbol: leg.quantity for leg in mon.legs} == {SHORT: -1, LONG: 1}
    await w.step()
    assert mon.view(WorkflowState.MONITORING, w.clock.today()).pnl == Decimal("23.00")
    assert w.store.journal() == []
    # Closing the unit left ends the cycle: the journal counts the two units that filled.
    assert (await w.kernel.actions.close_position(wid, "ivy")).sent
    await w.step()
    last = w.broker.live(closing_orders(w, wid)[-1].external_id)
    assert last is not None and last.quantity == 1
    w.broker.fill(last.order_id, 1, prices=CLOSE_PRICES)
    await w.step()
    assert w.kernel.book.state(wid) is WorkflowState.COMPLETED
    (entry,) = w.store.journal()
    assert entry.realised_pnl == 2 * CLOSE_CASH - entry.fees
    assert len(w.store.fills(wid)) == 4  # two legs, one unit each time


async def test_a_stop_exit_filled_in_two_parts_is_booked_once_whole(w: World) -> None:
    wid = await held(w, units=2)
    order = await stopped_out(w, wid)
    assert order.quantity == 2
    w.broker.fill(w.broker.live(order.external_id).order_id, 1,  # type: ignore[union-attr]
                  prices=CLOSE_PRICES)
    await losing(w, FAST.interval_seconds + 0.5)  # the rest walks on while the stop holds
    assert w.kernel.book.state(wid) is WorkflowState.CLOSING
    assert w.kernel.positions.get(wid).units == 1  # type: ignore[union-attr]
    assert w.store.journal() == []
    rest = w.broker.live(order.external_id)
    assert rest is not None and rest.quantity == 1
    w.broker.fill(rest.order_id, 1, prices=CLOSE_PRICES)
    await losing(w)
    assert stored(w, order.external_id) is OrderStatus.FILLED
    assert w.kernel.book.state(wid) is WorkflowState.COMPLETED
    assert len(w.broker.placed) == 1
    (entry,) = w.store.journal()
    assert entry.closing_rule == "stop_loss"
    assert entry.realised_pnl == 2 * CLOSE_CASH - entry.fees


@pytest.mark.parametrize("replace_script", [Script.ACCEPT, Script.LOST_ORDER])
async def test_a_replace_racing_the_exits_fill_books_it_once(w: World,
                                                             replace_script: Script) -> None:
    wid = await held(w)
    order = await stopped_out(w, wid)
    (broker_id,) = w.broker.orders
    filled = w.broker.fill(broker_id, 1, announce=False, prices=CLOSE_PRICES)  # stream is late
    w.broker.script("replace", replace_script)
    await losing(w, FAST.interval_seconds + 0.5)  # the walk tries a better price meanwhile
    assert w.broker.replaced, "the walk tried to replace the filled order"
    assert stored(w, order.external_id) is OrderStatus.FILLED
    assert w.kernel.book.state(wid) is WorkflowState.COMPLETED
    w.kernel.bus.publish(OrderUpdated(filled))  # the stream's news of the fill, late
    for _ in range(3):
        await losing(w, FAST.interval_seconds + 0.5)
    assert w.kernel.book.state(wid) is WorkflowState.COMPLETED
    assert w.kernel.positions.get(wid) is None
    assert len(w.broker.placed) == 1, "no second close"
    assert len(w.store.fills(wid)) == 2  # booked once
    (entry,) = w.store.journal()
    assert entry.realised_pnl == CLOSE_CASH - entry.fees
