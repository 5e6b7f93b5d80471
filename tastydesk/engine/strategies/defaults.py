"""The built-in strategies installed on first run and by "restore defaults".

All five sell premium, so they share filters that keep them to liquid names with rich premium:
IV rank 20..100 and an underlying of at least $20. The cash-secured put is the exception on IV
rank (no floor): it serves a bullish bias only, and implied volatility falls while a stock trends
up, so in the simulated year IV rank was below 20 in 83 % of bullish evaluations (median 9) and a
floor of 20 left it 7 proposals in 250 days. Its premium is guarded by its minimum credit instead,
and what it is for, buying shares the trader wants below today's price (it wheels after an
assignment), does not depend on where implied volatility sits in its yearly range.
"""

from __future__ import annotations

from decimal import Decimal as D

from tastydesk.engine.domain.enums import (
    AfterAssignment,
    Bias,
    DeltaScope,
    OptionType,
    RuleAction,
    RuleType,
    SelectionMethod,
    Side,
)
from tastydesk.engine.domain.strategy import (
    DteRange,
    EntryFilters,
    ManagementRule,
    Sizing,
    Strategy,
    StrategyLeg,
    StrikeSelection,
)

PUT, CALL = OptionType.PUT, OptionType.CALL
SELL, BUY = Side.SELL, Side.BUY


def _delta(option_type: OptionType, side: Side, delta: str) -> StrategyLeg:
    return StrategyLeg(option_type, side, StrikeSelection(SelectionMethod.DELTA, D(delta)))


def _wing(option_type: OptionType, width: str, reference_leg: int) -> StrategyLeg:
    return StrategyLeg(option_type, BUY,
                       StrikeSelection(SelectionMethod.WIDTH, D(width), reference_leg))


def _filters(min_credit: str, iv_rank_min: str = "20") -> EntryFilters:
    return EntryFilters(min_credit=D(min_credit), min_underlying_price=D("20"),
                        iv_rank_min=D(iv_rank_min), iv_rank_max=D("100"), min_liquidity=2,
                        min_open_interest=100, earnings_blackout_days=7)


def _exits(profit: str, stop: str, dte: int) -> tuple[ManagementRule, ...]:
    return (
        ManagementRule(RuleType.STOP_LOSS, D(stop), priority=1),
        ManagementRule(RuleType.PROFIT_TARGET, D(profit), priority=2),
        ManagementRule(RuleType.TIME_EXIT, D(dte), priority=3),
    )


def _guards(first: int = 4) -> tuple[ManagementRule, ...]:
    """Assignment prevention on every default: close a short leg in (or within 1 % of) the money
    on its last day, and a short call worth less than the dividend before the ex-date. Their
    priorities follow the strategy's other rules (``first``, ``first + 1``)."""
    return (
        ManagementRule(RuleType.EXPIRATION_RISK, D("1"), priority=first,
                       strike_distance_pct=D("1")),
        ManagementRule(RuleType.EX_DIVIDEND, D("3"), priority=first + 1),
    )


DEFAULT_STRATEGIES: tuple[Strategy, ...] = (
    Strategy(
        name="Put Credit Spread - 30 DTE",
        description="Sell a 16-delta put and buy the put $5 lower: bullish to neutral, "
                    "defined risk.",
        legs=(_delta(PUT, SELL, "0.16"), _wing(PUT, "5", 0)),
        dte=DteRange(25, 30, 35),
        biases=frozenset({Bias.BULLISH, Bias.NEUTRAL}),
        filters=_filters("0.50"),
        rules=(*_exits("50", "200", 21), *_guards()),
    ),
    Strategy(
        name="Call Credit Spread - 30 DTE",
        description="Sell a 16-delta call and buy the call $5 higher: bearish to neutral, "
                    "defined risk.",
        legs=(_delta(CALL, SELL, "0.16"), _wing(CALL, "5", 0)),
        dte=DteRange(25, 30, 35),
        biases=frozenset({Bias.BEARISH, Bias.NEUTRAL}),
        filters=_filters("0.50"),
        rules=(*_exits("50", "200", 21), *_guards()),
    ),
    Strategy(
        name="Iron Condor - 45 DTE",
        description="A put credit spread and a call credit spread around the price, $10 wings: "
                    "neutral, defined risk. Two lots: takes half off at 15 % of max profit, the "
                    "rest at 25 %.",
        legs=(_delta(PUT, SELL, "0.16"), _wing(PUT, "10", 0),
              _delta(CALL, SELL, "0.16"), _wing(CALL, "10", 2)),
        dte=DteRange(40, 45, 50),
        biases=frozenset({Bias.NEUTRAL}),
        filters=_filters("1.00"),
        sizing=Sizing(quantity=2, max_buying_power=D("5000")),
        rules=(*_exits("25", "200", 21),
               ManagementRule(RuleType.PARTIAL_CLOSE, D("15"), action=RuleAction.PARTIAL_CLOSE,
                              priority=4, close_pct=50), *_guards(5)),
    ),
    Strategy(
        name="Short Strangle - 30 DTE",
        description="Sell a 16-delta put and a 16-delta call: neutral, undefined risk. "
                    "Exits when a short leg's delta passes 0.25.",
        legs=(_delta(PUT, SELL, "0.16"), _delta(CALL, SELL, "0.16")),
        dte=DteRange(25, 30, 35),
        biases=frozenset({Bias.NEUTRAL}),
        filters=_filters("1.00"),
        rules=(*_exits("50", "200", 21),
               ManagementRule(RuleType.DELTA_BREACH, D("0.25"), priority=4,
                              delta_scope=DeltaScope.SHORT_LEG, hold_evaluations=2),
               *_guards(5)),
    ),
    Strategy(
        name="Cash Secured Put - 30 DTE",
        description="Sell a 20-delta put backed by cash: bullish, happy to own the shares. "
                    "Up to $21,000 of buying power a trade (about a fifth of the default "
                    "$100,000 paper account): names priced below about $210. No IV rank "
                    "floor: implied volatility is usually low while a stock trends up; the "
                    "$0.50 minimum credit guards the premium.",
        legs=(_delta(PUT, SELL, "0.20"),),
        dte=DteRange(25, 30, 35),
        biases=frozenset({Bias.BULLISH}),
        filters=_filters("0.50", iv_rank_min="0"),
        # The strike's cash is the buying power: a $5,000 cap would need a stock below $50.
        sizing=Sizing(quantity=1, max_buying_power=D("21000")),
        rules=(*_exits("50", "300", 7), *_guards()),
        after_assignment=AfterAssignment.WHEEL,
    ),
)
