"""Payoff extremes of option legs held to expiry (for positions adopted from outside)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from tastydesk.engine.domain.account import BrokerPosition
from tastydesk.engine.domain.chain import parse_occ
from tastydesk.engine.domain.money import ZERO


def payoff_extremes(legs: Sequence[BrokerPosition]) -> tuple[Decimal, Decimal]:
    """Max profit and max loss ($, positive numbers) of option legs held to expiry.

    The payoff is piecewise linear with kinks at the strikes, so its extremes lie at a strike,
    at zero, or at infinity (an unbounded side is reported at five times the highest strike).
    """
    parsed = [(parse_occ(p.symbol), p) for p in legs]
    strikes = sorted({k for (_, _, _, k), _ in parsed})
    entry = sum((-Decimal(p.quantity) * p.average_open_price for _, p in parsed), ZERO) * 100

    def value(price: Decimal) -> Decimal:
        total = entry
        for (_, _, kind, strike), p in parsed:
            intrinsic = max(ZERO, price - strike) if kind.value == "call" else max(
                ZERO, strike - price)
            total += Decimal(p.quantity) * intrinsic * 100
        return total

    points = [ZERO, *strikes, strikes[-1] * 5 if strikes else ZERO]
    values = [value(x) for x in points]
    return max(max(values), ZERO), max(-min(values), ZERO)
