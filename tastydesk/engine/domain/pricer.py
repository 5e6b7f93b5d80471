"""One signed multi-leg pricer: mid and natural per spread unit, in Decimal.

Signs follow the money: a sold leg brings credit (+), a bought leg costs (-). *Mid* prices every
leg at its mid; *natural* crosses every spread: sells at the bid, buys at the ask. Proposals,
approval re-checks and closing orders all price legs here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from tastydesk.engine.domain.enums import Side
from tastydesk.engine.domain.money import CENT, ZERO


@dataclass(frozen=True, slots=True)
class PricedLeg:
    side: Side
    ratio: int  # contracts per spread unit, positive
    bid: Decimal
    ask: Decimal

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


@dataclass(frozen=True, slots=True)
class SpreadPrice:
    mid: Decimal
    natural: Decimal


def leg_sign(side: Side) -> int:
    return 1 if side is Side.SELL else -1


def spread_price(legs: Iterable[PricedLeg], mids: Iterable[Decimal] | None = None
                 ) -> SpreadPrice:
    """Signed mid and natural per unit, rounded to cents.

    ``mids`` overrides the legs' own mids (a proposal may carry a model mid for a one-sided
    quote)."""
    legs = list(legs)
    mid_values = list(mids) if mids is not None else [leg.mid for leg in legs]
    mid = natural = ZERO
    for leg, leg_mid in zip(legs, mid_values, strict=True):
        sign = leg_sign(leg.side)
        mid += sign * leg_mid * leg.ratio
        natural += (leg.bid if sign > 0 else -leg.ask) * leg.ratio
    return SpreadPrice(mid.quantize(CENT), natural.quantize(CENT))
