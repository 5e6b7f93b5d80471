"""One signed multi-leg pricer: mid and natural per spread unit, in Decimal.

Signs follow the money: a sold leg brings credit (+), a bought leg costs (-). *Mid* prices every
leg at its mid; *natural* crosses every spread: sells at the bid, buys at the ask. Proposals,
approval re-checks, monitored positions and closing orders all price legs here. Closing a
position trades every leg on the other side (``closing=True``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from tastydesk.engine.domain.enums import Side
from tastydesk.engine.domain.money import CENT, ZERO


class Priceable(Protocol):
    """A quoted leg: which side opened it, contracts per spread unit, its bid and ask."""

    @property
    def side(self) -> Side: ...

    @property
    def units(self) -> int: ...

    @property
    def bid(self) -> Decimal: ...

    @property
    def ask(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class PricedLeg:
    side: Side
    units: int  # contracts per spread unit, positive
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


def signed_mid(legs: Iterable[Priceable], mids: Iterable[Decimal] | None = None,
               closing: bool = False) -> Decimal:
    """Signed mid per unit, unrounded (a position's mark: half-cents stay exact).

    ``mids`` overrides the legs' own mids (a proposal carries each leg's model-checked mid)."""
    total = ZERO
    if mids is None:
        for leg in legs:
            mid = (leg.bid + leg.ask) / 2
            total += mid * leg.units if leg.side is Side.SELL else -mid * leg.units
    else:
        for leg, mid in zip(legs, mids, strict=True):
            total += mid * leg.units if leg.side is Side.SELL else -mid * leg.units
    return -total if closing else total


def signed_natural(legs: Iterable[Priceable], closing: bool = False) -> Decimal:
    """Signed price per unit crossing every spread: sells at the bid, buys at the ask.

    Closing sells what was bought and buys back what was sold."""
    total = ZERO
    for leg in legs:
        sells = (leg.side is Side.SELL) is not closing
        total += leg.bid * leg.units if sells else -leg.ask * leg.units
    return total


def spread_price(legs: Iterable[Priceable], mids: Iterable[Decimal] | None = None
                 ) -> SpreadPrice:
    """Signed mid and natural per unit, rounded to cents."""
    legs = list(legs)
    return SpreadPrice(signed_mid(legs, mids).quantize(CENT),
                       signed_natural(legs).quantize(CENT))
