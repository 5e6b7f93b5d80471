"""Order walks: urgency by purpose, the strategy's presets, the instrument's tick, the limit."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _with_pricing(**kw: object):  # type: ignore[no-untyped-def]
    s = _strategy()
    return dataclasses.replace(s, pricing=dataclasses.replace(s.pricing, **kw))


def test_strategy_presets_replace_the_urgency_of_their_kind_of_order() -> None:
    from tastydesk.engine.domain.enums import ExecutionPreset as E

    s = _with_pricing(entry_preset=E.NORMAL, exit_preset=E.FAST, protective_preset=E.NORMAL)
    walk, urgency, reason = walk_for(s, OrderPurpose.OPEN)
    assert (urgency, walk.attempts, walk.interval_seconds) == (Urgency.NORMAL, 4, 30)
    assert reason == "normal pricing: entry (the strategy's preset)"
    assert walk_for(s, OrderPurpose.CLOSE, "profit_target")[1] is Urgency.FAST
    assert walk_for(s, OrderPurpose.CLOSE, "time_exit")[1] is Urgency.FAST
    stop = walk_for(s, OrderPurpose.CLOSE, "stop_loss")
    assert stop[1] is Urgency.NORMAL and "stop loss" in stop[2]
    # Unset (default) keeps the walk the purpose calls for.
    plain = _strategy()
    assert [walk_for(plain, p, r)[1] for p, r in ((OrderPurpose.OPEN, ""),
                                                 (OrderPurpose.CLOSE, "profit_target"),
                                                 (OrderPurpose.CLOSE, "expiration_risk"))] == [
        Urgency.PATIENT, Urgency.NORMAL, Urgency.FAST]


def test_strategy_custom_interval_and_step_share_shape_the_entry_walk() -> None:
    from tastydesk.engine.domain.instruments import SPREAD_PENNY_TICKS
    from tastydesk.engine.execution_pricing.walk import step_price

    s = _with_pricing(walk_interval_seconds=45, step_share_pct=25, max_attempts=3)
    walk, _, reason = walk_for(s, OrderPurpose.OPEN)
    assert (walk.interval_seconds, walk.step_share, walk.attempts) == (45, D("0.25"), 3)
    assert "the strategy's own values" in reason
    # A quarter of the 0.40 from mid to natural per step; three prices stop short of natural.
    assert [step_price(D("2.00"), D("1.60"), None, i, walk, SPREAD_PENNY_TICKS)
            for i in range(3)] == [D("2.00"), D("1.90"), D("1.80")]
    # Exits keep their presets.
    assert walk_for(s, OrderPurpose.CLOSE, "stop_loss")[0].interval_seconds == 5


@pytest.mark.asyncio
@given(slippage=st.integers(0, 200).map(lambda n: D(n) / 100),
       natural=st.integers(-900, 900).map(lambda n: D(n) / 100),
       width=st.integers(1, 100).map(lambda n: D(n) / 100),
       later=st.lists(st.integers(-500, 500).map(lambda n: D(n) / 100), min_size=1,
                      max_size=12),
       rule=st.sampled_from(["stop_loss", "delta_breach", "expiration_risk"]))
@settings(max_examples=150, deadline=None)
async def test_a_fast_exit_never_prices_past_natural_plus_the_max_slippage(
        slippage: D, natural: D, width: D, later: list[D], rule: str) -> None:
    """However far the market runs after the trigger, a protective exit re-priced at natural
    never goes past the natural at its trigger by more than the trader's max slippage."""
    pricer = OrderPricer(_Rules())  # type: ignore[arg-type]
    mid = natural + width / 2
    plan = await pricer.plan(underlying="SPY", leg_count=2, purpose=OrderPurpose.CLOSE,
                             rule_type=rule, strategy=_strategy(), mid=mid, limit=None,
                             natural=natural, max_slippage=slippage)
    assert plan.walk.max_slippage == slippage
    for attempt, move in enumerate([D(0), *later]):
        price = plan.price(attempt, natural + move)  # natural drifts either way
        assert price >= natural - slippage, (attempt, price)
        # and never asks for better than mid or the current natural (plus a tick of rounding)
        assert price <= max(mid, natural + move) + D("0.10")
