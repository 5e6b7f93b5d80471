"""Resting profit-target exits on the tastytrade adapter (real SDK) against the fake tastytrade:
the entry's fill places a GTC closing limit at the target (checked in the order the server
received), the app's own stop cancels it and sends its close only once the cancel is confirmed,
and a resting order that filled while the engine was stopped is booked at start-up on the same
SQLite files.

The engine and the server share one clock started on a Monday at 10:00 New York, so the tests
run the same whenever the suite does; ``next_session`` moves the server a day on while the
engine is stopped, and the restarted engine's clock starts at the server's time.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest

from tastydesk.engine.broker.tastytrade.adapter import TastytradeBroker
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import MarketCalendar, RealClock
from tastydesk.engine.config import EngineConfig
from tastydesk.engine.domain.enums import Actor, OrderPurpose, OrderStatus, Trigger, WorkflowState
from tastydesk.engine.domain.events import Alert
from tastydesk.engine.domain.instruments import TimeInForce
from tastydesk.engine.kernel import Kernel
from tastydesk.engine.store.guard import LOOP_GUARD
from tastydesk.engine.store.service import AsyncStore, Store
from tests.engine.broker.conftest import FAST_STREAMS
from tests.fake_tastytrade import FakeTastytrade, InProcessTransport

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, 10:00 New York
# WD-40 is outside the penny program: single options trade in $0.05 below $3, $0.10 above, so a
# target of half the credit often falls between two ticks.
SYMBOL = "WDFC"
NICKEL = Decimal("0.05")
STRATEGY = "Cash Secured Put - 30 DTE"  # 50 % profit target, 300 % stop


@dataclass
class Server:
    """The fake tastytrade, and the clock its first engine runs on."""

    fake: FakeTastytrade
    clock: RealClock


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    clock = RealClock(start=T0)
    fake = FakeTastytrade(dx_keepalive=0.1, hang_seconds=30.0, now=clock.now)
    transport = InProcessTransport(fake.app)
    await transport.start()
    fake.transport = transport  # type: ignore[attr-defined]
    yield Server(fake, clock)
    await transport.aclose()


async def engine(tmp_path: Path, fake: FakeTastytrade, clock: RealClock) -> Kernel:
    """A started engine on the tastytrade adapter, on the data directory's SQLite files: only
    the test's symbol on the watch list, one workflow at most, automation as stored."""
    store = Store.open(tmp_path / "tastydesk.db")
    with LOOP_GUARD.permitted():  # arranging the data directory before the engine opens
        if store.get_config("engine", None) is None:
            store.set_config("engine", EngineConfig.from_dict({
                **EngineConfig().to_dict(), "watchlist": [SYMBOL],
                "max_workflows_per_symbol": 1, "max_workflows_total": 1}).to_dict())
            store.set_config("automation_armed", False)
        config = EngineConfig.from_dict(store.get_config("engine"))
        strategies = store.list_strategies()
    bus = EventBus()
    broker = TastytradeBroker(
        bus, clock, provider_secret=fake.provider_secret, refresh_token=fake.refresh_token,
        client_kwargs={"transport": fake.transport},  # type: ignore[attr-defined]
        request_timeout=2.0, stream_settings=FAST_STREAMS, retry_backoff=0.01,
        stream_connect_timeout=3.0, seed=1)
    kernel = Kernel(broker=broker, store=AsyncStore(store), bus=bus, clock=clock,
                    calendar=MarketCalendar(), config=config, strategies=strategies)
    await kernel.start()
    assert kernel.readiness.reconciled, kernel.readiness.detail
    return kernel


async def until(check: Callable[[], Any], seconds: float = 10.0,
                between: Callable[[], None] | None = None) -> Any:
    """Poll ``check`` (calling ``between`` before each try) until it is truthy; its value."""
    for _ in range(int(seconds / 0.05)):
        if between is not None:
            between()
        if value := check():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


def orders_of(fake: FakeTastytrade, workflow_id: int, tif: str | None = None
              ) -> list[dict[str, Any]]:
    """The orders the server received for ``workflow_id`` (by the app's external id), oldest
    first; ``tif`` keeps one time in force."""
    prefix = f"td-{workflow_id}-"
    return [o for o in fake.orders.values()
            if o.get("external-identifier", "").startswith(prefix)
            and (tif is None or o["time-in-force"] == tif)]


@dataclass
class Holding:
    workflow_id: int
    put: str  # OCC symbol of the short put
    streamer: str  # its DXLink symbol
    credit: Decimal  # per share, as filled
    resting: dict[str, Any]  # the GTC order as the server holds it


async def holding(kernel: Kernel, fake: FakeTastytrade) -> Holding:
    """A cash-secured put on WDFC with a resting exit: proposed on the fake's chain, approved,
    its entry filled by the server at a credit whose half is off the nickel tick; returns it
    once its resting order reached the server."""
    csp = kernel.strategies.get(STRATEGY)
    assert csp is not None
    strategy = dataclasses.replace(
        csp, pricing=dataclasses.replace(csp.pricing, resting_exit=True),
        sizing=dataclasses.replace(csp.sizing, max_buying_power=Decimal("30000")))
    await kernel.facade.save_strategy(strategy, "test")
    wid = (await kernel.book.create(SYMBOL, Actor.ENGINE, "test")).id
    await kernel.book.transition(wid, Trigger.SCAN, Actor.ENGINE, "test")
    proposal = await kernel.candidates.preview(strategy, SYMBOL)
    (leg,) = proposal.legs
    await kernel.desk.propose(wid, proposal, strategy)
    assert (await kernel.facade.approve(wid, "ann")).sent
    entry = await until(lambda: [o for o in orders_of(fake, wid) if o["status"] == "Live"])
    (entry,) = entry
    limit = Decimal(entry["price"])
    # A sell filled at its limit, or a nickel better when half the limit is on the tick.
    credit = limit if (limit / 2) % NICKEL else limit + NICKEL
    fake.fill(entry["id"], leg_prices={leg.symbol: credit})
    (resting,) = await until(lambda: orders_of(fake, wid, "GTC"))
    assert kernel.book.state(wid) is WorkflowState.MONITORING
    return Holding(wid, leg.symbol, leg.streamer_symbol, credit, resting)


def target_debit(credit: Decimal) -> Decimal:
    """Half the credit, on the nickel tick and never above half (a debit the trader pays)."""
    return ((credit / 2) / NICKEL).to_integral_value(rounding=ROUND_FLOOR) * NICKEL


async def test_the_entry_fill_places_a_gtc_close_at_the_profit_target_on_tick(
        tmp_path: Path, server: Server) -> None:
    fake = server.fake
    kernel = await engine(tmp_path, fake, server.clock)
    try:
        pos = await holding(kernel, fake)
        resting = pos.resting
        assert (pos.credit / 2) % NICKEL != 0  # the target itself is between two ticks
        assert resting["time-in-force"] == "GTC" and resting["order-type"] == "Limit"
        assert resting["status"] == "Live"
        assert [(leg["symbol"], leg["action"], leg["quantity"]) for leg in resting["legs"]] == [
            (pos.put, "Buy to Close", "1")]
        assert resting["price-effect"] == "Debit"
        assert Decimal(resting["price"]) == target_debit(pos.credit)
        (stored,) = [o for o in await kernel.store.orders(pos.workflow_id)
                     if o.purpose is OrderPurpose.CLOSE]
        assert stored.time_in_force is TimeInForce.GTC and stored.status is OrderStatus.WORKING
        assert stored.broker_order_id == str(resting["id"])
        # The session closes: a GTC order keeps working at the broker and in the app.
        fake.close_market()
        await asyncio.sleep(0.3)
        assert fake.orders[resting["id"]]["status"] == "Live"
        (stored,) = [o for o in await kernel.store.orders(pos.workflow_id)
                     if o.purpose is OrderPurpose.CLOSE]
        assert stored.status is OrderStatus.WORKING
    finally:
        await kernel.stop()


async def test_a_stop_cancels_the_resting_order_and_sends_its_close_once_confirmed(
        tmp_path: Path, server: Server) -> None:
    fake = server.fake
    kernel = await engine(tmp_path, fake, server.clock)
    alerts: list[Alert] = []
    kernel.bus.subscribe(Alert, alerts.append)
    try:
        pos = await holding(kernel, fake)
        wid, rid = pos.workflow_id, pos.resting["id"]
        await kernel.facade.set_automation(True, "test")  # the stop acts unattended
        fake.defer_cancels()  # the exchange confirms a cancel only when the test says so
        calls_before = len(fake.calls)
        # A loss past 300 % of the credit, quoted again and again until the stop confirms.
        bid = pos.credit * 4 + 1

        def quote() -> None:
            fake.push_quote(pos.streamer, bid, bid + Decimal("0.20"))

        await until(lambda: fake.orders[rid]["status"] == "Cancel Requested", 20.0, quote)
        for _ in range(20):  # the stop keeps triggering; the cancel is not confirmed
            quote()
            await asyncio.sleep(0.05)
        assert orders_of(fake, wid, "Day")[1:] == [], "a close went out over a live resting order"
        assert kernel.book.state(wid) is WorkflowState.MONITORING
        assert any("cancel is not confirmed" in a.message for a in alerts)

        assert fake.confirm_cancels() == [rid]
        stop = await until(lambda: orders_of(fake, wid, "Day")[1:], 20.0, quote)
        (close,) = stop
        assert [(leg["symbol"], leg["action"], leg["quantity"]) for leg in close["legs"]] == [
            (pos.put, "Buy to Close", "1")]
        calls = fake.calls[calls_before:]
        path = f"/accounts/{fake.account_number}/orders"
        cancel_at = calls.index(("DELETE", f"{path}/{rid}"))
        sent_at = [i for i, call in enumerate(calls) if call == ("POST", path)]
        assert sent_at and cancel_at < sent_at[0]  # one close sent, after the cancel
        assert len(sent_at) == 1
        assert fake.orders[rid]["status"] == "Cancelled"
        statuses = {o.external_id: o.status for o in await kernel.store.orders(wid)}
        assert statuses[pos.resting["external-identifier"]] is OrderStatus.CANCELLED
        assert kernel.book.state(wid) is WorkflowState.CLOSING
        assert [t.reason for t in kernel.facade.transitions(wid)][-1].startswith(
            "rule stop_loss")
        # The app withdrew it: no alarm about a resting order that ended on its own.
        assert not [a for a in alerts if a.title.startswith("Resting profit-target order ended")]
    finally:
        await kernel.stop()


@pytest.mark.parametrize("days_after_fill", [0, 1])
async def test_a_resting_order_filled_while_stopped_is_booked_at_start_up(
        tmp_path: Path, server: Server, days_after_fill: int) -> None:
    fake = server.fake
    kernel = await engine(tmp_path, fake, server.clock)
    pos = await holding(kernel, fake)
    wid, rid = pos.workflow_id, pos.resting["id"]
    await kernel.stop()

    # The app is closed. The next session the resting order fills at its limit; the app may
    # come back that day, or (days_after_fill=1) the day after, when the order no longer
    # shows among the live orders nor in today's history.
    target = Decimal(pos.resting["price"])
    fake.close_market()
    fake.next_session()
    fake.fill(rid, leg_prices={pos.put: target})
    for _ in range(days_after_fill):
        fake.close_market()
        fake.next_session()
    assert fake.positions.get(pos.put, {"qty": 0})["qty"] == 0

    restarted = await engine(tmp_path, fake, RealClock(start=fake.now()))
    try:
        await restarted.tasks.drain()
        states = {w.workflow_id: w.state for w in restarted.facade.workflows()}
        assert states[wid] in (WorkflowState.COMPLETED, WorkflowState.SCANNING)
        (journal,) = [j for j in await restarted.store.journal() if j.workflow_id == wid]
        assert journal.closing_rule == "profit_target"
        assert journal.exit_price == -target
        assert journal.realised_pnl == (pos.credit - target) * 100 - journal.fees
        order = {o.external_id: o for o in await restarted.store.orders(wid)}[
            pos.resting["external-identifier"]]
        assert order.status is OrderStatus.FILLED and order.filled_quantity == 1
        assert [p for p in restarted.facade.positions() if p.workflow_id == wid] == []
        assert restarted.facade.health().reconciled
        assert not [e for e in await restarted.store.errors() if "mismatch" in e.message]
        # Nothing was sent at start-up: the position is gone, so no resting order again.
        assert len(orders_of(fake, wid)) == 2
    finally:
        await restarted.stop()
