"""Trading rules of the paper broker: the exchange tick convention per underlying.

* SPY, QQQ and IWM quote in $0.01 at every price (the penny program's all-pennies classes).
* Other penny-program classes quote in $0.01 below $3 and $0.05 at or above (:data:`PENNY_PROGRAM`
  lists the ones the paper market knows; a real list has a few hundred classes).
* Every other class quotes in $0.05 below $3 and $0.10 at or above.
* Complex (multi-leg) orders may be priced in $0.01 for every class.
* At most four legs per option order, each on a distinct symbol; shares trade one leg per order
  in $0.01.
"""

from __future__ import annotations

from decimal import Decimal

from tastydesk.engine.domain.instruments import (
    NICKEL_TICKS,
    PENNY_TICKS,
    SPREAD_PENNY_TICKS,
    TickBand,
    TickTable,
    TradingRules,
)

ALL_PENNY_TICKS = TickTable((TickBand(Decimal("0.01")),))
SHARE_TICKS = ALL_PENNY_TICKS

ALL_PENNIES = frozenset({"SPY", "QQQ", "IWM"})
PENNY_PROGRAM = ALL_PENNIES | frozenset({
    "AAPL", "MSFT", "AMZN", "NVDA", "TSLA", "AMD", "META", "GOOGL", "GOOG", "NFLX", "INTC",
    "BAC", "C", "F", "GE", "JPM", "WFC", "XOM", "CVX", "PFE", "KO", "DIS", "BA", "UBER",
    "PLTR", "COIN", "MU", "SMCI", "DIA", "GLD", "SLV", "TLT", "HYG", "EEM", "EFA", "FXI",
    "XLF", "XLE", "XLK", "XLU", "XBI", "GDX", "USO", "UNG", "SMH", "ARKK", "KRE", "SOFI",
})


def option_ticks(symbol: str) -> TickTable:
    """The single-leg option tick table of ``symbol``'s class."""
    if symbol in ALL_PENNIES:
        return ALL_PENNY_TICKS
    return PENNY_TICKS if symbol in PENNY_PROGRAM else NICKEL_TICKS


def rules_for(symbol: str) -> TradingRules:
    """What the paper broker enforces on orders for ``symbol``'s options."""
    symbol = symbol.upper()
    return TradingRules(symbol, option_ticks=option_ticks(symbol), spread_ticks=SPREAD_PENNY_TICKS)


def quote_ticks(symbol: str) -> tuple[int, int]:
    """The option tick of ``symbol``'s class in cents, below $3 and at or above $3 (what the
    paper market quotes on)."""
    table = option_ticks(symbol)
    return (int(table.tick_for(Decimal("2.99")) * 100), int(table.tick_for(Decimal("3")) * 100))
