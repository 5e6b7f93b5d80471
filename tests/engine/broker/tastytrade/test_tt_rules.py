"""Market rules through the real SDK: tick tables, legs per order, time in force, expiry."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tastydesk.engine.broker.tastytrade import TastytradeAdapterError
from tastydesk.engine.domain.enums import CommandOutcome, OrderAction, OrderStatus
from tastydesk.engine.domain.events import OrderUpdated
from tastydesk.engine.domain.instruments import TickBand, TimeInForce
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest
from tests.engine.broker.conftest import new_external_id
from tests.fake_tastytrade.market import occ

D = Decimal


def _calls(h, symbol: str) -> int:
    return h.fake.count("GET", f"/instruments/equities/{symbol}")


async def test_tick_tables_come_from_the_instrument_and_are_cached(tt_harness):
    h = tt_harness
    spy = await h.broker.trading_rules("spy")
    assert spy.option_ticks.bands == (TickBand(D("0.01"), D("3")), TickBand(D("0.05")))
    assert spy.spread_ticks.bands == (TickBand(D("0.01")),)
    assert spy.max_legs == 4 and spy.multiplier == 100
    assert spy.option_ticks.tick_for(D("2.99")) == D("0.01")
    assert spy.option_ticks.tick_for(D("3.00")) == D("0.05")
    wdfc = await h.broker.trading_rules("WDFC")  # not in the penny program
    assert wdfc.option_ticks.bands == (TickBand(D("0.05"), D("3")), TickBand(D("0.1")))
    assert wdfc.check(1, D("4.05")) is not None and wdfc.check(1, D("4.10")) is None
    await h.broker.trading_rules("SPY")
    assert _calls(h, "SPY") == 1 and _calls(h, "WDFC") == 1


async def test_instrument_outage_falls_back_to_the_chain_table_uncached(tt_factory):
    h = tt_factory(read_retries=1)
    await h.broker.connect()
    try:
        h.fake.inject("instrument", "500", "500")
        rules = await h.broker.trading_rules("WDFC")
        # the nested chain publishes the same single-leg table
        assert rules.option_ticks.bands == (TickBand(D("0.05"), D("3")), TickBand(D("0.1")))
        assert h.fake.count("GET", "/option-chains/WDFC/nested") == 1
        await h.broker.trading_rules("WDFC")  # the fallback was not cached: asked again
        assert _calls(h, "WDFC") == 3
        with pytest.raises(TastytradeAdapterError, match="trading rules NOPE"):
            await h.broker.trading_rules("NOPE")  # 404: a definitive answer, no fallback
    finally:
        await h.broker.close()


def _single(h, root: str, price: Decimal, tif: TimeInForce = TimeInForce.DAY) -> OrderRequest:
    market = h.fake.market
    expiry = next(e for e in market.expirations(root) if (e - market.today).days >= 7)
    strike = market.strikes(root)[4]
    leg = OrderLeg(occ(root, expiry, "P", strike), OrderAction.SELL_TO_OPEN, 1)
    return OrderRequest(root, (leg,), price, new_external_id(), time_in_force=tif)


async def test_fake_rejects_what_tastytrade_rejects(tt_harness):
    h = tt_harness
    off_tick = await h.broker.place(_single(h, "WDFC", D("4.03")))
    assert off_tick.outcome is CommandOutcome.REJECTED
    assert "invalid_price_increment" in off_tick.reason and "tick size 0.1" in off_tick.reason
    dry = await h.broker.dry_run(_single(h, "WDFC", D("2.07")))
    assert not dry.ok and "0.05" in dry.errors[0]
    assert (await h.broker.place(_single(h, "WDFC", D("4.10")))).outcome is \
        CommandOutcome.ACCEPTED
    market = h.fake.market
    expiry = next(e for e in market.expirations("SPY") if (e - market.today).days >= 7)
    strikes = market.strikes("SPY")
    legs = tuple(OrderLeg(occ("SPY", expiry, cp, strikes[i]), action, 1)
                 for i, cp, action in ((8, "P", OrderAction.BUY_TO_OPEN),
                                       (9, "P", OrderAction.SELL_TO_OPEN),
                                       (15, "C", OrderAction.SELL_TO_OPEN),
                                       (16, "C", OrderAction.BUY_TO_OPEN),
                                       (17, "C", OrderAction.BUY_TO_OPEN)))
    five = await h.broker.place(OrderRequest("SPY", legs, D("1.03"), new_external_id()))
    assert five.outcome is CommandOutcome.REJECTED and "at most 4 legs" in five.reason
    four = await h.broker.place(OrderRequest("SPY", legs[:4], D("1.03"), new_external_id()))
    assert four.outcome is CommandOutcome.ACCEPTED  # spreads are priced in pennies


async def test_day_orders_expire_at_the_close_gtc_orders_work_overnight(tt_harness):
    h = tt_harness
    day = await h.broker.place(_single(h, "SPY", D("40.00")))
    gtc = await h.broker.place(_single(h, "SPY", D("41.00"), TimeInForce.GTC))
    assert day.outcome is gtc.outcome is CommandOutcome.ACCEPTED
    assert h.fake.orders[int(gtc.order.order_id)]["time-in-force"] == "GTC"
    h.fake.close_market()
    await h.recorder.wait_for(lambda: any(
        e.order.order_id == day.order.order_id and e.order.status is OrderStatus.EXPIRED
        for e in h.recorder.of(OrderUpdated)))
    assert (await h.broker.get_order(gtc.order.order_id)).status is OrderStatus.WORKING
    after = await h.broker.place(_single(h, "SPY", D("42.00")))
    assert after.outcome is CommandOutcome.REJECTED and "market_closed" in after.reason
    overnight = await h.broker.place(_single(h, "SPY", D("43.00"), TimeInForce.GTC))
    assert overnight.outcome is CommandOutcome.ACCEPTED
    replaced = await h.broker.replace(gtc.order.order_id, D("41.50"))
    assert replaced.outcome is CommandOutcome.ACCEPTED, replaced.reason
    assert h.fake.orders[int(replaced.order.order_id)]["time-in-force"] == "GTC"
    h.fake.next_session()
    assert (await h.broker.get_order(replaced.order.order_id)).status is OrderStatus.WORKING
    await h.make_fill(replaced.order.order_id)
    filled = await h.broker.get_order(replaced.order.order_id)
    assert filled.status is OrderStatus.FILLED
    assert min(f.time for f in filled.fills) > replaced.order.updated_at + timedelta(hours=12)


def test_a_published_spread_table_is_read_from_the_instrument():
    from tastydesk.engine.broker.tastytrade import mapping
    from tastydesk.engine.broker.tastytrade.market import equity_rules_model
    from tests.fake_tastytrade.instruments import equity

    plain = equity_rules_model()(**equity("WDFC", 7))
    assert plain.spread_tick_sizes is None  # tastytrade's equities publish none: pennies
    payload = equity("WDFC", 7) | {"spread-tick-sizes": [{"value": "0.05"}]}
    model = equity_rules_model()(**payload)
    assert mapping.tick_table(model.spread_tick_sizes).bands == (TickBand(D("0.05")),)
    assert mapping.tick_table(model.option_tick_sizes).bands == \
        (TickBand(D("0.05"), D("3")), TickBand(D("0.1")))
