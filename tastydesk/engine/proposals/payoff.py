"""The position's payoff at the front expiration, and what follows from it.

With every leg in one expiration the payoff is piecewise linear with kinks only at the strikes,
so its values at 0 and at each strike plus the slope above the top strike describe it exactly:
max profit, max loss and breakevens come out exact for verticals, condors, butterflies and ratio
spreads alike. With later legs (calendars, diagonals) those legs keep time value at the front
expiry; they are priced with Black-Scholes at that moment on a dense grid, which approximates the
curve between grid points linearly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

import numpy as np
from numpy.typing import ArrayLike

from tastydesk.engine.domain.enums import OptionType
from tastydesk.engine.domain.proposal import ResolvedLeg
from tastydesk.engine.proposals.valuation import expiry_close, position_value, signed_contracts

MULTIPLIER = 100.0
_GRID_POINTS = 801
_FLAT = 1e-9


@dataclass(frozen=True, slots=True)
class ExpiryPayoff:
    """Dollar P&L of the whole position at the front expiry, entry cash included.

    ``prices`` ascend from 0; between them the payoff is linear (exactly, for one expiration);
    above the last price it moves by ``upper_slope`` dollars per dollar of underlying.
    """

    prices: np.ndarray
    values: np.ndarray
    upper_slope: float
    exact: bool

    def value_at(self, spot: ArrayLike) -> np.ndarray:
        s = np.atleast_1d(np.asarray(spot, dtype=float))
        inside = np.interp(s, self.prices, self.values)
        top = self.prices[-1]
        beyond = self.values[-1] + self.upper_slope * (s - top)
        return np.where(s > top, beyond, inside)

    @property
    def unlimited_loss(self) -> bool:
        return self.upper_slope < -_FLAT

    @property
    def unlimited_profit(self) -> bool:
        return self.upper_slope > _FLAT

    @property
    def max_profit(self) -> float:
        """Best P&L at expiry in dollars (may be negative); ``inf`` when the upside is open."""
        return math.inf if self.unlimited_profit else float(self.values.max())

    @property
    def max_loss(self) -> float:
        """Worst loss at expiry as a positive dollar amount; ``inf`` when the upside is open."""
        return math.inf if self.unlimited_loss else max(0.0, -float(self.values.min()))

    def breakevens(self) -> list[float]:
        """Prices where the expiry P&L crosses zero, ascending."""
        xs, ys = self.prices, self.values
        roots: list[float] = []
        for i in range(len(xs) - 1):
            y0, y1 = ys[i], ys[i + 1]
            if y0 == 0.0 and y1 == 0.0:
                continue
            if y0 == 0.0:
                if i > 0 and (ys[i - 1] > 0) != (y1 > 0):
                    roots.append(float(xs[i]))
                continue
            if y0 * y1 < 0:
                roots.append(float(xs[i] + (xs[i + 1] - xs[i]) * (-y0 / (y1 - y0))))
        last_x, last_y = float(xs[-1]), float(ys[-1])
        if last_y != 0.0 and self.upper_slope * last_y < 0:
            roots.append(last_x - last_y / self.upper_slope)
        elif last_y == 0.0 and len(ys) > 1 and (ys[-2] > 0) != (self.upper_slope > 0) \
                and abs(self.upper_slope) > _FLAT:
            roots.append(last_x)
        return roots

    def profit_intervals(self) -> list[tuple[float, float]]:
        """Price intervals ``(low, high)`` where the expiry P&L is positive; ``high`` may be inf."""
        bounds = [0.0, *self.breakevens(), math.inf]
        out: list[tuple[float, float]] = []
        for low, high in pairwise(bounds):
            probe = low + 1.0 if math.isinf(high) else (low + high) / 2
            if float(self.value_at(probe)[0]) > 0:
                if out and out[-1][1] == low:
                    out[-1] = (out[-1][0], high)
                else:
                    out.append((low, high))
        return out


def expiry_payoff(
    legs: Sequence[ResolvedLeg],
    entry_price: Decimal,
    quantity: int,
    *,
    rate: float = 0.0,
    div: float = 0.0,
    fallback_vol: float = 0.0,
) -> ExpiryPayoff:
    """Payoff at the earliest leg expiry for ``quantity`` spreads opened at ``entry_price``.

    ``entry_price`` is per spread and per share, signed (credit +, debit -). ``rate``, ``div`` and
    ``fallback_vol`` matter only for legs that outlive the front expiry.
    """
    if not legs:
        raise ValueError("legs: a payoff needs at least one leg")
    if quantity <= 0:
        raise ValueError(f"quantity: must be > 0, got {quantity}")
    cash = float(entry_price) * MULTIPLIER * quantity
    signed = signed_contracts(legs)
    calls = np.array([leg.option_type is OptionType.CALL for leg in legs])
    upper_slope = float(signed[calls].sum()) * MULTIPLIER
    strikes = sorted({float(leg.strike) for leg in legs})
    front = min(leg.expiry for leg in legs)
    exact = all(leg.expiry == front for leg in legs)
    if exact:
        prices = np.array([0.0, *strikes])
    else:
        top = strikes[-1]
        dense = np.linspace(strikes[0] * 0.5, top * 1.5, _GRID_POINTS)
        far = np.linspace(top * 1.5, top * 4.0, 101)
        prices = np.unique(np.concatenate(([0.0], strikes, dense, far)))
    at = expiry_close(front) + timedelta(seconds=1)
    values = cash + position_value(
        legs, prices, at, rate=rate, div=div, fallback_vol=fallback_vol, multiplier=MULTIPLIER
    )
    return ExpiryPayoff(prices=prices, values=values, upper_slope=upper_slope, exact=exact)

