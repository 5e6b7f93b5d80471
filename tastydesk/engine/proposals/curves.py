"""P&L of a position across underlying prices: at expiry, at any date before it, and as a curve.

The position monitor calls :func:`pnl_at` with live spot and time; the proposal and the payoff
chart use :func:`pnl_curve`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import numpy as np
from numpy.typing import ArrayLike

from tastydesk.engine.domain.enums import Side
from tastydesk.engine.domain.proposal import PnlCurve, ResolvedLeg, TradeProposal
from tastydesk.engine.pricing.probability import expected_move
from tastydesk.engine.proposals.payoff import MULTIPLIER, expiry_payoff
from tastydesk.engine.proposals.valuation import position_value, years_to_expiry

DEFAULT_POINTS = 201
DEFAULT_WIDTH_SD = 3.0


def pnl_at(
    legs: Sequence[ResolvedLeg],
    entry_price: Decimal,
    quantity: int,
    spot: ArrayLike,
    at: datetime,
    *,
    rate: float = 0.04,
    div: float = 0.0,
    fallback_vol: float = 0.0,
) -> np.ndarray:
    """Theoretical P&L in dollars of ``quantity`` spreads opened at ``entry_price``.

    ``entry_price`` is per spread and per share, signed (credit +, debit -). Each leg is priced
    with its own implied volatility at ``at`` (intrinsic once expired); returns one value per spot.
    """
    if quantity <= 0:
        raise ValueError(f"quantity: must be > 0, got {quantity}")
    if not legs:
        raise ValueError("legs: a position needs at least one leg")
    cash = float(entry_price) * MULTIPLIER * quantity
    value = position_value(
        legs, spot, at, rate=rate, div=div, fallback_vol=fallback_vol, multiplier=MULTIPLIER
    )
    return cash + value


def curve_vol(legs: Sequence[ResolvedLeg], fallback_vol: float = 0.0) -> float:
    """Volatility describing the position: mean IV of the short legs, else of all legs."""
    shorts = [leg.iv for leg in legs if leg.side is Side.SELL and leg.iv > 0]
    if shorts:
        return float(np.mean(shorts))
    any_iv = [leg.iv for leg in legs if leg.iv > 0]
    return float(np.mean(any_iv)) if any_iv else fallback_vol


def pnl_curve(
    source: TradeProposal | Sequence[ResolvedLeg],
    spot: float | Decimal,
    at: datetime,
    *,
    entry_price: Decimal | None = None,
    quantity: int | None = None,
    vol: float | None = None,
    rate: float = 0.04,
    div: float = 0.0,
    points: int = DEFAULT_POINTS,
    width_sd: float = DEFAULT_WIDTH_SD,
) -> PnlCurve:
    """P&L at expiry and at ``at`` over ``spot`` +- ``width_sd`` expected moves (and every strike).

    From a proposal the entry price and quantity default to its mid price and quantity; from bare
    legs both are required. ``vol`` (default: :func:`curve_vol`) sets the expected move; the
    one-standard-deviation range is the expected move from ``at`` to the front expiry.
    """
    if isinstance(source, TradeProposal):
        legs: Sequence[ResolvedLeg] = source.legs
        entry_price = source.mid_price if entry_price is None else entry_price
        quantity = source.quantity if quantity is None else quantity
    else:
        legs = source
    if entry_price is None:
        raise ValueError("entry_price: required when the curve is built from legs")
    if quantity is None:
        raise ValueError("quantity: required when the curve is built from legs")
    if points < 3:
        raise ValueError(f"points: need at least 3, got {points}")
    s0 = float(spot)
    if s0 <= 0:
        raise ValueError(f"spot: must be > 0, got {spot}")
    sigma = curve_vol(legs) if vol is None else vol
    front = min(leg.expiry for leg in legs)
    t = years_to_expiry(front, at)
    move = float(expected_move(s0, t, sigma)) if t > 0 and sigma > 0 else 0.0
    strikes = [float(leg.strike) for leg in legs]
    low = min(s0 - width_sd * move, min(strikes) * 0.97, s0 * 0.97)
    high = max(s0 + width_sd * move, max(strikes) * 1.03, s0 * 1.03)
    low = max(low, s0 * 0.01)
    prices = np.linspace(low, high, points)
    payoff = expiry_payoff(legs, entry_price, quantity, rate=rate, div=div, fallback_vol=sigma)
    at_expiry = payoff.value_at(prices)
    today = pnl_at(
        legs, entry_price, quantity, prices, at, rate=rate, div=div, fallback_vol=sigma
    )
    return PnlCurve(
        prices=tuple(float(p) for p in prices),
        at_expiry=tuple(float(v) for v in at_expiry),
        today=tuple(float(v) for v in today),
        one_sd_low=max(0.0, s0 - move),
        one_sd_high=s0 + move,
    )

