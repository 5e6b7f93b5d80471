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


def signed_mid(legs: Iterable[PricedLeg], mids: Iterable[Decimal] | None = None) -> Decimal:
    """Signed mid per unit, unrounded (a position's mark: half-cents stay exact)."""
    legs = list(legs)
    mid_values = list(mids) if mids is not None else [leg.mid for leg in legs]
    return sum((leg_sign(leg.side) * m * leg.ratio
                for leg, m in zip(legs, mid_values, strict=True)), ZERO)


def signed_natural(legs: Iterable[PricedLeg]) -> Decimal:
    """Signed price per unit crossing every spread: sells at the bid, buys at the ask."""
    return sum(((leg.bid if leg.side is Side.SELL else -leg.ask) * leg.ratio for leg in legs),
               ZERO)


def spread_price(legs: Iterable[PricedLeg], mids: Iterable[Decimal] | None = None
                 ) -> SpreadPrice:
    """Signed mid and natural per unit, rounded to cents.

    ``mids`` overrides the legs' own mids (a proposal carries each leg's model-checked mid)."""
    legs = list(legs)
    return SpreadPrice(signed_mid(legs, mids).quantize(CENT),
                       signed_natural(legs).quantize(CENT))
