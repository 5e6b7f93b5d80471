"""The terminal distribution one expiration's volatility smile implies (Breeden-Litzenberger).

Why: a single volatility misprices every leg but the one it came from. Under a put skew the
wing of a put spread is worth more than one short-strike volatility says, and the wing of a call
spread less, so expected value came out negative for put spreads and positive for call spreads
on every symbol. Here each strike is priced with its own implied volatility and the
distribution of the price at expiry is the one those prices imply.

Method
------
* The smile ``sigma(K)`` passes through the given ``(strike, iv)`` points (the legs' own IVs),
  is linear in strike between them and continues the outer segments' slope beyond them, held
  within ``[min_iv / 2, 2 x max_iv]``. One point gives a flat smile.
* Breeden-Litzenberger: the undiscounted call price ``C(K) = e^{rT} BS(K, sigma(K))`` determines
  the distribution, ``P(S_T > K) = -dC/dK``. Differentiating through the smile gives the closed
  form ``P(S_T < K) = N(-d2) + K sqrt(T) phi(d2) sigma'(K)`` (``d2`` at ``sigma(K)``): the
  lognormal figure at the strike's own volatility plus the skew's correction. A falling put skew
  makes a low finish less likely than that strike's lognormal says, which is what put-side
  digitals trade at.
* Expectation of a payoff that is linear between prices ``x_0 = 0 < x_1 < ... < x_n`` (slopes
  ``s_i``, ``s_n`` above ``x_n``) needs only call prices at the kinks:
  ``E[g(S_T)] = g(0) + s_0 F + sum_i (s_i - s_{i-1}) C(x_i)`` (``F`` the forward). For a position
  whose legs all expire together the kinks are the strikes, so its expected payoff is exactly the
  sum of its legs' values at their own IVs, grown to expiry: a spread opened at its fair mid has
  an expected value of zero less the carry of the premium, whatever the skew.

Everything is float math on numpy arrays (one call per position, a few dozen strikes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from tastydesk.engine.pricing import special

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_MIN_STDDEV = 1e-12
#: Extrapolated volatility stays within these multiples of the smallest and largest point.
FLOOR_SHARE = 0.5
CAP_MULTIPLE = 2.0


@dataclass(frozen=True, slots=True, eq=False)  # arrays: compared and hashed by identity
class Smile:
    """Implied volatility by strike for one expiration, from a few ``(strike, iv)`` points."""

    strikes: np.ndarray  # ascending, unique, > 0
    vols: np.ndarray  # > 0, one per strike
    slopes: np.ndarray  # d sigma / dK of each segment between points (none for one point)
    floor: float
    cap: float

    @classmethod
    def flat(cls, vol: float) -> Smile:
        """One volatility everywhere: the plain lognormal model."""
        if not vol > 0:
            raise ValueError(f"vol: must be > 0, got {vol!r}")
        return cls(np.array([1.0]), np.array([float(vol)]), np.empty(0), float(vol), float(vol))

    @classmethod
    def from_points(cls, strikes: ArrayLike, vols: ArrayLike, fallback_vol: float) -> Smile:
        """The smile through the points with a positive, finite IV (duplicated strikes
        averaged); flat at ``fallback_vol`` when no point qualifies."""
        k = np.asarray(strikes, dtype=float).ravel()
        v = np.asarray(vols, dtype=float).ravel()
        if k.shape != v.shape:
            raise ValueError(f"vols: need one per strike, got {v.size} for {k.size}")
        keep = np.isfinite(k) & np.isfinite(v) & (k > 0) & (v > 0)
        k, v = k[keep], v[keep]
        if k.size == 0:
            return cls.flat(fallback_vol)
        unique, inverse = np.unique(k, return_inverse=True)
        mean = np.bincount(inverse, weights=v) / np.bincount(inverse)
        return cls(unique, mean, np.diff(mean) / np.diff(unique), FLOOR_SHARE * float(mean.min()),
                   CAP_MULTIPLE * float(mean.max()))

    def at(self, strike: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """``(sigma(K), d sigma / dK)`` at each strike: the slope is the right-hand one at a
        point and 0 where the volatility is held at its floor or cap."""
        k = np.atleast_1d(np.asarray(strike, dtype=float))
        xs, ys, slopes = self.strikes, self.vols, self.slopes
        if xs.size == 1:
            return np.full_like(k, ys[0]), np.zeros_like(k)
        # Segment of each strike: 0 .. n-2, the outer segments extended beyond the points.
        seg = np.searchsorted(xs[1:-1], k, side="right")
        slope = slopes[seg]
        raw = ys[seg] + slope * (k - xs[seg])
        if raw.min() < self.floor or raw.max() > self.cap:
            held = (raw < self.floor) | (raw > self.cap)
            return np.minimum(np.maximum(raw, self.floor), self.cap), np.where(held, 0.0, slope)
        return raw, slope

    def vol(self, strike: ArrayLike) -> np.ndarray:
        """``sigma(K)`` at each strike."""
        return self.at(strike)[0]

    def slope(self, strike: ArrayLike) -> np.ndarray:
        """``d sigma / dK`` at each strike (see :meth:`at`)."""
        return self.at(strike)[1]


def smile_prob_below(
    spot: float, level: ArrayLike, t: float, smile: Smile, rate: float = 0.0, div: float = 0.0
) -> np.ndarray:
    """``P(S_T < level)`` under the smile's distribution (see the module docstring)."""
    lv = np.atleast_1d(np.asarray(level, dtype=float))
    if spot <= 0:
        raise ValueError(f"spot: must be > 0, got {spot}")
    if lv.size and lv.min() <= 0:
        raise ValueError("level: must be > 0")
    if t <= 0:
        return (spot < lv).astype(float)
    sigma, slope = smile.at(lv)
    sqt = math.sqrt(t)
    stddev = np.maximum(sigma * sqt, _MIN_STDDEV)
    d2 = (np.log(spot / lv) + (rate - div - 0.5 * sigma * sigma) * t) / stddev
    pdf = np.exp(-0.5 * d2 * d2) * _INV_SQRT_2PI
    return np.minimum(np.maximum(special.ndtr(-d2) + lv * sqt * pdf * slope, 0.0), 1.0)


def forward_call(
    spot: float, strikes: ArrayLike, t: float, smile: Smile, rate: float = 0.0, div: float = 0.0
) -> np.ndarray:
    """Undiscounted call price ``E[(S_T - K)+]`` at each strike (Black's formula on the forward
    at the strike's own volatility; a strike of 0 gives the forward); at ``t <= 0`` the
    intrinsic value."""
    k = np.atleast_1d(np.asarray(strikes, dtype=float))
    if t <= 0:
        return np.maximum(spot - k, 0.0)
    forward = spot * math.exp((rate - div) * t)
    safe = np.where(k > 0, k, forward)
    stddev = np.maximum(smile.vol(safe) * math.sqrt(t), _MIN_STDDEV)
    d1 = np.log(forward / safe) / stddev + 0.5 * stddev
    call = forward * special.ndtr(d1) - safe * special.ndtr(d1 - stddev)
    return np.where(k > 0, np.maximum(call, 0.0), forward)


def expected_linear_payoff(
    prices: ArrayLike, values: ArrayLike, upper_slope: float, spot: float, t: float,
    smile: Smile, rate: float = 0.0, div: float = 0.0,
) -> float:
    """``E[g(S_T)]`` for ``g`` linear between ``prices`` (ascending, the first 0) with
    ``values`` there and ``upper_slope`` above the last price."""
    x = np.asarray(prices, dtype=float)
    y = np.asarray(values, dtype=float)
    if x.size == 0 or x[0] != 0.0:
        raise ValueError("prices: must start at 0")
    if t <= 0:
        return float(np.interp(spot, x, y)) if spot <= x[-1] else float(
            y[-1] + upper_slope * (spot - x[-1]))
    slopes = np.append(np.diff(y) / np.diff(x), upper_slope)
    calls = forward_call(spot, x, t, smile, rate, div)
    # g(0) + s_0 C(0) + sum_{i>=1} (s_i - s_{i-1}) C(x_i), with C(0) the forward.
    kinks = np.diff(slopes)
    return float(y[0] + slopes[0] * calls[0] + (kinks * calls[1:]).sum())
