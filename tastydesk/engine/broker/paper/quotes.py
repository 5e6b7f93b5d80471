"""The paper market's implied-volatility surface and how it turns theoretical values into quotes.

Surface: the 30-day at-the-money level mean-reverts towards the long-run level along the term
structure (contango when calm, backwardation when stressed), an earnings event adds its variance
to every expiry after the report, and a skew/smile in standardised moneyness makes puts richer.
Beyond +-3.5 standard deviations the smile is flat, which keeps call prices falling and put prices
rising with strike.

Quotes: the half-spread is a function of the contract's own theoretical value (plus per-expiry
and per-name constants), so rounding bids down and asks up keeps them monotone in strike; cheap
out-of-the-money contracts carry the widest spread relative to their value, and far expiries and
illiquid names are wider still.
"""

from __future__ import annotations

import math

import numpy as np

Z_MAX = 3.5
TERM_REVERSION = 4.0
T30 = 30.0 / 365.0
_MIN_T = 1.0 / (365.0 * 24.0 * 60.0)
_LIQUIDITY_WIDTH = {4: 1.0, 3: 1.8, 2: 3.0, 1: 5.0, 0: 8.0}
_LIQUIDITY_SIZE = {4: 400, 3: 120, 2: 40, 1: 15, 0: 5}
NICKEL_ABOVE_CENTS = 300  # where the coarser tick of a class starts ($3)


def _term_weight(t: np.ndarray) -> np.ndarray:
    kt = TERM_REVERSION * t
    return -np.expm1(-kt) / kt


_W30 = float(_term_weight(np.array(T30)))


def atm_vol(iv30: float, base: float, t: np.ndarray) -> np.ndarray:
    """At-the-money vol by expiry: expected average variance of a mean-reverting variance."""
    te = np.maximum(t, _MIN_T)
    var = base * base + (iv30 * iv30 - base * base) * _term_weight(te) / _W30
    return np.sqrt(np.maximum(var, (0.25 * base) ** 2))


def surface_vol(fwd: np.ndarray | float, strike: np.ndarray, t: np.ndarray, iv30: float,
                base: float, skew: float, smile: float, event_var: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Implied vol per contract and its standardised log-moneyness ``z``."""
    te = np.maximum(t, _MIN_T)
    atm = atm_vol(iv30, base, te)
    total = np.sqrt(atm * atm * te + event_var)
    z = np.log(strike / fwd) / total
    zc = np.clip(z, -Z_MAX, Z_MAX)
    vol = total / np.sqrt(te) * (1.0 + skew * zc + smile * zc * zc)
    return vol, z


def quote_cents(theo: np.ndarray, t: np.ndarray, liquidity: int, ticks: tuple[int, int]
                ) -> tuple[np.ndarray, np.ndarray]:
    """Bid and ask in integer cents: bid >= 0, ask > bid, both on the class's tick.

    ``ticks`` is the tick in cents below $3 and at or above $3: ``(1, 1)`` for all-penny
    classes, ``(1, 5)`` for the penny program, ``(5, 10)`` for other classes.
    """
    low, high = ticks
    width = _LIQUIDITY_WIDTH.get(liquidity, 8.0) * (0.01 + 0.004 * theo) * (1.0 + 0.5 * t)
    bid = np.floor((theo - 0.5 * width) * 100.0 + 1e-7).astype(np.int64)
    ask = np.ceil((theo + 0.5 * width) * 100.0 - 1e-7).astype(np.int64)
    np.maximum(bid, 0, out=bid)
    return _on_ticks(bid, ask, low, high)


def _on_ticks(bid: np.ndarray, ask: np.ndarray, low: np.ndarray | int, high: np.ndarray | int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Bids rounded down and asks up to their tick, at least one tick apart."""
    tick = np.where(bid >= NICKEL_ABOVE_CENTS, high, low)
    bid = bid // tick * tick
    ask = np.maximum(ask, bid + tick)
    tick = np.where(ask >= NICKEL_ABOVE_CENTS, high, low)
    ask = (ask + tick - 1) // tick * tick
    return bid, ask


def quote_sizes(theo: np.ndarray, liquidity: int) -> np.ndarray:
    """Displayed size in contracts: deeper books on cheap, liquid contracts."""
    base = _LIQUIDITY_SIZE.get(liquidity, 5)
    return np.maximum(1, (base * (0.2 + 2.0 / (1.0 + theo))).astype(np.int64))


# Plain-float twins of the functions above, for the handful of contracts a step streams (numpy's
# per-call overhead would dominate there). Tests hold both paths to the same numbers.

def surface_vol_scalar(fwd: float, strike: float, t: float, iv30: float, base: float,
                       skew: float, smile: float, event_var: float) -> float:
    te = max(t, _MIN_T)
    kt = TERM_REVERSION * te
    weight = -math.expm1(-kt) / kt
    var = base * base + (iv30 * iv30 - base * base) * weight / _W30
    atm = math.sqrt(max(var, (0.25 * base) ** 2))
    total = math.sqrt(atm * atm * te + event_var)
    zc = min(max(math.log(strike / fwd) / total, -Z_MAX), Z_MAX)
    return total / math.sqrt(te) * (1.0 + skew * zc + smile * zc * zc)


def quote_cents_scalar(theo: float, t: float, liquidity: int, ticks: tuple[int, int]
                       ) -> tuple[int, int]:
    low, high = ticks
    width = _LIQUIDITY_WIDTH.get(liquidity, 8.0) * (0.01 + 0.004 * theo) * (1.0 + 0.5 * t)
    bid = max(math.floor((theo - 0.5 * width) * 100.0 + 1e-7), 0)
    ask = math.ceil((theo + 0.5 * width) * 100.0 - 1e-7)
    tick = high if bid >= NICKEL_ABOVE_CENTS else low
    bid = bid // tick * tick
    ask = max(ask, bid + tick)
    tick = high if ask >= NICKEL_ABOVE_CENTS else low
    ask = (ask + tick - 1) // tick * tick
    return bid, ask


def quote_size_scalar(theo: float, liquidity: int) -> int:
    base = _LIQUIDITY_SIZE.get(liquidity, 5)
    return max(1, int(base * (0.2 + 2.0 / (1.0 + theo))))


def liquidity_width(liquidity: int) -> float:
    """Spread scale of a name with this liquidity score (what :func:`quote_cents` applies)."""
    return _LIQUIDITY_WIDTH.get(liquidity, 8.0)


def liquidity_size(liquidity: int) -> int:
    """Base displayed size of a name with this liquidity score (what :func:`quote_sizes` uses)."""
    return _LIQUIDITY_SIZE.get(liquidity, 5)


def quote_book(theo: np.ndarray, t: np.ndarray, width: np.ndarray, size_base: np.ndarray,
               low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bid and ask cents and sizes for contracts of several names at once.

    ``width``, ``size_base`` and the ticks ``low``/``high`` (cents below and at or above $3)
    are per contract (from :func:`liquidity_width`, :func:`liquidity_size` and the name's tick
    class); every element gets exactly the numbers :func:`quote_cents` and :func:`quote_sizes`
    give it on its own, so one call can reprice every streamed option of a step.
    """
    spread = width * (0.01 + 0.004 * theo) * (1.0 + 0.5 * t)
    bid = np.floor((theo - 0.5 * spread) * 100.0 + 1e-7).astype(np.int64)
    ask = np.ceil((theo + 0.5 * spread) * 100.0 - 1e-7).astype(np.int64)
    np.maximum(bid, 0, out=bid)
    bid, ask = _on_ticks(bid, ask, low, high)
    size = np.maximum(1, (size_base * (0.2 + 2.0 / (1.0 + theo))).astype(np.int64))
    return bid, ask, size
