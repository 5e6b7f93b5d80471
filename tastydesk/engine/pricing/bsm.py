"""Vectorised Black-Scholes-Merton prices and greeks with a continuous dividend yield.

Every argument is array-like and broadcast against the others, so one call prices a whole chain.
The hot path computes ``d1``, the discount factors and one normal density once and derives every
greek from them (the chain monitor reprices thousands of contracts per tick).

Units: ``t`` in years; theta per calendar day, vega per vol point (0.01), rho per rate point
(0.01); everything per share.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from tastydesk.engine.pricing import special

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_MIN_T = 1e-8
_MIN_STDDEV = 1e-12
_DAYS_PER_YEAR = 365.0


class BsmResult(NamedTuple):
    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    theta: np.ndarray
    vega: np.ndarray
    rho: np.ndarray


class BsmScalar(NamedTuple):
    """One contract's price and greeks as plain floats (same units as :class:`BsmResult`)."""

    price: float
    delta: float
    gamma: float
    theta: float
    vega: float
    rho: float


def _as_arrays(
    spot: ArrayLike, strike: ArrayLike, t: ArrayLike, rate: ArrayLike, div: ArrayLike,
    vol: ArrayLike, is_call: ArrayLike,
) -> tuple[np.ndarray, ...]:
    s = np.asarray(spot, dtype=np.float64)
    k = np.asarray(strike, dtype=np.float64)
    tt = np.asarray(t, dtype=np.float64)
    r = np.asarray(rate, dtype=np.float64)
    q = np.asarray(div, dtype=np.float64)
    v = np.asarray(vol, dtype=np.float64)
    c = np.asarray(is_call, dtype=bool)
    shapes = {a.shape for a in (s, k, tt, r, q, v, c)} - {()}
    shape = np.broadcast_shapes(*shapes) if len(shapes) > 1 else next(iter(shapes), ())
    # Every intermediate derives from ``t`` or ``is_call``; giving those two the full shape makes
    # every result a full array (0-d operands alone would yield numpy scalars, which in-place
    # ufuncs cannot write to). Views, no copies.
    shape = shape or (1,)
    if tt.shape != shape:
        tt = np.broadcast_to(tt, shape)
    if c.shape != shape:
        c = np.broadcast_to(c, shape)
    return s, k, tt, r, q, v, c


def _scalar_shape(*inputs: ArrayLike) -> bool:
    return all(np.ndim(i) == 0 for i in inputs)


def _check(spot: np.ndarray, strike: np.ndarray, vol: np.ndarray) -> None:
    # min() is a cheap reduction; NaN inputs pass through and come out as NaN.
    if spot.size and spot.min() <= 0:
        raise ValueError("spot: must be > 0")
    if strike.size and strike.min() <= 0:
        raise ValueError("strike: must be > 0")
    if vol.size and vol.min() < 0:
        raise ValueError("vol: must be >= 0")


def _has_expired(t: np.ndarray) -> bool:
    return bool(t.size and t.min() <= 0) or bool(np.isnan(t).any())


def bsm_price(
    spot: ArrayLike, strike: ArrayLike, t: ArrayLike, rate: ArrayLike, div: ArrayLike,
    vol: ArrayLike, is_call: ArrayLike,
) -> np.ndarray:
    """Option price per share; at ``t <= 0`` the intrinsic value."""
    s, k, tt, r, q, v, c = _as_arrays(spot, strike, t, rate, div, vol, is_call)
    _check(s, k, v)
    sign = c * 2.0 - 1.0
    te = np.maximum(tt, _MIN_T)
    stddev = v * np.sqrt(te)
    np.maximum(stddev, _MIN_STDDEV, out=stddev)
    sq = s * np.exp(-q * te)
    kr = k * np.exp(-r * te)
    d1 = np.log(sq / kr)
    d1 /= stddev
    d1 += 0.5 * stddev
    price = sq * special.ndtr(sign * d1)
    price -= kr * special.ndtr(sign * (d1 - stddev))
    price *= sign
    np.maximum(price, 0.0, out=price)
    if _has_expired(tt):
        intrinsic = np.maximum(sign * (s - k), 0.0)
        price = np.where(tt <= 0, intrinsic, price)
    if _scalar_shape(spot, strike, t, rate, div, vol, is_call):
        return price.reshape(())
    return price


def bsm_greeks(
    spot: ArrayLike, strike: ArrayLike, t: ArrayLike, rate: ArrayLike, div: ArrayLike,
    vol: ArrayLike, is_call: ArrayLike,
) -> BsmResult:
    """Price and first-order greeks (plus gamma) in one pass.

    At ``t <= 0`` the price is intrinsic, delta is the exercise step (+-1 in the money, 0 out of
    it, +-0.5 exactly at the strike) and the other greeks are zero.
    """
    s, k, tt, r, q, v, c = _as_arrays(spot, strike, t, rate, div, vol, is_call)
    _check(s, k, v)
    sign = c * 2.0 - 1.0
    te = np.maximum(tt, _MIN_T)
    sqt = np.sqrt(te)
    stddev = v * sqt
    np.maximum(stddev, _MIN_STDDEV, out=stddev)
    dfq = np.exp(-q * te)
    dfr = np.exp(-r * te)
    sq = s * dfq
    kr = k * dfr
    d1 = np.log(sq / kr)
    d1 /= stddev
    d1 += 0.5 * stddev
    nd1 = special.ndtr(sign * d1)
    nd2 = special.ndtr(sign * (d1 - stddev))
    sq_pdf = d1 * d1
    sq_pdf *= -0.5
    np.exp(sq_pdf, out=sq_pdf)
    sq_pdf *= sq
    sq_pdf *= _INV_SQRT_2PI
    sq_nd1 = sq * nd1
    kr_nd2 = kr * nd2
    price = sq_nd1 - kr_nd2
    price *= sign
    np.maximum(price, 0.0, out=price)
    delta = dfq * nd1
    delta *= sign
    gamma = sq_pdf / stddev
    gamma /= s * s
    vega = sq_pdf * sqt
    vega *= 0.01
    carry = q * sq_nd1
    carry -= r * kr_nd2
    carry *= sign
    theta = sq_pdf * stddev
    theta /= te
    theta *= -0.5
    theta += carry
    theta /= _DAYS_PER_YEAR
    rho = kr_nd2 * te
    rho *= sign
    rho *= 0.01
    if _has_expired(tt):
        expired = tt <= 0
        diff = sign * (s - k)
        intrinsic = np.maximum(diff, 0.0)
        step = np.where(diff > 0, sign, np.where(diff == 0, 0.5 * sign, 0.0))
        zero = np.zeros_like(price)
        price = np.where(expired, intrinsic, price)
        delta = np.where(expired, step, delta)
        gamma = np.where(expired, zero, gamma)
        theta = np.where(expired, zero, theta)
        vega = np.where(expired, zero, vega)
        rho = np.where(expired, zero, rho)
    if _scalar_shape(spot, strike, t, rate, div, vol, is_call):
        return BsmResult(*(a.reshape(()) for a in (price, delta, gamma, theta, vega, rho)))
    return BsmResult(price, delta, gamma, theta, vega, rho)


_SQRT1_2 = math.sqrt(0.5)


def bsm_greeks_scalar(spot: float, strike: float, t: float, rate: float, div: float,
                      vol: float, is_call: bool) -> BsmScalar:
    """:func:`bsm_greeks` for one contract in plain floats.

    Numpy's per-call overhead dominates below a few dozen contracts; streaming quotes for a
    handful of subscribed options goes through here instead (same formulas, same conventions).
    """
    if not spot > 0:
        raise ValueError(f"spot: must be > 0, got {spot!r}")
    if not strike > 0:
        raise ValueError(f"strike: must be > 0, got {strike!r}")
    if not vol >= 0:
        raise ValueError(f"vol: must be >= 0, got {vol!r}")
    sign = 1.0 if is_call else -1.0
    if t <= 0:
        diff = sign * (spot - strike)
        step = sign if diff > 0 else (0.5 * sign if diff == 0 else 0.0)
        return BsmScalar(max(diff, 0.0), step, 0.0, 0.0, 0.0, 0.0)
    te = max(t, _MIN_T)
    sqt = math.sqrt(te)
    stddev = max(vol * sqt, _MIN_STDDEV)
    dfq = math.exp(-div * te)
    dfr = math.exp(-rate * te)
    sq = spot * dfq
    kr = strike * dfr
    d1 = math.log(sq / kr) / stddev + 0.5 * stddev
    nd1 = 0.5 * math.erfc(-sign * d1 * _SQRT1_2)
    nd2 = 0.5 * math.erfc(-sign * (d1 - stddev) * _SQRT1_2)
    sq_pdf = sq * math.exp(-0.5 * d1 * d1) * _INV_SQRT_2PI
    sq_nd1 = sq * nd1
    kr_nd2 = kr * nd2
    price = max(sign * (sq_nd1 - kr_nd2), 0.0)
    theta = (-0.5 * sq_pdf * stddev / te + sign * (div * sq_nd1 - rate * kr_nd2)) / _DAYS_PER_YEAR
    return BsmScalar(price, sign * dfq * nd1, sq_pdf / (stddev * spot * spot),
                     theta, sq_pdf * sqt * 0.01, sign * kr_nd2 * te * 0.01)
