"""Resting profit-target exits when something other than the app changes the position, on the
scripted broker: placed once the trader clears the reconciliation gate (and re-sized when the
trader took the broker's view), withdrawn at once when a leg expires or is assigned, and
withdrawn before an after-assignment follow-up closes: never two closing orders over the same
contracts."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from tastydesk.engine.clock import MarketCalendar
from tastydesk.engine.domain.account import BrokerPosition
from tastydesk.engine.domain.enums import (
    ActionOutcome,
    OrderPurpose,
    OrderStatus,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import Alert
from tastydesk.engine.domain.instruments import TimeInForce
from tastydesk.engine.domain.lifecycle import LifecycleEvent, LifecycleKind
from tastydesk.engine.domain.orders import OrderRequest
from tastydesk.engine.domain.results import SENT
from tastydesk.engine.kernel import Kernel
from tastydesk.engine.reconcile_gate import DifferenceAction
from tastydesk.engine.store.service import AsyncStore, Store
from tests.engine.orders.test_resting_exits import (
    ENTRY,
    LONG,
    SHORT,
    entry_working_at_stop,
    fixture_world,  # noqa: F401  (the world with resting exits on, as fixture ``w``)
    holding,
)
from tests.kit.broker import Script
from tests.kit.world import World

D = Decimal
EXTRA = "SPY   260220C00620000"


async def restart(w: World) -> Kernel:
    """A new kernel over the same database and broker (the old one is stopped first)."""
    await w.kernel.stop()
    kernel = Kernel(broker=w.broker, store=AsyncStore(Store.open(w.store.path), inline=True),
                    bus=w.kernel.bus, clock=w.clock, calendar=MarketCalendar(),
                    config=w.kernel.settings.config, strategies=w.store.list_strategies())
    w.kernel = kernel  # closed by the fixture
    await kernel.start(start_driver=False)
    await w.step()
    return kernel


def resting_orders(w: World) -> list[OrderRequest]:
    """The GTC closing orders still live at the broker."""
    live = [w.broker.live(o.external_id) for o in w.broker.placed
            if o.time_in_force is TimeInForce.GTC]
    return [o for o in w.broker.placed if o.time_in_force is TimeInForce.GTC and any(
        s is not None and s.external_id == o.external_id and not s.status.is_terminal
        for s in live)]


def legs_of(order: OrderRequest) -> set[tuple[str, int]]:
    return {(leg.symbol, leg.quantity) for leg in order.legs}


# ---- the reconciliation gate
async def test_a_resting_order_waits_for_the_gate_and_goes_out_once_the_trader_clears_it(
        w: World) -> None:
    wid, entry, live = await entry_working_at_stop(w)
    w.broker.fill(live.order_id, 2, announce=False, prices=ENTRY)  # filled while stopped
    w.broker.held[EXTRA] = BrokerPosition(EXTRA, "SPY", 1, D("1.00"))  # nothing explains it
    kernel = await restart(w)
    assert kernel.book.state(wid) is WorkflowState.MONITORING
    assert not kernel.facade.health().reconciled  # the gate holds
    assert w.broker.placed == [entry]  # no resting order while it holds
    await kernel.facade.decide_difference(EXTRA, DifferenceAction.LATER, "trader")
    await w.step()
    assert kernel.facade.health().reconciled
    (resting,) = resting_orders(w)
    assert resting.price == D("-0.20") and legs_of(resting) == {(SHORT, 2), (LONG, 2)}
    assert len(w.broker.placed) == 2  # placed once


async def test_taking_the_broker_view_re_sizes_the_resting_order_once_the_gate_clears(
        w: World) -> None:
    wid, first = await holding(w)
    await w.kernel.stop()
    # The broker holds one spread of the two (the other closed outside the app).
    w.broker.held[SHORT] = dataclasses.replace(w.broker.held[SHORT], quantity=-1)
    w.broker.held[LONG] = dataclasses.replace(w.broker.held[LONG], quantity=1)
    kernel = await restart(w)
    assert not kernel.facade.health().reconciled
    assert resting_orders(w) == [first]  # left alone while the gate holds: nothing is sent
    for symbol in (SHORT, LONG):
        await kernel.facade.decide_difference(symbol, DifferenceAction.TAKE_BROKER, "trader")
    await w.step()
    assert kernel.facade.health().reconciled
    (resting,) = resting_orders(w)
    assert resting.external_id != first.external_id
    assert legs_of(resting) == {(SHORT, 1), (LONG, 1)}
    statuses = {o.external_id: o.status for o in w.store.orders(wid)}
    assert statuses[first.external_id] is OrderStatus.CANCELLED
    cancel = ("cancel", w.broker.live(first.external_id).order_id)  # type: ignore[union-attr]
    assert w.broker.calls.index(cancel) < w.broker.calls.index(("place", resting.external_id))


# ---- the broker changes the position
async def book(w: World, *events: LifecycleEvent) -> None:
    for event in events:
        assert await w.kernel.expirations.book_event(event)
    await w.step()


async def test_an_assigned_leg_withdraws_the_resting_order_and_the_follow_up_closes_alone(
        w: World) -> None:
    wid, first = await holding(w)
    alerts: list[Alert] = []
    w.kernel.bus.subscribe(Alert, alerts.append)
    now = w.clock.now()
    await book(w, LifecycleEvent("A1", LifecycleKind.ASSIGNED, SHORT, "SPY", 2, D("0"), D("0"),
                                 now, early=True))
    assert resting_orders(w) == []  # withdrawn at the assignment, before the shares arrive
    statuses = {o.external_id: o.status for o in w.store.orders(wid)}
    assert statuses[first.external_id] is OrderStatus.CANCELLED
    await book(w, LifecycleEvent("A2", LifecycleKind.SHARES_DELIVERED, "SPY", "SPY", 200,
                                 D("570"), D("-114000.00"), now))
    assert resting_orders(w) == []  # shares: no resting order, their follow-up decides
    assert not any(a.title.startswith("Resting profit-target order ended") for a in alerts)
    [pending] = w.kernel.facade.pending()
    assert pending.workflow_id == wid
    assert await w.kernel.facade.approve(wid, "trader") == SENT
    await w.step()
    close = w.broker.placed[-1]
    assert close.time_in_force is TimeInForce.DAY and {leg.symbol for leg in close.legs} == {
        LONG, "SPY"}
    assert resting_orders(w) == []
    assert w.kernel.book.state(wid) is WorkflowState.CLOSING


async def test_a_follow_up_withdraws_a_resting_order_still_live_before_its_close(
        w: World) -> None:
    wid, first = await holding(w)
    live = w.broker.live(first.external_id)
    assert live is not None
    # The withdrawals at the assignment and at the delivery are refused.
    w.broker.script("cancel", Script.REJECT, Script.REJECT)
    now = w.clock.now()
    await book(w, LifecycleEvent("A1", LifecycleKind.ASSIGNED, SHORT, "SPY", 2, D("0"), D("0"),
                                 now, early=True),
               LifecycleEvent("A2", LifecycleKind.SHARES_DELIVERED, "SPY", "SPY", 200,
                              D("570"), D("-114000.00"), now))
    assert resting_orders(w) == [first]
    w.broker.calls.clear()
    w.broker.script("cancel", Script.REJECT)  # refused again: the close must wait
    outcome = await w.kernel.facade.approve(wid, "trader")
    await w.step()
    assert outcome.outcome is ActionOutcome.REPRICED and "not confirmed" in outcome.detail
    assert [c for c in w.broker.calls if c[0] == "place"] == []
    assert w.kernel.book.state(wid) is WorkflowState.MONITORING
    [again] = w.kernel.facade.pending()  # proposed again
    assert again.workflow_id == wid
    assert await w.kernel.facade.approve(wid, "trader") == SENT
    await w.step()
    close = w.broker.placed[-1]
    assert close.time_in_force is TimeInForce.DAY
    assert w.broker.calls.index(("cancel", live.order_id)) < w.broker.calls.index(
        ("place", close.external_id))
    assert resting_orders(w) == []


async def test_a_leg_that_expires_moves_the_resting_order_onto_what_is_left(w: World) -> None:
    wid, first = await holding(w)
    await book(w, LifecycleEvent("E1", LifecycleKind.EXPIRED, LONG, "SPY", -2, D("0"), D("0"),
                                 w.clock.now()))
    assert w.kernel.book.state(wid) is WorkflowState.MONITORING
    (resting,) = resting_orders(w)
    assert resting.external_id != first.external_id and legs_of(resting) == {(SHORT, 2)}
    orders = [o for o in w.store.orders(wid) if o.purpose is OrderPurpose.CLOSE]
    assert [o.status for o in orders] == [OrderStatus.CANCELLED, OrderStatus.WORKING]


async def test_every_leg_expiring_withdraws_the_resting_order_and_ends_the_workflow(
        w: World) -> None:
    wid, _resting = await holding(w)
    alerts: list[Alert] = []
    w.kernel.bus.subscribe(Alert, alerts.append)
    now = w.clock.now()
    await book(w, LifecycleEvent("E1", LifecycleKind.EXPIRED, LONG, "SPY", -2, D("0"), D("0"),
                                 now),
               LifecycleEvent("E2", LifecycleKind.EXPIRED, SHORT, "SPY", 2, D("0"), D("0"),
                              now))
    assert w.kernel.book.state(wid) is WorkflowState.COMPLETED
    assert w.kernel.facade.transitions(wid)[-1].trigger is Trigger.EXPIRED
    assert resting_orders(w) == []
    assert not any(a.title.startswith("Resting profit-target order ended") for a in alerts)
