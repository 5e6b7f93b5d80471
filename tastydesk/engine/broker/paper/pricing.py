"""Option pricing of the paper market: quotes and greeks off the volatility surface, kept per
model version.

The numbers of a contract only change when the model moves, so they are kept per market version:
the stream, the broker's order matching and position marks of one step all ask for the same
legs. A step's streamed contracts are repriced in one vectorised pass (several underlyings at
once); a handful of contracts still goes through the scalar path, which is cheaper there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import numpy as np

from tastydesk.engine.broker.paper.decimals import cents
from tastydesk.engine.broker.paper.earnings import EarningsBook
from tastydesk.engine.broker.paper.model import Profile, UnderlyingModel
from tastydesk.engine.broker.paper.quotes import (
    liquidity_size,
    liquidity_width,
    quote_book,
    quote_cents,
    quote_cents_scalar,
    quote_size_scalar,
    quote_sizes,
    surface_vol,
    surface_vol_scalar,
)
from tastydesk.engine.broker.paper.rules import quote_ticks
from tastydesk.engine.broker.paper.sessions import SessionBook
from tastydesk.engine.broker.paper.symbols import OptionKey
from tastydesk.engine.domain.chain import Quote
from tastydesk.engine.domain.enums import OptionType
from tastydesk.engine.pricing.bsm import BsmScalar, bsm_greeks, bsm_greeks_scalar

YEAR_SECONDS = 365.0 * 86400.0
_BATCH_MIN = 6  # below this many contracts, pricing one by one is cheaper than one numpy pass
_MAX_NUMBERS = 50_000

# (version, bid, ask, size, implied vol, model outputs)
Numbers = tuple[int, Decimal, Decimal, int, float, BsmScalar]


@dataclass(frozen=True, slots=True)
class _Constants:
    """Per-underlying constants as arrays, gathered per contract by the batch pricer."""

    div: np.ndarray
    base: np.ndarray
    skew: np.ndarray
    smile: np.ndarray
    width: np.ndarray
    size_base: np.ndarray
    low: np.ndarray  # tick in cents below $3
    high: np.ndarray  # tick in cents at or above $3

    @staticmethod
    def of(profiles: list[Profile]) -> _Constants:
        ticks = [quote_ticks(p.symbol) for p in profiles]
        return _Constants(
            np.array([p.dividend_yield for p in profiles]),
            np.array([p.vol for p in profiles]),
            np.array([p.skew for p in profiles]),
            np.array([p.smile for p in profiles]),
            np.array([liquidity_width(p.liquidity) for p in profiles]),
            np.array([liquidity_size(p.liquidity) for p in profiles], dtype=np.int64),
            np.array([low for low, _ in ticks], dtype=np.int64),
            np.array([high for _, high in ticks], dtype=np.int64),
        )


@dataclass(frozen=True, slots=True)
class _Batch:
    """The fixed inputs of one set of streamed contracts, gathered once per subscription set."""

    keys: tuple[OptionKey, ...]
    index: np.ndarray
    strikes: np.ndarray
    close_ts: np.ndarray
    is_call: np.ndarray
    pairs: tuple[tuple[int, date], ...]  # distinct (underlying, expiry)
    pair_of: np.ndarray  # per contract: its position in ``pairs``
    div: np.ndarray
    base: np.ndarray
    skew: np.ndarray
    smile: np.ndarray
    width: np.ndarray
    size_base: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @staticmethod
    def of(keys: list[OptionKey], c: _Constants, expiry_close: Callable[[date], float]
           ) -> _Batch:
        n = len(keys)
        idx = np.fromiter((k.index for k in keys), np.intp, n)
        pair_pos: dict[tuple[int, date], int] = {}
        for k in keys:
            pair_pos.setdefault((k.index, k.expiry), len(pair_pos))
        return _Batch(
            tuple(keys), idx,
            np.fromiter((k.strike_f for k in keys), np.float64, n),
            np.fromiter((expiry_close(k.expiry) for k in keys), np.float64, n),
            np.fromiter((k.option_type is OptionType.CALL for k in keys), np.bool_, n),
            tuple(pair_pos),
            np.fromiter((pair_pos[(k.index, k.expiry)] for k in keys), np.intp, n),
            c.div[idx], c.base[idx], c.skew[idx], c.smile[idx], c.width[idx], c.size_base[idx],
            c.low[idx], c.high[idx],
        )


class OptionPricer:
    """Quotes and greeks of the market's options at the model's effective time; see module."""

    def __init__(self, profiles: list[Profile], model: UnderlyingModel, rate: float,
                 sessions: SessionBook, earnings: EarningsBook) -> None:
        self._profiles = profiles
        self._consts = _Constants.of(profiles)
        self._ticks = [quote_ticks(p.symbol) for p in profiles]
        self._model = model
        self._rate = rate
        self._sessions = sessions
        self._earnings = earnings
        self._numbers: dict[str, Numbers] = {}
        self._batch: _Batch | None = None

    def forget(self, everything: bool = False) -> None:
        """Drop kept numbers: all of them (after a restore), or only when the memo grew large."""
        if everything or len(self._numbers) > _MAX_NUMBERS:
            self._numbers.clear()
        if everything:
            self._batch = None

    def numbers_of(self, key: OptionKey, version: int, eff: float) -> Numbers:
        cached = self._numbers.get(key.streamer)
        if cached is None or cached[0] != version:
            cached = (version, *self._compute_one(key, eff))
            self._numbers[key.streamer] = cached
        return cached

    def _compute_one(self, key: OptionKey, eff: float
                     ) -> tuple[Decimal, Decimal, int, float, BsmScalar]:
        i = key.index
        p = self._profiles[i]
        model = self._model
        spot = model.spot(i)
        q = p.dividend_yield
        t = (self._sessions.close_ts(key.expiry) - eff) / YEAR_SECONDS
        fwd = spot * math.exp((self._rate - q) * max(t, 0.0))
        vol = surface_vol_scalar(fwd, key.strike_f, t, model.implied_atm(i), p.vol, p.skew,
                                 p.smile, self._earnings.event_var(i, key.expiry))
        g = bsm_greeks_scalar(spot, key.strike_f, t, self._rate, q, vol,
                              key.option_type is OptionType.CALL)
        bid, ask = quote_cents_scalar(g.price, max(t, 0.0), p.liquidity, self._ticks[i])
        return cents(bid), cents(ask), quote_size_scalar(g.price, p.liquidity), vol, g

    def price_batch(self, keys: list[OptionKey], version: int, eff: float) -> dict[str, Numbers]:
        """Bring the per-version numbers of ``keys`` up to date in one vectorised pass."""
        numbers = self._numbers
        todo: list[OptionKey] = []
        seen: set[str] = set()
        for key in keys:
            cached = numbers.get(key.streamer)
            if (cached is None or cached[0] != version) and key.streamer not in seen:
                seen.add(key.streamer)
                todo.append(key)
        if len(todo) < _BATCH_MIN:
            for key in todo:
                numbers[key.streamer] = (version, *self._compute_one(key, eff))
            return numbers
        batch = self._batch
        if batch is None or batch.keys != tuple(todo):
            batch = self._batch = _Batch.of(todo, self._consts, self._sessions.close_ts)
        event_var = np.array([self._earnings.event_var(i, expiry)
                              for i, expiry in batch.pairs])[batch.pair_of]
        model = self._model
        idx, strikes = batch.index, batch.strikes
        spot = np.array([model.spot(i) for i in range(model.n)])[idx]
        iv30 = np.array([model.implied_atm(i) for i in range(model.n)])[idx]
        q = batch.div
        t = (batch.close_ts - eff) / YEAR_SECONDS
        tpos = np.maximum(t, 0.0)
        fwd = spot * np.exp((self._rate - q) * tpos)
        vol, _ = surface_vol(fwd, strikes, t, iv30, batch.base, batch.skew, batch.smile,
                             event_var)
        g = bsm_greeks(spot, strikes, t, self._rate, q, vol, batch.is_call)
        bid, ask, size = quote_book(g.price, tpos, batch.width, batch.size_base, batch.low,
                                    batch.high)
        for key, bd, ak, sz, iv, row in zip(
                todo, bid.tolist(), ask.tolist(), size.tolist(), vol.tolist(),
                zip(*(a.tolist() for a in g), strict=True), strict=True):
            numbers[key.streamer] = (version, cents(bd), cents(ak), sz, iv, BsmScalar(*row))
        return numbers

    def price_many(self, i: int, strikes: np.ndarray, close_ts: np.ndarray,
                   is_call: np.ndarray, event_var: np.ndarray, eff: float
                   ) -> tuple[np.ndarray, ...]:
        """Vectorised quotes and greeks for many contracts of underlying ``i``."""
        p = self._profiles[i]
        model = self._model
        spot = model.spot(i)
        q = p.dividend_yield
        t = (close_ts - eff) / YEAR_SECONDS
        tpos = np.maximum(t, 0.0)
        fwd = spot * np.exp((self._rate - q) * tpos)
        vol, _ = surface_vol(fwd, strikes, t, model.implied_atm(i), p.vol, p.skew, p.smile,
                             event_var)
        g = bsm_greeks(spot, strikes, t, self._rate, q, vol, is_call)
        bid, ask = quote_cents(g.price, tpos, p.liquidity, self._ticks[i])
        size = quote_sizes(g.price, p.liquidity)
        return g.price, vol, g.delta, g.gamma, g.theta, g.vega, g.rho, bid, ask, size

    def underlying_quote(self, i: int, symbol: str, when: datetime) -> Quote:
        """The underlying's quote: a cent or two either side of the model price."""
        value = round(self._model.spot(i) * 100)
        liquidity = self._profiles[i].liquidity
        half = 1 if liquidity >= 4 else 2
        size = 100 * (1 + liquidity)
        return Quote(symbol, cents(value - half), cents(value + half), when, size, size)
