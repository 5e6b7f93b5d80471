"""Leg values at a spot and a moment: intrinsic at or after expiry, Black-Scholes before.

Everything here is float math on numpy arrays (the chart and the monitor evaluate hundreds of
prices at once); Decimal appears only at the edges, in the builder.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import numpy as np
from numpy.typing import ArrayLike

from tastydesk.engine.clock import MARKET_CLOSE, NEW_YORK
from tastydesk.engine.domain.enums import OptionType, Side
from tastydesk.engine.domain.proposal import ResolvedLeg
from tastydesk.engine.pricing.bsm import bsm_price
from tastydesk.engine.pricing.smile import Smile

SECONDS_PER_YEAR = 365.0 * 86400.0
_MIN_SPOT = 1e-9


def expiry_close(expiry: date) -> datetime:
    """The instant an option stops trading: the 16:00 New York close of its expiration day."""
    return datetime.combine(expiry, MARKET_CLOSE, NEW_YORK)


def years_to_expiry(expiry: date, at: datetime) -> float:
    """Years (365-day) from ``at`` to the expiry close; 0 once it has passed."""
    if at.tzinfo is None:
        raise ValueError(f"at: must be timezone-aware, got {at!r}")
    seconds = (expiry_close(expiry) - at).total_seconds()
    return max(0.0, seconds / SECONDS_PER_YEAR)


def signed_contracts(legs: Sequence[ResolvedLeg]) -> np.ndarray:
    """Contracts per leg with the side's sign: bought +, sold -."""
    return np.array(
        [leg.quantity if leg.side is Side.BUY else -leg.quantity for leg in legs], dtype=float
    )


def leg_vols(legs: Sequence[ResolvedLeg], fallback_vol: float) -> np.ndarray:
    """Each leg's implied volatility, ``fallback_vol`` where the chain had none."""
    return np.array([leg.iv if leg.iv > 0 else fallback_vol for leg in legs], dtype=float)


def leg_smile(
    legs: Sequence[ResolvedLeg], fallback_vol: float, expiry: date | None = None
) -> Smile:
    """The smile through the IVs of the legs expiring at ``expiry`` (default: the front one).

    Probabilities and expected value at that expiry price each strike with its own leg's IV
    instead of one volatility for all; a call and a put on one strike share their mean IV.
    Flat at ``fallback_vol`` when no such leg has an IV.
    """
    if not legs:
        raise ValueError("legs: a smile needs at least one leg")
    when = min(leg.expiry for leg in legs) if expiry is None else expiry
    chosen = [leg for leg in legs if leg.expiry == when]
    return Smile.from_points(
        [float(leg.strike) for leg in chosen], [leg.iv for leg in chosen], fallback_vol
    )


def leg_values(
    legs: Sequence[ResolvedLeg],
    spot: ArrayLike,
    at: datetime,
    *,
    rate: float,
    div: float,
    fallback_vol: float,
) -> np.ndarray:
    """Per-share value of every leg at every spot: shape ``(len(legs), len(spot))``.

    Legs expired by ``at`` are worth their intrinsic value; the others are priced with their own
    implied volatility, so a calendar's far leg keeps its time value after the near one expires.
    """
    s = np.maximum(np.atleast_1d(np.asarray(spot, dtype=float)), _MIN_SPOT)
    strikes = np.array([float(leg.strike) for leg in legs], dtype=float)[:, None]
    is_call = np.array([leg.option_type is OptionType.CALL for leg in legs])[:, None]
    t = np.array([years_to_expiry(leg.expiry, at) for leg in legs], dtype=float)[:, None]
    vols = leg_vols(legs, fallback_vol)[:, None]
    return bsm_price(s[None, :], strikes, t, rate, div, vols, is_call)


def position_value(
    legs: Sequence[ResolvedLeg],
    spot: ArrayLike,
    at: datetime,
    *,
    rate: float,
    div: float,
    fallback_vol: float,
    multiplier: float = 100.0,
) -> np.ndarray:
    """Dollar value of the whole position at each spot (long legs add, short legs subtract)."""
    values = leg_values(legs, spot, at, rate=rate, div=div, fallback_vol=fallback_vol)
    return (signed_contracts(legs)[:, None] * values).sum(axis=0) * multiplier
