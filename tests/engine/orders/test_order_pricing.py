"""Order walks: urgency by purpose, the strategy's presets, the instrument's tick, the limit."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest

from tastydesk.engine.domain.enums import OrderAction, OrderPurpose
from tastydesk.engine.domain.instruments import NICKEL_TICKS, TradingRules
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest
from tastydesk.engine.execution_pricing.walk import Urgency
from tastydesk.engine.orders.market import LegQuotes, leg_streamer
from tastydesk.engine.orders.pricing import OrderPricer, walk_for
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES


class _Rules:
    """A broker that only answers trading rules (the pricer asks for nothing else)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def trading_rules(self, symbol: str) -> TradingRules:
        self.asked.append(symbol)
        return TradingRules(symbol, option_ticks=NICKEL_TICKS, spread_ticks=NICKEL_TICKS)


def _strategy():  # type: ignore[no-untyped-def]
    return DEFAULT_STRATEGIES[0]


def test_urgency_follows_the_purpose() -> None:
    s = _strategy()
    assert walk_for(s, OrderPurpose.OPEN)[1] is Urgency.PATIENT
    assert walk_for(s, OrderPurpose.CLOSE, "profit_target")[1] is Urgency.NORMAL
    fast = walk_for(s, OrderPurpose.CLOSE, "stop_loss")
    assert fast[1] is Urgency.FAST and "stop loss" in fast[2]
    assert walk_for(s, OrderPurpose.CLOSE, "delta_breach")[1] is Urgency.FAST


def test_strategy_custom_values_shape_the_entry_walk() -> None:
    s = _strategy()
    custom = dataclasses.replace(s, pricing=dataclasses.replace(
        s.pricing, max_attempts=7, start_offset=D("0.02")))
    walk, urgency, reason = walk_for(custom, OrderPurpose.OPEN)
    assert (walk.attempts, walk.start_offset, urgency) == (7, D("0.02"), Urgency.PATIENT)
    assert "the strategy's own values" in reason
    assert walk_for(custom, OrderPurpose.CLOSE, "stop_loss")[0].attempts == 3  # exits: presets


@pytest.mark.asyncio
async def test_fast_exit_reaches_natural_on_tick_within_three_prices() -> None:
    broker = _Rules()
    pricer = OrderPricer(broker)  # type: ignore[arg-type]
    plan = await pricer.plan(underlying="spy", leg_count=2, purpose=OrderPurpose.CLOSE,
                             rule_type="stop_loss", strategy=_strategy(), mid=D("-1.52"),
                             limit=None)
    prices = [plan.price(i, D("-1.83")) for i in range(5)]
    # natural from the third price on, on the nickel tick and never past natural
    assert prices[2] == prices[3] == prices[4] == D("-1.80")
    assert all(NICKEL_TICKS.is_on_tick(p) for p in prices)
    assert prices[0] > prices[1] > prices[2]
    await pricer.plan(underlying="SPY", leg_count=2, purpose=OrderPurpose.OPEN, rule_type="",
                      strategy=_strategy(), mid=D("1.00"), limit=None)
    assert broker.asked == ["SPY"]  # cached per underlying


@pytest.mark.asyncio
async def test_walk_never_passes_the_traders_limit_or_max_slippage() -> None:
    pricer = OrderPricer(_Rules())  # type: ignore[arg-type]
    plan = await pricer.plan(underlying="SPY", leg_count=2, purpose=OrderPurpose.OPEN,
                             rule_type="", strategy=_strategy(), mid=D("1.00"),
                             limit=D("0.90"))
    assert min(plan.price(i, D("0.60")) for i in range(5)) == D("0.90")
    stop = await pricer.plan(underlying="SPY", leg_count=2, purpose=OrderPurpose.CLOSE,
                             rule_type="stop_loss", strategy=_strategy(), mid=D("-2.00"),
                             limit=None)
    assert stop.price(10, D("-4.00")) == D("-2.50")  # $0.50 below mid at most


def test_leg_quotes_price_the_spread_per_unit() -> None:
    from datetime import UTC, datetime

    from tastydesk.engine.domain.chain import Quote

    short = "SPY   260116P00500000"
    long = "SPY   260116P00495000"
    request = OrderRequest("SPY", (OrderLeg(short, OrderAction.SELL_TO_OPEN, 2),
                                   OrderLeg(long, OrderAction.BUY_TO_OPEN, 2)), D("1"), "x")
    quotes = LegQuotes()
    quotes.watch("x", [leg_streamer(short), leg_streamer(long)])  # type: ignore[list-item]
    now = datetime(2026, 1, 5, tzinfo=UTC)
    quotes.update(Quote(leg_streamer(short), D("2.00"), D("2.20"), now))  # type: ignore[arg-type]
    assert quotes.price(request, 2) is None  # one leg still without a quote
    quotes.update(Quote(leg_streamer(long), D("1.00"), D("1.10"), now))  # type: ignore[arg-type]
    price = quotes.price(request, 2)
    assert price is not None and price.mid == D("1.05") and price.natural == D("0.90")
    assert quotes.unwatch("x", [leg_streamer(short)]) == [leg_streamer(short)]
