"""Resting profit-target exits on the scripted broker: placed GTC with the entry's fill, withdrawn
(confirmed) before the app's own exit, kept in step after a partial close, and booked at start-up
when they filled while the engine was stopped."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tastydesk.engine.clock import MarketCalendar
from tastydesk.engine.domain.enums import OrderPurpose, OrderStatus, Trigger, WorkflowState
from tastydesk.engine.domain.events import Alert
from tastydesk.engine.domain.instruments import TimeInForce
from tastydesk.engine.domain.orders import OrderRequest
from tastydesk.engine.kernel import Kernel
from tastydesk.engine.store.service import AsyncStore, Store
from tests.engine.store.conftest import make_proposal
from tests.kit.world import World, world

SHORT, LONG = "SPY   260220P00570000", "SPY   260220P00565000"
STRATEGY = "Put Credit Spread - 30 DTE"  # 50 % profit target, 200 % stop
ENTRY = {SHORT: "1.45", LONG: "1.05"}  # a 0.40 credit


@pytest.fixture(name="w")
async def fixture_world(tmp_path: Path) -> AsyncIterator[World]:
    w = await world(tmp_path)
    strategy = w.kernel.strategies.get(STRATEGY)
    assert strategy is not None
    await w.kernel.facade.save_strategy(dataclasses.replace(
        strategy, pricing=dataclasses.replace(strategy.pricing, resting_exit=True)), "test")
    yield w
    await w.close()


def quote(w: World, short: tuple[str, str], long: tuple[str, str]) -> None:
    proposal = make_proposal(w.clock.now())
    w.broker.quote(SHORT, proposal.legs[0].streamer_symbol, *short)
    w.broker.quote(LONG, proposal.legs[1].streamer_symbol, *long)


async def holding(w: World) -> tuple[int, OrderRequest]:
    """A 2-lot put spread opened for a 0.40 credit; returns its workflow and resting order."""
    wid = await w.workflow_in("SPY", Trigger.SCAN)
    proposal = make_proposal(w.clock.now())
    strategy = w.kernel.strategies.get(STRATEGY)
    assert strategy is not None
    await w.kernel.desk.propose(wid, proposal, strategy)
    quote(w, ("1.43", "1.47"), ("1.08", "1.12"))
    await w.step()
    assert (await w.kernel.facade.approve(wid, "ann")).sent
    (entry,) = w.broker.placed
    live = w.broker.live(entry.external_id)
    assert live is not None
    w.broker.fill(live.order_id, 2, prices=ENTRY)
    await w.step()
    assert w.kernel.book.state(wid) is WorkflowState.MONITORING
    return wid, w.broker.placed[-1]


async def entry_working_at_stop(w: World) -> tuple[int, OrderRequest, Any]:
    """An entry approved and sent, then the engine stopped with it still working at the broker:
    the workflow, the order sent and its live state at the broker."""
    wid = await w.workflow_in("SPY", Trigger.SCAN)
    strategy = w.kernel.strategies.get(STRATEGY)
    assert strategy is not None
    await w.kernel.desk.propose(wid, make_proposal(w.clock.now()), strategy)
    quote(w, ("1.43", "1.47"), ("1.08", "1.12"))
    await w.step()
    assert (await w.kernel.facade.approve(wid, "ann")).sent
    (entry,) = w.broker.placed
    await w.kernel.stop()
    live = w.broker.live(entry.external_id)
    assert live is not None
    return wid, entry, live


async def test_the_entry_fill_places_a_gtc_close_at_the_profit_target(w: World) -> None:
    wid, resting = await holding(w)
    assert len(w.broker.placed) == 2
    assert resting.time_in_force is TimeInForce.GTC
    # Half of the 0.40 credit: the spread is bought back for 0.20 (a debit), both lots.
    assert resting.price == Decimal("-0.20")
    assert {(leg.symbol, leg.action.value, leg.quantity) for leg in resting.legs} == {
        (SHORT, "Buy to Close", 2), (LONG, "Sell to Close", 2)}
    (stored,) = [o for o in w.store.orders(wid) if o.purpose is OrderPurpose.CLOSE]
    assert stored.time_in_force is TimeInForce.GTC and stored.status is OrderStatus.WORKING
    await w.step(6 * 3600)  # no walk: it rests at its price, across the close
    assert w.broker.replaced == [] and w.broker.cancelled == []


async def test_a_resting_order_filling_while_the_app_runs_is_the_profit_target_exit(
        w: World) -> None:
    wid, resting = await holding(w)
    live = w.broker.live(resting.external_id)
    assert live is not None
    w.broker.fill(live.order_id, 2, prices={SHORT: "0.30", LONG: "0.10"})
    await w.step()
    assert w.kernel.book.state(wid) is WorkflowState.COMPLETED
    (journal,) = w.store.journal()
    assert "profit_target" in journal.closing_rule
    assert journal.realised_pnl == Decimal("40") - journal.fees  # (0.40 - 0.20) x 100 x 2


async def test_a_stop_cancels_the_resting_order_before_sending_its_close(w: World) -> None:
    wid, resting = await holding(w)
    live = w.broker.live(resting.external_id)
    assert live is not None
    w.broker.calls.clear()
    for _ in range(4):  # a 300 % loss, confirmed over several quotes
        quote(w, ("1.58", "1.62"), ("0.38", "0.42"))
        await w.step(5)
    stop = [o for o in w.broker.placed[2:] if o.time_in_force is TimeInForce.DAY]
    assert len(stop) == 1 and "close" in stop[0].external_id
    assert w.broker.calls[:2] == [("cancel", live.order_id), ("place", stop[0].external_id)]
    statuses = {o.external_id: o.status for o in w.store.orders(wid)}
    assert statuses[resting.external_id] is OrderStatus.CANCELLED
    assert w.kernel.book.state(wid) is WorkflowState.CLOSING
    assert [r.reason for r in w.kernel.facade.transitions(wid)][-1].startswith(
        "rule stop_loss")


async def test_no_close_is_sent_when_the_resting_order_filled_first(w: World) -> None:
    wid, resting = await holding(w)
    live = w.broker.live(resting.external_id)
    assert live is not None
    w.broker.fill(live.order_id, 2, announce=False)  # filled; the news has not arrived yet
    alerts: list[Alert] = []
    w.kernel.bus.subscribe(Alert, alerts.append)
    result = await w.kernel.facade.close_position(wid, "bo")
    await w.step()
    assert not result.sent and "filled first" in result.detail
    assert [o for o in w.broker.placed[2:]] == []  # never two closes over the same contracts
    assert w.kernel.book.state(wid) is WorkflowState.COMPLETED


async def test_after_a_partial_close_the_resting_order_follows_the_position(w: World) -> None:
    wid, resting = await holding(w)
    first = w.broker.live(resting.external_id)
    assert first is not None
    quote(w, ("1.38", "1.42"), ("1.03", "1.07"))
    await w.step()
    assert (await w.kernel.facade.close_position(wid, "cy", pct=50)).sent
    assert ("cancel", first.order_id) in w.broker.calls
    partial = w.broker.placed[-1]
    assert partial.time_in_force is TimeInForce.DAY
    live = w.broker.live(partial.external_id)
    assert live is not None
    w.broker.fill(live.order_id, 1, prices={SHORT: "1.40", LONG: "1.05"})
    await w.step()
    again = w.broker.placed[-1]
    assert again.time_in_force is TimeInForce.GTC and again.external_id != resting.external_id
    assert [leg.quantity for leg in again.legs] == [1, 1] and again.price == Decimal("-0.20")
    assert w.kernel.book.state(wid) is WorkflowState.MONITORING


async def test_a_resting_order_that_filled_while_stopped_is_booked_at_start_up(
        w: World) -> None:
    wid, resting = await holding(w)
    await w.kernel.stop()
    live = w.broker.live(resting.external_id)
    assert live is not None
    w.clock.advance(w.clock.now() + timedelta(days=1))
    w.broker.fill(live.order_id, 2, announce=False, prices={SHORT: "0.25", LONG: "0.05"})
    restarted = Kernel(broker=w.broker, store=AsyncStore(Store.open(w.store.path), inline=True),
                       bus=w.kernel.bus, clock=w.clock, calendar=MarketCalendar(),
                       config=w.kernel.settings.config, strategies=w.store.list_strategies())
    await restarted.start(start_driver=False)
    w.kernel = restarted  # closed by the fixture
    await w.step()
    assert restarted.book.state(wid) is WorkflowState.COMPLETED
    (journal,) = w.store.journal()
    assert "profit_target" in journal.closing_rule and journal.exit_price == Decimal("-0.20")
    reasons = [t.reason for t in restarted.facade.transitions(wid)]
    assert any(r.startswith("rule profit_target: the resting order filled 2 of 2") for r in
               reasons)
    assert restarted.facade.positions() == []


async def test_a_resting_order_cancelled_at_the_broker_is_noted_at_start_up(w: World) -> None:
    wid, resting = await holding(w)
    await w.kernel.stop()
    live = w.broker.live(resting.external_id)
    assert live is not None
    w.broker.orders[live.order_id] = dataclasses.replace(live, status=OrderStatus.CANCELLED)
    alerts: list[Alert] = []
    w.kernel.bus.subscribe(Alert, alerts.append)
    restarted = Kernel(broker=w.broker, store=AsyncStore(Store.open(w.store.path), inline=True),
                       bus=w.kernel.bus, clock=w.clock, calendar=MarketCalendar(),
                       config=w.kernel.settings.config, strategies=w.store.list_strategies())
    await restarted.start(start_driver=False)
    w.kernel = restarted
    await w.step()
    assert restarted.book.state(wid) is WorkflowState.MONITORING
    assert any(a.title == "Resting profit-target order ended: SPY" for a in alerts)
    statuses = {o.external_id: o.status for o in w.store.orders(wid)}
    assert statuses[resting.external_id] is OrderStatus.CANCELLED


async def test_an_entry_that_filled_while_stopped_gets_its_resting_order_after_start_up(
        w: World) -> None:
    wid, _entry, live = await entry_working_at_stop(w)
    w.broker.fill(live.order_id, 2, announce=False, prices=ENTRY)
    restarted = Kernel(broker=w.broker, store=AsyncStore(Store.open(w.store.path), inline=True),
                       bus=w.kernel.bus, clock=w.clock, calendar=MarketCalendar(),
                       config=w.kernel.settings.config, strategies=w.store.list_strategies())
    await restarted.start(start_driver=False)
    w.kernel = restarted
    await w.step()
    assert restarted.book.state(wid) is WorkflowState.MONITORING
    resting = w.broker.placed[-1]
    assert resting.time_in_force is TimeInForce.GTC and resting.price == Decimal("-0.20")
    assert len(w.broker.placed) == 2  # one resting order, placed once reconciled
