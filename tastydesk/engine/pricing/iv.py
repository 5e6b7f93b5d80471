"""Implied volatility from option prices, vectorised over a whole chain.

The solver works on the out-of-the-money side of each contract (an in-the-money price is turned
into its out-of-the-money twin through put-call parity), in undiscounted forward terms and on total
volatility ``s = vol * sqrt(t)``. On that side the logarithm of the Black price is concave in
``s``, so Newton's method on ``log(price)`` never overshoots the root twice: after at most one step
it climbs monotonically, and a blended closed-form first guess (Corrado-Miller near the money, a
log-asymptotic bound far from it) leaves two to four steps. A bracket kept per contract turns any
step that leaves it into bisection.

Contracts whose price lies outside the no-arbitrage bounds, whose time value is lost in floating
point, or whose vega is negligible have no meaningful implied volatility and come back as NaN.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from tastydesk.engine.pricing import special

MIN_VOL = 1e-4
MAX_VOL = 5.0
_SQRT_2PI = np.sqrt(2.0 * np.pi)
_INV_SQRT_2PI = 1.0 / _SQRT_2PI
_REL_TOL = 1e-11  # stop when a step moves total vol by less than this fraction
_MAX_ITER = 40
_FULL_ITER = 1  # iterations run on the whole array before switching to the unconverged subset
_MIN_TIME_VALUE = 1e-12  # time value / max(forward, strike) below this is rounding noise
_MIN_VEGA = 1e-8  # vega per vol point / spot below this: the price does not pin the vol down


class ImpliedVolError(ValueError):
    """The price admits no implied volatility (outside arbitrage bounds or no time value)."""


def _black_otm(x: np.ndarray, s: np.ndarray, fwd: np.ndarray, strike: np.ndarray,
               theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undiscounted out-of-the-money Black value, its derivative in total vol, and ``d1``."""
    d1 = x / s
    d1 += 0.5 * s
    value = fwd * special.ndtr(theta * d1)
    value -= strike * special.ndtr(theta * (d1 - s))
    value *= theta
    dvalue = d1 * d1
    dvalue *= -0.5
    np.exp(dvalue, out=dvalue)
    dvalue *= fwd
    dvalue *= _INV_SQRT_2PI
    return value, dvalue, d1


def _initial_guess(x: np.ndarray, b: np.ndarray, fwd: np.ndarray, strike: np.ndarray
                   ) -> np.ndarray:
    # Corrado-Miller on the undiscounted call value: accurate near the money, where its
    # discriminant is positive.
    diff = fwd - strike
    half = b + np.maximum(diff, 0.0) - 0.5 * diff
    disc = half * half - diff * diff / np.pi
    far = disc < 0.0
    guess = _SQRT_2PI / (fwd + strike) * (half + np.sqrt(np.maximum(disc, 0.0)))
    if far.any():
        # Far from the money b / sqrt(F K) ~ phi(x / s) * s^3 / x^2 (Mills ratio): solve that
        # by fixed point, starting from the bound that ignores the polynomial factor.
        idx = np.flatnonzero(far)
        ax = np.abs(x[idx])
        beta = b[idx] / np.sqrt(fwd[idx] * strike[idx])
        s_far = ax / np.sqrt(-2.0 * np.log(np.minimum(beta, 0.5)))
        scale = beta * _SQRT_2PI * ax * ax
        for _ in range(3):
            arg = scale / (s_far * s_far * s_far)
            s_far = np.where(arg < 0.5, ax / np.sqrt(-2.0 * np.log(arg)), s_far)
        guess[idx] = s_far
    return guess


def _solve(x: np.ndarray, target: np.ndarray, fwd: np.ndarray, strike: np.ndarray,
           theta: np.ndarray, s_lo: np.ndarray, s_hi: np.ndarray) -> np.ndarray:
    """Total vol ``s`` with Black OTM value ``target``; inputs are 1-D and all in bounds.

    Halley steps on ``g(s) = log(b(s)) - log(target)``: with ``b' = F phi(d1)`` and
    ``b'' = b' d1 d2 / s`` the second derivative costs a few multiplications.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = np.clip(_initial_guess(x, target, fwd, strike), s_lo, s_hi)
    log_target = np.log(target)
    idx = np.arange(s.size)
    cx, ct, cf, ck, cth, cs, clo, chi = x, log_target, fwd, strike, theta, s, s_lo, s_hi
    for it in range(_MAX_ITER):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            value, dvalue, d1 = _black_otm(cx, cs, cf, ck, cth)
            g = np.log(value) - ct
            g1 = dvalue / value  # g'
            # g'' / g' = d1 d2 / s - g'
            curv = d1 * (d1 - cs) / cs - g1
            newton = g / g1
            step = newton / (1.0 - 0.5 * newton * curv)
            # Halley can flip sign far from the root; fall back to Newton there.
            step = np.where(step * newton > 0, step, newton)
        below = g < 0
        clo = np.where(below, np.maximum(clo, cs), clo)
        chi = np.where(below, chi, np.minimum(chi, cs))
        new = cs - step
        bad = ~((new >= clo) & (new <= chi))  # out of the bracket, NaN or inf: bisect
        new = np.where(bad, 0.5 * (clo + chi), new)
        done = (np.abs(new - cs) <= _REL_TOL * cs) | (chi - clo <= _REL_TOL * chi)
        s[idx] = new
        if it + 1 >= _FULL_ITER:
            keep = ~done
            if not keep.any():
                break
            if keep.sum() < keep.size:
                idx = idx[keep]
                cx, ct, cf, ck, cth = cx[keep], ct[keep], cf[keep], ck[keep], cth[keep]
                clo, chi, new = clo[keep], chi[keep], new[keep]
        cs = new
    return s


def implied_vol(price: ArrayLike, spot: ArrayLike, strike: ArrayLike, t: ArrayLike,
                rate: ArrayLike, div: ArrayLike, is_call: ArrayLike) -> np.ndarray:
    """Annualised implied volatility per contract; NaN where none is meaningful.

    NaN marks prices outside the arbitrage bounds, expired contracts, time value lost in
    rounding, negligible vega and solutions outside ``[MIN_VOL, MAX_VOL]``.
    """
    arrays = np.broadcast_arrays(
        np.asarray(price, dtype=np.float64), np.asarray(spot, dtype=np.float64),
        np.asarray(strike, dtype=np.float64), np.asarray(t, dtype=np.float64),
        np.asarray(rate, dtype=np.float64), np.asarray(div, dtype=np.float64),
        np.asarray(is_call, dtype=bool),
    )
    shape = arrays[0].shape
    p, s, k, tt, r, q, c = (a.ravel() for a in arrays)
    out = np.full(p.size, np.nan)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ok = (s > 0) & (k > 0) & (tt > 0) & np.isfinite(p) & np.isfinite(r) & np.isfinite(q)
        dfr = np.exp(-r * tt)
        fwd = s * np.exp((r - q) * tt)
        undisc = p / dfr
        intrinsic = np.maximum(np.where(c, fwd - k, k - fwd), 0.0)
        b = undisc - intrinsic
        scale = np.maximum(fwd, k)
        ok &= (b > _MIN_TIME_VALUE * scale) & (b < np.minimum(fwd, k))
    if not ok.any():
        return out.reshape(shape)
    sel = np.flatnonzero(ok) if not ok.all() else None
    if sel is not None:
        s, k, tt, fwd, b, dfr = s[sel], k[sel], tt[sel], fwd[sel], b[sel], dfr[sel]
    x = np.log(fwd / k)
    theta = np.where(x <= 0, 1.0, -1.0)
    sqt = np.sqrt(tt)
    s_lo = MIN_VOL * sqt * 0.5
    s_hi = MAX_VOL * sqt * 2.0
    total = _solve(x, b, fwd, k, theta, s_lo, s_hi)
    vol = total / sqt
    d1 = x / total + 0.5 * total
    vega_pt = dfr * fwd * np.exp(-0.5 * d1 * d1) * _INV_SQRT_2PI * sqt * 0.01
    good = (vol >= MIN_VOL) & (vol <= MAX_VOL) & (vega_pt >= _MIN_VEGA * s) & np.isfinite(vol)
    vol = np.where(good, vol, np.nan)
    if sel is None:
        out = vol
    else:
        out[sel] = vol
    return out.reshape(shape)


def implied_vol_scalar(price: float, spot: float, strike: float, t: float, rate: float,
                       div: float, is_call: bool) -> float:
    """One implied volatility; raises :class:`ImpliedVolError` explaining why there is none."""
    for name, value in (("spot", spot), ("strike", strike), ("t", t)):
        if not value > 0:
            raise ImpliedVolError(f"{name}: must be > 0, got {value!r}")
    dfr = float(np.exp(-rate * t))
    dfq = float(np.exp(-div * t))
    if is_call:
        lower, upper = max(spot * dfq - strike * dfr, 0.0), spot * dfq
    else:
        lower, upper = max(strike * dfr - spot * dfq, 0.0), strike * dfr
    if not lower < price < upper:
        kind = "call" if is_call else "put"
        raise ImpliedVolError(
            f"price: {price!r} is outside the arbitrage bounds ({lower:.6g}, {upper:.6g}) "
            f"of this {kind}"
        )
    vol = float(implied_vol(price, spot, strike, t, rate, div, is_call))
    if np.isnan(vol):
        raise ImpliedVolError(
            f"price: {price!r} carries no meaningful implied volatility (time value "
            f"{price - lower:.3g} too small or vega negligible, or vol outside "
            f"[{MIN_VOL}, {MAX_VOL}])"
        )
    return vol
