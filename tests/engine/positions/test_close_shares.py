"""Closing a position that holds shares: the share leg closes the shares actually held
(multiplier 1), never ``ratio x units`` (which counts 100 shares as one contract)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tastydesk.engine.bootstrap import open_paper_engine
from tastydesk.engine.domain.chain import occ_symbol
from tastydesk.engine.domain.enums import (
    Actor,
    CommandOutcome,
    OptionType,
    OrderAction,
    OrderPurpose,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest
from tastydesk.engine.positions.actions import close_legs, order_prices
from tastydesk.engine.positions.monitored import MonitoredPosition, monitored_leg
from tastydesk.engine.simulation import SIM_START

D = Decimal
PUT = occ_symbol("SPY", date(2026, 1, 16), OptionType.PUT, D("575"))


def position(shares: int, puts: int, units: int) -> MonitoredPosition:
    base = units
    legs = [monitored_leg("SPY", shares, D("580"), base), monitored_leg(PUT, puts, D("1.30"), base)]
    return MonitoredPosition(1, "SPY", "x", legs, units, D("1"), D("1"), D("1"), (),
                             datetime(2026, 1, 5, 15, 0))


def test_the_share_leg_closes_the_shares_held() -> None:
    legs = close_legs(position(100, 1, 1), 1)
    assert legs == (OrderLeg("SPY", OrderAction.SELL_TO_CLOSE, 100),
                    OrderLeg(PUT, OrderAction.SELL_TO_CLOSE, 1))
    short = close_legs(position(-300, 3, 3), 3)
    assert short[0] == OrderLeg("SPY", OrderAction.BUY_TO_CLOSE, 300)


def test_a_partial_close_takes_the_shares_part() -> None:
    assert close_legs(position(200, 2, 2), 1) == (
        OrderLeg("SPY", OrderAction.SELL_TO_CLOSE, 100),
        OrderLeg(PUT, OrderAction.SELL_TO_CLOSE, 1))


def test_shares_alone_are_priced_per_share() -> None:
    legs = (OrderLeg("SPY", OrderAction.SELL_TO_CLOSE, 100),)
    # per unit of 100 shares the mark is the share price; the order counts shares
    assert order_prices(legs, 1, D("580.00"), D("579.90")) == (100, D("580.00"), D("579.90"))
    mixed = (OrderLeg("SPY", OrderAction.SELL_TO_CLOSE, 100),
             OrderLeg(PUT, OrderAction.SELL_TO_CLOSE, 1))
    assert order_prices(mixed, 1, D("581.30"), D("581.00")) == (1, D("581.30"), D("581.00"))


async def test_a_manual_close_on_paper_sells_the_shares_held_with_the_put(tmp_path: Path) -> None:
    """Shares and a put the broker really holds, monitored as one position: the trader's close
    is one order of 100 shares and 1 put, and it leaves the broker flat."""
    kernel, driver = await open_paper_engine(tmp_path, seed=3,
                                             start=SIM_START + timedelta(hours=1))
    await kernel.start(start_driver=False)
    try:
        broker = kernel.broker
        chain = await broker.option_chain("SPY", 20, 50)
        put = min((s.put for s in chain.expirations[0].strikes),
                  key=lambda c: abs(c.strike - chain.underlying.price * D("0.97")))
        assert put.quote is not None
        spot = (await broker.market_metrics(["SPY"]))["SPY"].price
        for request in (
                OrderRequest("SPY", (OrderLeg("SPY", OrderAction.BUY_TO_OPEN, 100),),
                             -(spot + 5).quantize(D("0.01")), "shares"),
                OrderRequest("SPY", (OrderLeg(put.symbol, OrderAction.BUY_TO_OPEN, 1),),
                             -(put.quote.ask + D("0.50")), "put")):
            assert (await broker.place(request)).outcome is CommandOutcome.ACCEPTED
        driver.advance(120)
        await kernel.tasks.drain()
        held = {p.symbol: p for p in await broker.positions()}
        assert held["SPY"].quantity == 100 and held[put.symbol].quantity == 1
        rec = await kernel.book.create("SPY", Actor.USER, "test",
                                       strategy_name="Put Credit Spread - 30 DTE", announce=False)
        now = kernel.clock.now()
        for symbol in ("SPY", put.symbol):
            p = held[symbol]
            await kernel.store.apply_position_fill(rec.id, symbol, p.quantity,
                                                   p.average_open_price, now)
        await kernel.book.transition(rec.id, Trigger.ADOPT, Actor.USER, "adopted")
        await kernel.positions.load(rec.id)
        await kernel.tasks.drain()
        driver.advance(60)
        await kernel.tasks.drain()
        outcome = await kernel.facade.close_position(rec.id, "trader")
        assert outcome.sent, outcome.detail
        [order] = [o for o in await kernel.store.orders(rec.id)
                   if o.purpose is OrderPurpose.CLOSE]
        assert sorted((leg.symbol, leg.action, leg.quantity) for leg in order.legs) == sorted(
            [("SPY", OrderAction.SELL_TO_CLOSE, 100), (put.symbol, OrderAction.SELL_TO_CLOSE, 1)])
        for _ in range(30):
            if kernel.book.state(rec.id) is WorkflowState.COMPLETED:
                break
            driver.advance(60)
            await kernel.tasks.drain()
        assert kernel.book.state(rec.id) is WorkflowState.COMPLETED
        assert await broker.positions() == []
    finally:
        await kernel.stop()
