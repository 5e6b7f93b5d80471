"""Lognormal probabilities of the underlying finishing beyond, or touching, a price level.

The underlying follows geometric Brownian motion with drift ``rate - div`` (the risk-neutral
measure, the one option prices imply), so the log price drifts at ``mu = rate - div - vol^2 / 2``.
Probability of profit, of touching a short strike and expected moves on the proposal screen all
come from here.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from tastydesk.engine.pricing import special

_MIN_STDDEV = 1e-12


def _result(value: np.ndarray, *inputs: ArrayLike) -> np.ndarray | float:
    if all(np.ndim(i) == 0 for i in inputs):
        return float(value)
    return value


def _prepare(spot: ArrayLike, level: ArrayLike, t: ArrayLike, vol: ArrayLike
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(spot, dtype=np.float64)
    lv = np.asarray(level, dtype=np.float64)
    tt = np.asarray(t, dtype=np.float64)
    v = np.asarray(vol, dtype=np.float64)
    if s.size and s.min() <= 0:
        raise ValueError("spot: must be > 0")
    if lv.size and lv.min() <= 0:
        raise ValueError("level: must be > 0")
    if v.size and v.min() < 0:
        raise ValueError("vol: must be >= 0")
    return s, lv, tt, v


def prob_above(spot: ArrayLike, level: ArrayLike, t: ArrayLike, vol: ArrayLike,
               rate: ArrayLike = 0.0, div: ArrayLike = 0.0) -> np.ndarray | float:
    """P(S_t > level); at ``t <= 0`` 1 when spot is already above, else 0."""
    s, lv, tt, v = _prepare(spot, level, t, vol)
    te = np.maximum(tt, 0.0)
    stddev = np.maximum(v * np.sqrt(te), _MIN_STDDEV)
    mu = np.asarray(rate, dtype=np.float64) - np.asarray(div, dtype=np.float64) - 0.5 * v * v
    d2 = (np.log(s / lv) + mu * te) / stddev
    p = special.ndtr(d2)
    p = np.where(tt <= 0, (s > lv).astype(np.float64), p)
    return _result(p, spot, level, t, vol, rate, div)


def prob_below(spot: ArrayLike, level: ArrayLike, t: ArrayLike, vol: ArrayLike,
               rate: ArrayLike = 0.0, div: ArrayLike = 0.0) -> np.ndarray | float:
    """P(S_t < level); the complement of :func:`prob_above` (ties have probability zero)."""
    above = prob_above(spot, level, t, vol, rate, div)
    return 1.0 - above


def prob_touch(spot: ArrayLike, level: ArrayLike, t: ArrayLike, vol: ArrayLike,
               rate: ArrayLike = 0.0, div: ArrayLike = 0.0) -> np.ndarray | float:
    """P(the path reaches ``level`` at some time before ``t``).

    Reflection principle for Brownian motion with drift ``mu`` in log space, barrier
    ``h = log(level / spot)``: for an upper barrier
    ``N((mu t - h) / (v sqrt t)) + exp(2 mu h / v^2) N((-h - mu t) / (v sqrt t))``, mirrored for a
    lower one. The exponential term is combined in log space so it cannot overflow.
    """
    s, lv, tt, v = _prepare(spot, level, t, vol)
    te = np.maximum(tt, 0.0)
    v_safe = np.maximum(v, 1e-12)
    stddev = np.maximum(v * np.sqrt(te), _MIN_STDDEV)
    mu = np.asarray(rate, dtype=np.float64) - np.asarray(div, dtype=np.float64) - 0.5 * v * v
    h = np.log(lv / s)
    up = h > 0
    # Mirror a lower barrier into an upper one: h -> -h, mu -> -mu.
    sgn = np.where(up, 1.0, -1.0)
    hh = sgn * h
    mm = sgn * mu
    mt = mm * te
    first = special.ndtr((mt - hh) / stddev)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        second = np.exp(2.0 * mm * hh / (v_safe * v_safe) + special.log_ndtr((-hh - mt) / stddev))
    p = np.clip(first + second, 0.0, 1.0)
    p = np.where(hh <= 0, 1.0, p)  # already at the level
    p = np.where((tt <= 0) & (hh > 0), 0.0, p)
    return _result(p, spot, level, t, vol, rate, div)


def expected_move(spot: ArrayLike, t: ArrayLike, vol: ArrayLike) -> np.ndarray | float:
    """One standard deviation move in price over ``t`` years: ``spot * vol * sqrt(t)``."""
    s = np.asarray(spot, dtype=np.float64)
    tt = np.maximum(np.asarray(t, dtype=np.float64), 0.0)
    v = np.asarray(vol, dtype=np.float64)
    if s.size and s.min() <= 0:
        raise ValueError("spot: must be > 0")
    if v.size and v.min() < 0:
        raise ValueError("vol: must be >= 0")
    return _result(s * v * np.sqrt(tt), spot, t, vol)
