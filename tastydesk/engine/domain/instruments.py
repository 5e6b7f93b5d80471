"""An instrument's trading rules: tick tables, legs per order, multiplier, time in force.

Loaded from the broker (tastytrade publishes tick tables per underlying; the paper broker uses
the exchange convention) so the engine never builds an order the broker would reject.
Prices are signed (credit +, debit -); ticks apply to the absolute price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from enum import StrEnum

MAX_OPTION_LEGS = 4


class TimeInForce(StrEnum):
    """How long a working order lives. DAY orders die at the close; GTC orders work across
    sessions until filled or cancelled (tastytrade's values)."""

    DAY = "Day"
    GTC = "GTC"


@dataclass(frozen=True, slots=True)
class TickBand:
    """``tick`` applies to absolute prices below ``below``; the last band has ``below=None``."""

    tick: Decimal
    below: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TickTable:
    bands: tuple[TickBand, ...]

    def tick_for(self, price: Decimal) -> Decimal:
        magnitude = abs(price)
        for band in self.bands:
            if band.below is None or magnitude < band.below:
                return band.tick
        return self.bands[-1].tick

    def is_on_tick(self, price: Decimal) -> bool:
        return abs(price) % self.tick_for(price) == 0

    def round(self, price: Decimal, *, toward: Decimal | None = None) -> Decimal:
        """The nearest on-tick price; with ``toward`` (the trader's limit, the worst acceptable
        signed price) never past it: a rounded price worse than the limit moves one tick back."""
        tick = self.tick_for(price)
        rounded = ((price / tick).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * tick).quantize(tick)
        if toward is not None and rounded < toward:
            rounded = ((price / tick).quantize(Decimal(1), rounding=ROUND_CEILING) * tick).quantize(tick)
        return rounded

    def floor(self, price: Decimal) -> Decimal:
        """The on-tick price at or below ``price`` (signed)."""
        tick = self.tick_for(price)
        return ((price / tick).quantize(Decimal(1), rounding=ROUND_FLOOR) * tick).quantize(tick)


PENNY_TICKS = TickTable((TickBand(Decimal("0.01"), Decimal("3")), TickBand(Decimal("0.05"))))
NICKEL_TICKS = TickTable((TickBand(Decimal("0.05"), Decimal("3")), TickBand(Decimal("0.10"))))
SPREAD_PENNY_TICKS = TickTable((TickBand(Decimal("0.01")),))


@dataclass(frozen=True, slots=True)
class TradingRules:
    """What the broker enforces for orders on one underlying's options."""

    symbol: str
    option_ticks: TickTable = PENNY_TICKS  # single-leg orders
    spread_ticks: TickTable = SPREAD_PENNY_TICKS  # multi-leg (complex) orders
    max_legs: int = MAX_OPTION_LEGS
    multiplier: int = 100

    def ticks_for(self, leg_count: int) -> TickTable:
        return self.option_ticks if leg_count <= 1 else self.spread_ticks

    def check(self, leg_count: int, price: Decimal) -> str | None:
        """The broker's reason to reject an order of this shape and price, or None."""
        if leg_count > self.max_legs:
            return f"Orders may have at most {self.max_legs} legs (got {leg_count})"
        table = self.ticks_for(leg_count)
        if not table.is_on_tick(price):
            return f"Price {price} is not a multiple of the tick size {table.tick_for(price)}"
        return None
