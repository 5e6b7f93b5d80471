"""Fill model of the paper broker: spread prices, fill likelihood and per-leg fill prices.

A multi-leg order is priced per *spread unit* (the legs divided by their greatest common
quantity). Prices are signed like tastytrade's: credit positive, debit negative. For one unit:

* the **natural** price is what the market pays right now (sell at the bid, buy at the ask);
* the **far** price is the opposite side (sell at the ask, buy at the bid);
* the **mid** lies halfway.

A limit price at or below the natural (signed) is marketable. A price between natural and far
rests in the spread; the closer it sits to the natural side and the longer it has worked, the more
likely someone trades with it. A price at or beyond three quarters of the way to the far side never
fills, which mirrors how a resting order far from the market just sits there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from tastydesk.engine.domain.enums import Side
from tastydesk.engine.domain.pricer import signed_mid, signed_natural

CENTS = Decimal("100")

# Hazard rate of a passive fill at mid, per minute of working time (median wait about 7 min).
MID_FILLS_PER_MINUTE = 0.1
# How steeply the rate grows as the price moves from mid toward the natural side.
AGGRESSION_SLOPE = 8.0
# Below this aggressiveness (0 = far side, 0.5 = mid, 1 = natural) a resting order never fills.
MIN_AGGRESSIVENESS = 0.25
# Working time multiplies the rate by 1 + minutes / AGE_SCALE_MINUTES, at most AGE_MAX_BOOST.
AGE_SCALE_MINUTES = 15.0
AGE_MAX_BOOST = 3.0


@dataclass(frozen=True, slots=True)
class LegMarket:
    """One leg of a spread unit with its current quote. ``sign``: +1 sold, -1 bought.

    It is a :class:`~tastydesk.engine.domain.pricer.Priceable`, so the spread's natural and mid
    come from the domain's one signed pricer, as everywhere else in the engine."""

    sign: int
    ratio: int
    bid: Decimal
    ask: Decimal
    bid_size: int = 0
    ask_size: int = 0

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def side(self) -> Side:
        return Side.SELL if self.sign > 0 else Side.BUY

    @property
    def units(self) -> int:
        return self.ratio


def natural_price(legs: list[LegMarket]) -> Decimal:
    """Signed price of one unit traded at the touch: sold legs at the bid, bought at the ask."""
    return signed_natural(legs)


def far_price(legs: list[LegMarket]) -> Decimal:
    """Signed price of one unit at the opposite side: sold legs at the ask, bought at the bid
    (the natural price of the closing trade, with the sign of the opening one)."""
    return -signed_natural(legs, closing=True)


def mid_price(legs: list[LegMarket]) -> Decimal:
    """Signed mid price of one unit."""
    return signed_mid(legs)


def is_marketable(price: Decimal, legs: list[LegMarket]) -> bool:
    """A signed limit is marketable when it asks no more than the natural price offers."""
    return price <= natural_price(legs)


def displayed_units(legs: list[LegMarket]) -> int | None:
    """Units the touch can absorb from the quoted sizes, or None when sizes are not quoted."""
    units: int | None = None
    for leg in legs:
        size = leg.bid_size if leg.sign > 0 else leg.ask_size
        if size <= 0:
            return None
        leg_units = size // leg.ratio
        units = leg_units if units is None else min(units, leg_units)
    return units


def aggressiveness(price: Decimal, legs: list[LegMarket]) -> float:
    """Where ``price`` sits in the spread: 1.0 at the natural side, 0.5 at mid, 0.0 at far.

    Values above 1 are marketable, below 0 lie outside the market on the far side.
    """
    natural = natural_price(legs)
    far = far_price(legs)
    width = far - natural
    if width <= 0:
        return 1.0 if price <= natural else -1.0
    return float((far - price) / width)


def fill_rate(aggression: float, age_seconds: float) -> float:
    """Expected passive fills per minute for an order this aggressive that has worked this long."""
    if aggression < MIN_AGGRESSIVENESS:
        return 0.0
    base = MID_FILLS_PER_MINUTE * math.exp(AGGRESSION_SLOPE * (min(aggression, 1.0) - 0.5))
    boost = min(AGE_MAX_BOOST, 1.0 + max(age_seconds, 0.0) / 60.0 / AGE_SCALE_MINUTES)
    return base * boost


def fill_probability(aggression: float, age_seconds: float, elapsed_seconds: float) -> float:
    """Probability that a resting order trades during a step of ``elapsed_seconds``."""
    if elapsed_seconds <= 0:
        return 0.0
    rate = fill_rate(aggression, age_seconds)
    return 1.0 - math.exp(-rate * elapsed_seconds / 60.0)


def split_price(price: Decimal, legs: list[LegMarket]) -> tuple[Decimal, ...]:
    """Unsigned per-leg prices in cents whose signed, ratio-weighted sum is exactly ``price``.

    Legs start at their mids; the difference to the order price is moved first onto legs that
    can absorb it without bound (raising a sold leg adds credit, raising a bought leg adds debit),
    then onto legs that can give some back without going below zero. Raises ValueError when no
    such split exists (for example a credit asked for a set of bought legs).
    """
    cents = [int((leg.mid * CENTS).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)) for leg in legs]
    target = int((price * CENTS).to_integral_value(rounding=ROUND_HALF_EVEN))
    if Decimal(target) != price * CENTS:
        raise ValueError(f"price: {price} is not a whole number of cents")
    residual = target - sum(leg.sign * leg.ratio * c for leg, c in zip(legs, cents, strict=True))
    for _ in range(4):
        if residual == 0:
            break
        residual = _absorb(residual, legs, cents)
        if residual != 0:
            residual = _overshoot(residual, legs, cents)
    if residual != 0:
        raise ValueError(f"price: {price} cannot be split across these legs")
    return tuple(Decimal(c) / CENTS for c in cents)


def _absorb(residual: int, legs: list[LegMarket], cents: list[int]) -> int:
    direction = 1 if residual > 0 else -1
    # Unbounded legs first (moving them in the needed direction raises their price), unit legs
    # before ratio legs, dearer legs first.
    order = sorted(
        range(len(legs)),
        key=lambda i: (legs[i].sign * direction < 0, legs[i].ratio != 1, -cents[i]),
    )
    for i in order:
        if residual == 0:
            break
        leg = legs[i]
        steps = abs(residual) // leg.ratio
        if leg.sign * direction < 0:
            steps = min(steps, cents[i])
        if steps == 0:
            continue
        cents[i] += leg.sign * direction * steps
        residual -= direction * steps * leg.ratio
    return residual


def _overshoot(residual: int, legs: list[LegMarket], cents: list[int]) -> int:
    # Move an unbounded ratio leg one step past the residual so a unit leg can take the rest back.
    direction = 1 if residual > 0 else -1
    for i, leg in enumerate(legs):
        if leg.sign * direction > 0 and leg.ratio > 1:
            steps = -(-abs(residual) // leg.ratio)
            cents[i] += leg.sign * direction * steps
            return residual - direction * steps * leg.ratio
    return residual
