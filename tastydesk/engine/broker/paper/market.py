"""An in-process simulated options market, so the whole app works without an account.

The market owns seeded underlying paths (:mod:`.model`), lists weekly and monthly series
(:mod:`.listing`) and quotes them off an implied-volatility surface (:mod:`.quotes`) with the same
Black-Scholes-Merton formulas the engine uses. Time moves only through :meth:`PaperMarket.step`;
while the exchange is closed nothing moves (options keep their last-close values and the overnight
move arrives as a gap at the open), so the same seed and the same sequence of step times always
give the same prices.

Cost model: a series (strikes, symbols, open interest) is built once and kept until it expires;
chain quotes are repriced, vectorised, on demand. A step advances the paths in plain floats and
reprices the subscribed options of every underlying in one vectorised pass; the numbers are kept
per model version, so the stream, order matching and position marks of a step share them.
"""

from __future__ import annotations

import logging
import math
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from tastydesk.engine.broker.paper.listing import (
    MAX_DTE,
    expiration_days,
    is_expiration_day,
    listed_expirations,
    strike_grid,
)
from tastydesk.engine.broker.paper.model import (
    TRADING_DAYS,
    Profile,
    UnderlyingModel,
    intraday_tau,
    profile_for,
)
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
from tastydesk.engine.broker.paper.state import (
    MARKET_CORE,
    MARKET_HISTORY,
    MARKET_SERIES,
    PaperState,
)
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import NEW_YORK, Clock, MarketCalendar
from tastydesk.engine.domain.chain import (
    Expiration,
    Greeks,
    OptionChain,
    OptionContract,
    Quote,
    Strike,
    UnderlyingInfo,
    occ_symbol,
    parse_occ,
    streamer_symbol,
)
from tastydesk.engine.domain.enums import OptionType
from tastydesk.engine.domain.events import GreeksReceived, QuoteReceived
from tastydesk.engine.pricing.bsm import BsmScalar, bsm_greeks, bsm_greeks_scalar

log = logging.getLogger(__name__)

DEFAULT_WATCHLIST = ("SPY", "QQQ", "IWM", "AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "GLD", "TLT")

_YEAR_SECONDS = 365.0 * 86400.0
_HISTORY_DAYS = 260
# Closes are kept for settlement: longer than any listed expiry (MAX_DTE) can stay open.
_KEEP_CLOSES_DAYS = 420
_SAVE_EVERY_SECONDS = 60.0  # simulated time between two saves of a moving market
_STATE_FORMAT = 1
_EARNINGS_EVERY = 91
_EARNINGS_ANCHOR = date(2024, 1, 22)
_STREAMER_RE = re.compile(r"^\.([A-Z0-9/]{1,6})(\d{6})([CP])(\d+(?:\.\d+)?)$")
_CENTS: dict[int, Decimal] = {}
_STRIKES: dict[float, Decimal] = {}
_CALL = OptionType.CALL
_BATCH_MIN = 6  # below this many contracts, pricing one by one is cheaper than one numpy pass
_PUT = OptionType.PUT


def _cents(value: int) -> Decimal:
    dec = _CENTS.get(value)
    if dec is None:
        dec = Decimal(value).scaleb(-2)
        if len(_CENTS) < 500_000:
            _CENTS[value] = dec
    return dec


def _strike_decimal(value: float) -> Decimal:
    """A strike as the exchange writes it: ``590``, ``602.5``, ``92.25`` (never ``5.9E+2``)."""
    dec = _STRIKES.get(value)
    if dec is None:
        dec = _plain(Decimal(f"{value:.2f}"))
        _STRIKES[value] = dec
    return dec


def _plain(dec: Decimal) -> Decimal:
    return dec.quantize(Decimal(1)) if dec == dec.to_integral_value() else dec.normalize()


def _unit(text: str) -> float:
    """A stable pseudo-random number in [0, 1) from text (Python's hash() is salted per run)."""
    return zlib.crc32(text.encode()) / 2**32


@dataclass(frozen=True, slots=True)
class _Session:
    day: date
    open_ts: float
    close_ts: float


@dataclass(frozen=True, slots=True)
class _Key:
    """A parsed option: which underlying, series and strike."""

    index: int
    root: str
    expiry: date
    option_type: OptionType
    strike: Decimal
    strike_f: float
    occ: str
    streamer: str


@dataclass(frozen=True, slots=True)
class _Constants:
    """Per-underlying constants as arrays, gathered per contract by the batch pricer."""

    div: np.ndarray
    base: np.ndarray
    skew: np.ndarray
    smile: np.ndarray
    width: np.ndarray
    size_base: np.ndarray
    penny: np.ndarray

    @staticmethod
    def of(profiles: list[Profile]) -> _Constants:
        return _Constants(
            np.array([p.dividend_yield for p in profiles]),
            np.array([p.vol for p in profiles]),
            np.array([p.skew for p in profiles]),
            np.array([p.smile for p in profiles]),
            np.array([liquidity_width(p.liquidity) for p in profiles]),
            np.array([liquidity_size(p.liquidity) for p in profiles], dtype=np.int64),
            np.array([p.penny for p in profiles], dtype=np.bool_),
        )


@dataclass(frozen=True, slots=True)
class _Batch:
    """The fixed inputs of one set of streamed contracts, gathered once per subscription set."""

    keys: tuple[_Key, ...]
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
    penny: np.ndarray

    @staticmethod
    def of(keys: list[_Key], c: _Constants, expiry_close: Callable[[date], float]) -> _Batch:
        n = len(keys)
        idx = np.fromiter((k.index for k in keys), np.intp, n)
        pair_pos: dict[tuple[int, date], int] = {}
        for k in keys:
            pair_pos.setdefault((k.index, k.expiry), len(pair_pos))
        return _Batch(
            tuple(keys), idx,
            np.fromiter((k.strike_f for k in keys), np.float64, n),
            np.fromiter((expiry_close(k.expiry) for k in keys), np.float64, n),
            np.fromiter((k.option_type is _CALL for k in keys), np.bool_, n),
            tuple(pair_pos),
            np.fromiter((pair_pos[(k.index, k.expiry)] for k in keys), np.intp, n),
            c.div[idx], c.base[idx], c.skew[idx], c.smile[idx], c.width[idx], c.size_base[idx],
            c.penny[idx],
        )


@dataclass(slots=True)
class _Series:
    """One expiration of one underlying: strikes, symbols and open interest.

    Built on first use and kept until expiry, like a real listing: strikes are only ever added
    (when the underlying drifts away from the grid's centre, the grid is widened around the new
    price).
    """

    expiry: date
    monthly: bool
    close_ts: float
    center: float
    band: float  # recentre when the reference price moves further than this
    ref_vol: float  # the volatility and years to expiry the grid and activity were built with
    years: float
    strikes: np.ndarray
    strike_decs: list[Decimal]
    occ_call: list[str]
    occ_put: list[str]
    streamer_call: list[str]
    streamer_put: list[str]
    oi_call: list[int]
    oi_put: list[int]
    volume_call: np.ndarray  # whole-day volume; scaled by the session's elapsed share
    volume_put: np.ndarray
    strikes2: np.ndarray  # calls then puts, for one vectorised pricing call
    is_call2: np.ndarray


class PaperMarket:
    """Seeded simulated market for the paper broker; see the module docstring."""

    def __init__(self, bus: EventBus, clock: Clock, calendar: MarketCalendar, seed: int = 1,
                 symbols: Sequence[str] = DEFAULT_WATCHLIST, rate: float = 0.04,
                 state: PaperState | None = None) -> None:
        if not symbols:
            raise ValueError("symbols: the paper market needs at least one underlying")
        for s in symbols:
            if not isinstance(s, str) or not s or s != s.strip().upper() or len(s) > 6:
                raise ValueError(f"symbols: {s!r} is not an upper-case ticker of 1-6 characters")
        if len(set(symbols)) != len(symbols):
            raise ValueError("symbols: duplicate tickers")
        if not -0.05 <= rate <= 0.25:
            raise ValueError(f"rate: {rate!r} is outside -5 %..25 %")
        self.symbols: tuple[str, ...] = tuple(symbols)
        self.calendar = calendar
        self._bus = bus
        self._clock = clock
        self._seed = seed
        self._rate = rate
        self._index = {s: i for i, s in enumerate(self.symbols)}
        self._profiles: list[Profile] = [profile_for(s) for s in self.symbols]
        self._consts = _Constants.of(self._profiles)
        self._model = UnderlyingModel(self._profiles, rate, np.random.default_rng([seed, 0]))
        self._earn_anchor = [
            _EARNINGS_ANCHOR + timedelta(days=int(_unit(f"earn:{p.symbol}") * _EARNINGS_EVERY))
            for p in self._profiles
        ]
        self._earn_cache: dict[tuple[int, date], date | None] = {}
        start = clock.now()
        self._t = start.timestamp()
        self._now = start
        self._version = 0
        self._closes: list[dict[date, float]] = [{} for _ in self.symbols]
        self._recent: list[deque[float]] = [deque(maxlen=50) for _ in self.symbols]
        self._iv_hist: list[deque[float]] = [deque(maxlen=TRADING_DAYS) for _ in self.symbols]
        self._session_cache: dict[date, _Session | None] = {}
        self._session = self._first_session_after(self._t)
        opened = self._session.open_ts <= self._t
        self._gap_pending = not opened
        previous = self._previous_session(self._session.day)
        self._eff = self._t if opened else previous.close_ts
        self._released_from = self._session.day if opened else previous.day
        self._backfill(previous.day)
        self._series: dict[tuple[int, date], _Series] = {}
        self._schedule: dict[tuple[date, int], list[tuple[date, bool]]] = {}
        self._contracts: dict[str, tuple[int, OptionContract]] = {}
        self._chains: dict[tuple[int, int, int], tuple[int, OptionChain]] = {}
        self._numbers: dict[str, tuple[int, Decimal, Decimal, int, float, BsmScalar]] = {}
        self._batch: _Batch | None = None
        self._spots: dict[int, tuple[int, Decimal]] = {}
        self._keys: dict[str, _Key | None] = {}
        self._subs_under: dict[str, int] = {}
        self._subs_opt: dict[str, _Key] = {}
        self._fresh: set[str] = set()
        self._listeners: list[Callable[[datetime], None]] = []
        self._state = state
        self._history_dirty = True
        self._dirty_series: set[tuple[int, date]] = set()
        self._dropped_series: set[tuple[int, date]] = set()
        self._saved_version = -1
        self._saved_t = -math.inf
        saved = state.load_market() if state is not None else None
        if saved is not None:
            try:
                self.restore(saved)
            except ValueError as exc:
                log.warning("paper market: saved state in %s not restored (%s); starting afresh",
                            state.path if state else "", exc)

    # -- history ---------------------------------------------------------------------------

    def _backfill(self, last_day: date) -> None:
        """A year of synthetic daily history ending at the start price, for IV rank and trend."""
        days: list[date] = []
        day = last_day
        while len(days) < _HISTORY_DAYS:
            if self.calendar.is_trading_day(day):
                days.append(day)
            day -= timedelta(days=1)
        days.reverse()
        hist = UnderlyingModel(self._profiles, self._rate, np.random.default_rng([self._seed, 1]))
        session_tau = intraday_tau(6.5 * 3600)
        no_earnings = [0.0] * hist.n
        logs, ivs = [], []
        for _ in days:
            hist.gap(no_earnings)
            hist.advance(session_tau)
            logs.append(list(hist.log_spot))
            ivs.append([hist.implied_atm(i) for i in range(hist.n)])
        self._model.vol_factor = list(hist.vol_factor)
        for i in range(hist.n):
            shift = self._model.log_spot[i] - logs[-1][i]
            closes = [math.exp(row[i] + shift) for row in logs]
            self._closes[i].update(zip(days, closes, strict=True))
            self._recent[i].extend(closes[-50:])
            self._iv_hist[i].extend(row[i] for row in ivs[-TRADING_DAYS:])

    # -- sessions --------------------------------------------------------------------------

    def _session_of(self, day: date) -> _Session | None:
        if day not in self._session_cache:
            if self.calendar.is_trading_day(day):
                self._session_cache[day] = _Session(
                    day, self.calendar.session_open(day).timestamp(),
                    self.calendar.session_close(day).timestamp())
            else:
                self._session_cache[day] = None
        return self._session_cache[day]

    def _first_session_after(self, ts: float) -> _Session:
        """The session whose close is after ``ts`` (the current one while open)."""
        day = datetime.fromtimestamp(ts, NEW_YORK).date()
        while True:
            s = self._session_of(day)
            if s is not None and s.close_ts > ts:
                return s
            day += timedelta(days=1)

    def _previous_session(self, day: date) -> _Session:
        day -= timedelta(days=1)
        while True:
            s = self._session_of(day)
            if s is not None:
                return s
            day -= timedelta(days=1)

    def _next_session(self, session: _Session) -> _Session:
        day = session.day + timedelta(days=1)
        while True:
            s = self._session_of(day)
            if s is not None:
                return s
            day += timedelta(days=1)

    # -- earnings --------------------------------------------------------------------------

    def _earnings_on_or_after(self, i: int, day: date) -> date | None:
        cached = self._earn_cache.get((i, day), day)
        if cached is not day:
            return cached
        found = None
        p = self._profiles[i]
        if not p.etf and p.earnings_move > 0:
            anchor = self._earn_anchor[i]
            k = max(0, (day - anchor).days // _EARNINGS_EVERY - 1)
            while found is None:
                d = anchor + timedelta(days=_EARNINGS_EVERY * k)
                while not self.calendar.is_trading_day(d):
                    d += timedelta(days=1)
                if d >= day:
                    found = d
                k += 1
        if len(self._earn_cache) > 50_000:
            self._earn_cache.clear()
        self._earn_cache[(i, day)] = found
        return found

    def _pending_earnings(self, i: int) -> date | None:
        """The next report not yet in the price (reports come after the close)."""
        return self._earnings_on_or_after(i, self._released_from)

    # -- stepping --------------------------------------------------------------------------

    def step(self, to: datetime) -> None:
        """Advance to ``to``, publish subscribed quotes/greeks, then call the step listeners.

        A ``to`` not later than the last step is a no-op. While the market is closed nothing
        moves, so nothing is republished then, except a first quote for new subscriptions.
        """
        if to.tzinfo is None:
            raise ValueError(f"to: must be timezone-aware, got {to!r}")
        ts = to.timestamp()
        if ts <= self._t:
            return
        moved = self._advance(ts) if ts >= self._session.open_ts else False
        self._t = ts
        self._now = to
        if moved:
            self._version += 1
            if len(self._numbers) > 50_000:
                self._numbers.clear()
        if moved or self._fresh:
            self._publish(to, moved)
        if self._state is not None and ts - self._saved_t >= _SAVE_EVERY_SECONDS:
            self._persist()
        for listener in self._listeners:
            listener(to)

    def _advance(self, ts: float) -> bool:
        moved = False
        cur = self._t
        model = self._model
        while True:
            s = self._session
            if ts < s.open_ts:
                break
            if self._gap_pending:
                model.gap(self._earnings_moves(s.day))
                self._gap_pending = False
                self._released_from = s.day
                moved = True
            start = max(cur, s.open_ts)
            end = min(ts, s.close_ts)
            if end > start:
                model.advance(intraday_tau(end - start))
                moved = True
            self._eff = max(self._eff, end)
            cur = end
            if end < s.close_ts:
                break
            self._record_close(s.day)
            self._session = self._next_session(s)
            self._gap_pending = True
        return moved

    def _earnings_moves(self, open_day: date) -> list[float]:
        moves = [0.0] * len(self.symbols)
        for i, p in enumerate(self._profiles):
            if p.etf or p.earnings_move <= 0:
                continue
            report = self._earnings_on_or_after(i, self._released_from)
            if report is not None and report < open_day:
                moves[i] = p.earnings_move
        return moves

    def _record_close(self, day: date) -> None:
        cutoff = day - timedelta(days=_KEEP_CLOSES_DAYS)
        for i in range(len(self.symbols)):
            spot = self._model.spot(i)
            closes = self._closes[i]
            closes[day] = spot
            while (oldest := next(iter(closes))) < cutoff:
                del closes[oldest]
            self._recent[i].append(spot)
            self._iv_hist[i].append(self._iv_index(i))
        self._history_dirty = True

    # -- subscriptions and publishing ------------------------------------------------------

    def subscribe(self, symbols: Iterable[str]) -> None:
        """Stream quotes (and greeks, for options) for tickers, OCC or streamer symbols.

        Like the real quote feed, a symbol this market does not list is accepted and simply
        never produces events (the engine subscribes its whole watchlist plus SPY, whatever the
        paper market was built with).
        """
        for sym in symbols:
            if sym in self._index:
                self._subs_under[sym] = self._index[sym]
                self._fresh.add(sym)
                continue
            key = self._key(sym)
            if key is None:
                log.debug("paper market: no data for %r; subscription ignored", sym)
                continue
            self._subs_opt[sym] = key
            self._fresh.add(sym)

    def unsubscribe(self, symbols: Iterable[str]) -> None:
        for sym in symbols:
            self._subs_under.pop(sym, None)
            self._subs_opt.pop(sym, None)
            self._fresh.discard(sym)

    def add_step_listener(self, callback: Callable[[datetime], None]) -> None:
        """``callback(now)`` runs after every step, once quotes are published."""
        self._listeners.append(callback)

    def _publish(self, when: datetime, moved: bool) -> None:
        publish = self._bus.publish
        fresh = self._fresh
        for sym, i in self._subs_under.items():
            if moved or sym in fresh:
                publish(QuoteReceived(self._underlying_quote(i, sym, when)))
        if moved:
            targets = list(self._subs_opt.items())
        else:
            targets = [(sym, key) for sym, key in self._subs_opt.items() if sym in fresh]
        if targets:
            numbers = self._price_batch([key for _, key in targets])
            for sym, key in targets:
                _, bid, ask, size, vol, g = numbers[key.streamer]
                publish(QuoteReceived(Quote(sym, bid, ask, when, size, size)))
                publish(GreeksReceived(Greeks(sym, g.price, vol, g.delta, g.gamma, g.theta,
                                              g.vega, g.rho, when)))
        fresh.clear()

    # -- pricing ---------------------------------------------------------------------------

    def _expiry_close(self, expiry: date) -> float:
        s = self._session_of(expiry)
        if s is not None:
            return s.close_ts
        return self.calendar.session_close(expiry).timestamp()

    def _event_var(self, i: int, expiry: date) -> float:
        report = self._pending_earnings(i)
        if report is None or expiry <= report:
            return 0.0
        return self._profiles[i].earnings_move ** 2

    def _price_one(self, key: _Key, symbol: str, when: datetime) -> tuple[Quote, Greeks]:
        """One contract in plain floats; the same numbers :meth:`_price_many` gives.

        The numbers only change when the model moves, so they are kept per model version: the
        stream, the broker's order matching and position marks all ask for the same legs.
        """
        _, bid, ask, size, vol, g = self._numbers_of(key)
        quote = Quote(symbol, bid, ask, when, size, size)
        greeks = Greeks(symbol, g.price, vol, g.delta, g.gamma, g.theta, g.vega, g.rho, when)
        return quote, greeks

    def _numbers_of(self, key: _Key) -> tuple[int, Decimal, Decimal, int, float, BsmScalar]:
        cached = self._numbers.get(key.streamer)
        if cached is None or cached[0] != self._version:
            cached = (self._version, *self._compute_one(key))
            self._numbers[key.streamer] = cached
        return cached

    def _compute_one(self, key: _Key) -> tuple[Decimal, Decimal, int, float, BsmScalar]:
        i = key.index
        p = self._profiles[i]
        model = self._model
        spot = model.spot(i)
        q = p.dividend_yield
        t = (self._expiry_close(key.expiry) - self._eff) / _YEAR_SECONDS
        fwd = spot * math.exp((self._rate - q) * max(t, 0.0))
        vol = surface_vol_scalar(fwd, key.strike_f, t, model.implied_atm(i), p.vol, p.skew,
                                 p.smile, self._event_var(i, key.expiry))
        g = bsm_greeks_scalar(spot, key.strike_f, t, self._rate, q, vol,
                              key.option_type is _CALL)
        bid, ask = quote_cents_scalar(g.price, max(t, 0.0), p.liquidity, p.penny)
        return _cents(bid), _cents(ask), quote_size_scalar(g.price, p.liquidity), vol, g

    def _price_batch(self, keys: list[_Key]
                     ) -> dict[str, tuple[int, Decimal, Decimal, int, float, BsmScalar]]:
        """Bring the per-version numbers of ``keys`` up to date in one vectorised pass.

        A step streams every subscribed leg of every open position; one numpy pass over all of
        them (several underlyings at once) costs about as much as pricing three contracts one by
        one. A handful of contracts still goes through the scalar path.
        """
        numbers = self._numbers
        version = self._version
        todo: list[_Key] = []
        seen: set[str] = set()
        for key in keys:
            cached = numbers.get(key.streamer)
            if (cached is None or cached[0] != version) and key.streamer not in seen:
                seen.add(key.streamer)
                todo.append(key)
        if len(todo) < _BATCH_MIN:
            for key in todo:
                numbers[key.streamer] = (version, *self._compute_one(key))
            return numbers
        batch = self._batch
        if batch is None or batch.keys != tuple(todo):
            batch = self._batch = _Batch.of(todo, self._consts, self._expiry_close)
        pairs = batch.pairs
        event_var = np.array([self._event_var(i, expiry) for i, expiry in pairs])[batch.pair_of]
        model = self._model
        idx, strikes = batch.index, batch.strikes
        spot = np.array([model.spot(i) for i in range(model.n)])[idx]
        iv30 = np.array([model.implied_atm(i) for i in range(model.n)])[idx]
        q = batch.div
        t = (batch.close_ts - self._eff) / _YEAR_SECONDS
        tpos = np.maximum(t, 0.0)
        fwd = spot * np.exp((self._rate - q) * tpos)
        vol, _ = surface_vol(fwd, strikes, t, iv30, batch.base, batch.skew, batch.smile,
                             event_var)
        g = bsm_greeks(spot, strikes, t, self._rate, q, vol, batch.is_call)
        bid, ask, size = quote_book(g.price, tpos, batch.width, batch.size_base, batch.penny)
        for key, bd, ak, sz, iv, row in zip(
                todo, bid.tolist(), ask.tolist(), size.tolist(), vol.tolist(),
                zip(*(a.tolist() for a in g), strict=True), strict=True):
            numbers[key.streamer] = (version, _cents(bd), _cents(ak), sz, iv, BsmScalar(*row))
        return numbers

    def _price_many(self, i: int, strikes: np.ndarray, close_ts: np.ndarray,
                    is_call: np.ndarray, event_var: np.ndarray) -> tuple[np.ndarray, ...]:
        """Vectorised quotes and greeks for many contracts of underlying ``i``."""
        p = self._profiles[i]
        model = self._model
        spot = model.spot(i)
        q = p.dividend_yield
        t = (close_ts - self._eff) / _YEAR_SECONDS
        tpos = np.maximum(t, 0.0)
        fwd = spot * np.exp((self._rate - q) * tpos)
        vol, _ = surface_vol(fwd, strikes, t, model.implied_atm(i), p.vol, p.skew, p.smile,
                             event_var)
        g = bsm_greeks(spot, strikes, t, self._rate, q, vol, is_call)
        bid, ask = quote_cents(g.price, tpos, p.liquidity, p.penny)
        size = quote_sizes(g.price, p.liquidity)
        return g.price, vol, g.delta, g.gamma, g.theta, g.vega, g.rho, bid, ask, size

    def _iv_index(self, i: int) -> float:
        """30-day implied volatility, including a pending earnings event inside 30 days."""
        p = self._profiles[i]
        iv30 = self._model.implied_atm(i)
        report = self._pending_earnings(i)
        today = datetime.fromtimestamp(self._eff, NEW_YORK).date()
        if report is not None and (report - today).days < 30:
            return math.sqrt(iv30 * iv30 + p.earnings_move**2 * 365.0 / 30.0)
        return iv30

    def _underlying_quote(self, i: int, symbol: str, when: datetime) -> Quote:
        cents = round(self._model.spot(i) * 100)
        liquidity = self._profiles[i].liquidity
        half = 1 if liquidity >= 4 else 2
        size = 100 * (1 + liquidity)
        return Quote(symbol, _cents(cents - half), _cents(cents + half), when, size, size)

    # -- symbols ---------------------------------------------------------------------------

    def _key(self, symbol: str) -> _Key | None:
        if symbol in self._keys:
            return self._keys[symbol]
        key = self._parse(symbol)
        if len(self._keys) > 200_000:
            self._keys.clear()
        self._keys[symbol] = key
        return key

    def _parse(self, symbol: str) -> _Key | None:
        if not isinstance(symbol, str):
            return None
        if symbol.startswith("."):
            m = _STREAMER_RE.match(symbol)
            if m is None:
                return None
            root, ymd, cp, strike_txt = m.groups()
            try:
                expiry = datetime.strptime(ymd, "%y%m%d").date()
            except ValueError:
                return None
            option_type = _CALL if cp == "C" else _PUT
            strike = Decimal(strike_txt)
        else:
            try:
                root, expiry, option_type, strike = parse_occ(symbol)
            except ValueError:
                return None
        i = self._index.get(root)
        if i is None or strike <= 0 or not is_expiration_day(self.calendar, expiry):
            return None
        if strike != strike.quantize(Decimal("0.01")):
            return None  # strikes are quoted to the cent
        strike = _plain(strike)
        return _Key(i, root, expiry, option_type, strike, float(strike),
                    occ_symbol(root, expiry, option_type, strike),
                    streamer_symbol(root, expiry, option_type, strike))

    # -- listing ---------------------------------------------------------------------------

    def _today(self) -> date:
        return self._now.astimezone(NEW_YORK).date()

    def _expirations_of(self, i: int) -> list[tuple[date, bool]]:
        today = self._today()
        weeklies = 12 if self._profiles[i].liquidity >= 4 else 8
        key = (today, weeklies)
        listed = self._schedule.get(key)
        if listed is None:
            if len(self._schedule) > 64:
                self._schedule.clear()
            listed = [(d, m) for d, m in listed_expirations(self.calendar, today, weeklies)
                      if (d - today).days <= MAX_DTE]
            self._schedule[key] = listed
            self._drop_expired_series(today)
        return listed

    def _drop_expired_series(self, today: date) -> None:
        for k in [k for k in self._series if k[1] < today]:
            del self._series[k]
            self._dirty_series.discard(k)
            self._dropped_series.add(k)

    def _series_for(self, i: int, expiry: date, monthly: bool) -> _Series:
        existing = self._series.get((i, expiry))
        ref = self._recent[i][-1]
        if existing is not None and abs(ref - existing.center) <= existing.band:
            return existing
        p = self._profiles[i]
        ref_vol = max(p.vol, self._iv_hist[i][-1])
        t = max((expiry - self._today()).days, 1) / 365.0
        strikes = strike_grid(ref, ref_vol, t, p.liquidity, p.penny and p.etf)
        if existing is not None:
            strikes = np.union1d(existing.strikes, strikes)
        series = self._build_series(i, expiry, monthly, ref, ref_vol, t, strikes)
        self._series[(i, expiry)] = series
        self._dirty_series.add((i, expiry))
        return series

    def _build_series(self, i: int, expiry: date, monthly: bool, ref: float, ref_vol: float,
                      t: float, strikes: np.ndarray) -> _Series:
        p = self._profiles[i]
        root = p.symbol
        decs = [_strike_decimal(k) for k in strikes.tolist()]
        ymd = f"{expiry:%y%m%d}"
        occ_c = [occ_symbol(root, expiry, _CALL, d) for d in decs]
        occ_p = [occ_symbol(root, expiry, _PUT, d) for d in decs]
        txt = [format(d, "f") for d in decs]
        st_c = [f".{root}{ymd}C{x}" for x in txt]
        st_p = [f".{root}{ymd}P{x}" for x in txt]
        stddev = ref_vol * math.sqrt(t)
        z = np.log(strikes / ref) / stddev
        oi_c, vol_c = self._activity(occ_c, z, t, monthly, p.liquidity, call=True)
        oi_p, vol_p = self._activity(occ_p, z, t, monthly, p.liquidity, call=False)
        n = len(strikes)
        return _Series(
            expiry, monthly, self._expiry_close(expiry), ref, 0.5 * ref * max(stddev, 0.02),
            ref_vol, t,
            strikes, decs, occ_c, occ_p, st_c, st_p, oi_c.tolist(), oi_p.tolist(), vol_c, vol_p,
            np.concatenate([strikes, strikes]),
            np.concatenate([np.ones(n, dtype=bool), np.zeros(n, dtype=bool)]),
        )

    def _activity(self, occ: list[str], z: np.ndarray, t: float, monthly: bool, liquidity: int,
                  call: bool) -> tuple[np.ndarray, np.ndarray]:
        """Open interest and whole-day volume: concentrated near the money and in monthlies."""
        noise = np.array([_unit(f"{self._seed}:{s}") for s in occ])
        base = (200, 800, 3000, 9000, 25000)[max(0, min(liquidity, 4))]
        otm = z > 0 if call else z < 0
        shape = np.exp(-0.5 * (z / 1.3) ** 2) * np.where(otm, 1.0, 0.5)
        if not call:
            shape = shape * 1.2  # protective puts carry more open interest
        dte = t * 365.0
        factor = (1.8 if monthly else 1.0) / (1.0 + dte / 150.0)
        oi = np.floor(base * shape * factor * (0.4 + 1.2 * noise)).astype(np.int64)
        turnover = 0.05 + 0.4 * math.exp(-dte / 10.0)
        volume = np.floor(oi * turnover * (0.5 + noise)).astype(np.int64)
        return oi, volume

    def _session_share(self) -> float:
        s = self._session_of(self._today())
        if s is None:
            return 1.0
        return min(max((self._eff - s.open_ts) / (s.close_ts - s.open_ts), 0.0), 1.0)

    # -- queries ---------------------------------------------------------------------------

    def _require(self, symbol: str) -> int:
        i = self._index.get(symbol)
        if i is None:
            raise ValueError(f"symbol: {symbol!r} is not in the paper market "
                             f"({', '.join(self.symbols)})")
        return i

    @property
    def version(self) -> int:
        """Bumped whenever prices move: anything derived from quotes may be kept until then."""
        return self._version

    @property
    def now(self) -> datetime:
        """The time of the last step: the market's own clock."""
        return self._now

    def spot(self, symbol: str) -> Decimal:
        """Last price, to the cent."""
        i = self._require(symbol)
        cached = self._spots.get(i)
        if cached is None or cached[0] != self._version:
            cached = (self._version, _cents(round(self._model.spot(i) * 100)))
            self._spots[i] = cached
        return cached[1]

    def underlying(self, symbol: str) -> UnderlyingInfo:
        """Price, IV index and its rank over the trailing year, beta, earnings, trend."""
        i = self._require(symbol)
        p = self._profiles[i]
        iv = self._iv_index(i)
        hist = self._iv_hist[i]
        lo, hi = min(min(hist), iv), max(max(hist), iv)
        rank = 0.0 if hi <= lo else (iv - lo) / (hi - lo) * 100.0
        recent = list(self._recent[i])
        spot = self._model.spot(i)
        ma20 = (sum(recent[-19:]) + spot) / (len(recent[-19:]) + 1)
        ma50 = (sum(recent[-49:]) + spot) / (len(recent[-49:]) + 1)
        trend = math.tanh((ma20 - ma50) / ma50 / (0.25 * p.vol))
        return UnderlyingInfo(
            symbol=symbol,
            price=self.spot(symbol),
            iv_rank=Decimal(f"{rank:.1f}"),
            iv=iv,
            beta=p.beta,
            liquidity=p.liquidity,
            earnings=self._earnings_on_or_after(i, self._today()),
            dividend_yield=p.dividend_yield,
            trend=trend,
        )

    def expirations(self, symbol: str) -> list[Expiration]:
        """Listed expirations (ascending) without strikes; :meth:`chain` has the strikes."""
        i = self._require(symbol)
        today = self._today()
        return [Expiration(d, (d - today).days, m) for d, m in self._expirations_of(i)]

    def chain(self, symbol: str, min_dte: int = 0, max_dte: int = 400) -> OptionChain:
        """Quotes and greeks at the last step for expirations with ``min_dte <= DTE <= max_dte``.

        Strikes ascend within each expiration and expirations ascend by date.
        """
        if min_dte < 0 or max_dte < min_dte:
            raise ValueError(f"min_dte/max_dte: need 0 <= min_dte <= max_dte, got "
                             f"{min_dte}..{max_dte}")
        i = self._require(symbol)
        memo_key = (i, min_dte, max_dte)
        memo = self._chains.get(memo_key)
        if memo is not None and memo[0] == self._version and memo[1].as_of == self._now:
            return memo[1]  # immutable: several scans in one step share it
        chain = self._build_chain(i, symbol, min_dte, max_dte)
        if len(self._chains) > 256:
            self._chains.clear()
        self._chains[memo_key] = (self._version, chain)
        return chain

    def _build_chain(self, i: int, symbol: str, min_dte: int, max_dte: int) -> OptionChain:
        today = self._today()
        when = self._now
        info = self.underlying(symbol)
        chosen = [self._series_for(i, d, m) for d, m in self._expirations_of(i)
                  if min_dte <= (d - today).days <= max_dte]
        if not chosen:
            return OptionChain(info, (), when, self._rate)
        strikes = np.concatenate([s.strikes2 for s in chosen])
        is_call = np.concatenate([s.is_call2 for s in chosen])
        close_ts = np.concatenate([np.full(len(s.strikes2), s.close_ts) for s in chosen])
        event_var = np.concatenate(
            [np.full(len(s.strikes2), self._event_var(i, s.expiry)) for s in chosen])
        theo, vol, delta, gamma, theta, vega, rho, bid, ask, size = (
            a.tolist() for a in self._price_many(i, strikes, close_ts, is_call, event_var))
        share = self._session_share()
        cents = _CENTS
        expirations = []
        lo = 0
        for s in chosen:
            n = len(s.strikes)
            mid, hi = lo + n, lo + 2 * n
            sides = []
            for occ, streamer, oi, day_volume, a, b, side in (
                (s.occ_call, s.streamer_call, s.oi_call, s.volume_call, lo, mid, _CALL),
                (s.occ_put, s.streamer_put, s.oi_put, s.volume_put, mid, hi, _PUT),
            ):
                volume = np.floor(day_volume * share).astype(np.int64).tolist()
                sides.append([
                    OptionContract(
                        o, st, symbol, s.expiry, k, side,
                        Quote(st, cents.get(bd) or _cents(bd), cents.get(ak) or _cents(ak),
                              when, sz, sz),
                        Greeks(st, th, iv, de, ga, tht, ve, rh, when),
                        op, vo,
                    )
                    for o, st, k, bd, ak, sz, th, iv, de, ga, tht, ve, rh, op, vo in zip(
                        occ, streamer, s.strike_decs, bid[a:b], ask[a:b], size[a:b], theo[a:b],
                        vol[a:b], delta[a:b], gamma[a:b], theta[a:b], vega[a:b], rho[a:b], oi,
                        volume, strict=True)
                ])
            rows = tuple(map(Strike, s.strike_decs, sides[0], sides[1]))
            expirations.append(Expiration(s.expiry, (s.expiry - today).days, s.monthly, "PM",
                                          rows))
            lo = hi
        return OptionChain(info, tuple(expirations), when, self._rate)

    def contract(self, symbol: str) -> OptionContract | None:
        """One option by OCC or streamer symbol, with its quote and greeks at the last step."""
        cached = self._contracts.get(symbol)
        if cached is not None and cached[0] == self._version:
            contract = cached[1]
            if contract.quote is not None and contract.quote.time == self._now:
                return contract
        key = self._key(symbol)
        if key is None:
            return None
        oi = volume = 0
        series = self._series.get((key.index, key.expiry))
        if series is not None:
            j = int(np.searchsorted(series.strikes, key.strike_f))
            if j < len(series.strikes) and series.strike_decs[j] == key.strike:
                call = key.option_type is _CALL
                oi = (series.oi_call if call else series.oi_put)[j]
                day_volume = (series.volume_call if call else series.volume_put)[j]
                volume = int(day_volume * self._session_share())
        quote, greeks = self._price_one(key, key.streamer, self._now)
        contract = OptionContract(key.occ, key.streamer, key.root, key.expiry, key.strike,
                                  key.option_type, quote, greeks, oi, volume)
        if len(self._contracts) > 20_000:
            self._contracts.clear()
        self._contracts[symbol] = (self._version, contract)
        return contract

    def mid(self, symbol: str) -> Decimal | None:
        """Mid price of an option (OCC or streamer symbol) at the last step, or None if unknown.

        The same number as ``contract(symbol).quote.mid`` without building the contract: marks
        of open positions are read far more often than contracts are looked at.
        """
        key = self._key(symbol)
        if key is None:
            return None
        numbers = self._numbers_of(key)
        return (numbers[1] + numbers[2]) / 2

    def quote(self, symbol: str) -> Quote | None:
        """Quote for an underlying ticker, OCC or streamer symbol (labelled as asked)."""
        i = self._index.get(symbol)
        if i is not None:
            return self._underlying_quote(i, symbol, self._now)
        contract = self.contract(symbol)
        if contract is None or contract.quote is None:
            return None
        q = contract.quote
        if q.symbol == symbol:
            return q
        return Quote(symbol, q.bid, q.ask, q.time, q.bid_size, q.ask_size)

    def greeks(self, symbol: str) -> Greeks | None:
        """Greeks for an option by OCC or streamer symbol (labelled as asked)."""
        contract = self.contract(symbol)
        if contract is None or contract.greeks is None:
            return None
        g = contract.greeks
        if g.symbol == symbol:
            return g
        return Greeks(symbol, g.price, g.iv, g.delta, g.gamma, g.theta, g.vega, g.rho, g.time)

    # -- durable state ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this market is (JSON-serialisable).

        ``{"core": paths, random state and clock, "history": closes and the IV history,
        "series": listed strike grids}``. Subscriptions are not part of it: subscribers
        subscribe again when they start.
        """
        return {
            "core": self._core_state(),
            "history": self._history_state(),
            "series": {self._series_name(k): _series_state(s) for k, s in self._series.items()},
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`snapshot`; stepping on gives the same prices as never stopping.

        Raises ValueError naming the field when the snapshot is malformed or was taken of a
        market with another seed, rate or set of symbols.
        """
        try:
            core, history, series = state["core"], state["history"], state["series"]
            if core.get("format") != _STATE_FORMAT:
                raise ValueError(f"state.core.format: {core.get('format')!r} is not "
                                 f"{_STATE_FORMAT}")
            for name, mine in (("seed", self._seed), ("rate", self._rate),
                               ("symbols", list(self.symbols))):
                if core[name] != mine:
                    raise ValueError(f"state.core.{name}: {core[name]!r} does not match this "
                                     f"market's {mine!r}")
            session = self._session_of(date.fromisoformat(core["session"]))
            if session is None:
                raise ValueError(f"state.core.session: {core['session']} is not a trading day")
            now = datetime.fromisoformat(core["now"])
            if now.tzinfo is None:
                raise ValueError(f"state.core.now: {core['now']!r} has no time zone")
            n = len(self.symbols)
            log_spot = [float(x) for x in core["log_spot"]]
            vol_factor = [float(x) for x in core["vol_factor"]]
            closes = [{date.fromisoformat(d): float(v) for d, v in c.items()}
                      for c in history["closes"]]
            recent = [[float(x) for x in r] for r in history["recent"]]
            iv_hist = [[float(x) for x in h] for h in history["iv_hist"]]
            if {len(log_spot), len(vol_factor), len(closes), len(recent), len(iv_hist)} != {n}:
                raise ValueError(f"state: per-symbol lists must all hold {n} entries")
            grids = {}
            for name, body in series.items():
                symbol, _, day = name.partition(" ")
                if symbol not in self._index:
                    raise ValueError(f"state.series: {name!r} is not a series of this market")
                grids[(self._index[symbol], date.fromisoformat(day))] = body
            rng = np.random.default_rng([self._seed, 0])
            rng.bit_generator.state = core["rng"]
            t, eff = float(core["t"]), float(core["eff"])
            gap_pending = bool(core["gap_pending"])
            released_from = date.fromisoformat(core["released_from"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"state: malformed paper market snapshot ({exc!r})") from exc
        self._model.rng = rng
        self._model.log_spot[:] = log_spot
        self._model.vol_factor[:] = vol_factor
        self._t, self._now, self._eff = t, now, eff
        self._session = session
        self._gap_pending = gap_pending
        self._released_from = released_from
        for i in range(n):
            self._closes[i] = closes[i]
            self._recent[i] = deque(recent[i], maxlen=50)
            self._iv_hist[i] = deque(iv_hist[i], maxlen=TRADING_DAYS)
        self._series = {}
        for (i, expiry), body in sorted(grids.items()):
            self._series[(i, expiry)] = self._build_series(
                i, expiry, bool(body["monthly"]), float(body["ref"]), float(body["ref_vol"]),
                float(body["years"]), np.array(body["strikes"], dtype=np.float64))
        # Everything derived from prices is recomputed.
        self._version += 1
        self._numbers.clear()
        self._contracts.clear()
        self._chains.clear()
        self._spots.clear()
        self._schedule.clear()
        self._batch = None
        self._fresh.update(self._subs_under)
        self._fresh.update(self._subs_opt)
        self._history_dirty = False
        self._dirty_series.clear()
        self._dropped_series.clear()
        self._saved_version = self._version
        self._saved_t = self._t

    def save_state(self) -> None:
        """Write the latest state to the state file now (on shutdown; steps save on their own)."""
        if self._state is not None:
            self._persist(force=True)

    def _persist(self, force: bool = False) -> None:
        """Save what changed since the last save: the core always, history and series if dirty."""
        if not force and not (self._version != self._saved_version or self._history_dirty
                              or self._dirty_series or self._dropped_series):
            return
        assert self._state is not None
        parts: dict[str, Any] = {MARKET_CORE: self._core_state()}
        if self._history_dirty:
            parts[MARKET_HISTORY] = self._history_state()
        for k in self._dirty_series:
            series = self._series.get(k)
            if series is not None:
                parts[MARKET_SERIES + self._series_name(k)] = _series_state(series)
        drop = [MARKET_SERIES + self._series_name(k) for k in self._dropped_series]
        self._state.save(parts, drop)
        self._history_dirty = False
        self._dirty_series.clear()
        self._dropped_series.clear()
        self._saved_version = self._version
        self._saved_t = self._t

    def _core_state(self) -> dict[str, Any]:
        model = self._model
        return {
            "format": _STATE_FORMAT,
            "seed": self._seed,
            "rate": self._rate,
            "symbols": list(self.symbols),
            "t": self._t,
            "now": self._now.isoformat(),
            "eff": self._eff,
            "session": self._session.day.isoformat(),
            "gap_pending": self._gap_pending,
            "released_from": self._released_from.isoformat(),
            "log_spot": list(model.log_spot),
            "vol_factor": list(model.vol_factor),
            "rng": model.rng.bit_generator.state,
        }

    def _history_state(self) -> dict[str, Any]:
        return {
            "closes": [{d.isoformat(): v for d, v in c.items()} for c in self._closes],
            "recent": [list(r) for r in self._recent],
            "iv_hist": [list(h) for h in self._iv_hist],
        }

    def _series_name(self, key: tuple[int, date]) -> str:
        return f"{self.symbols[key[0]]} {key[1].isoformat()}"

    # -- expiry ----------------------------------------------------------------------------

    def settlement_price(self, symbol: str, expiry: date) -> Decimal:
        """The underlying's close on ``expiry``; ValueError until that close has happened."""
        i = self._require(symbol)
        close = self._closes[i].get(expiry)
        if close is None:
            raise ValueError(f"expiry: no {symbol} close recorded for {expiry.isoformat()} "
                             f"(not a trading day, or its 16:00 close has not happened yet)")
        return _cents(round(close * 100))

    def expired(self, since: datetime, until: datetime) -> list[date]:
        """Expiration dates whose 16:00 New York close lies in ``(since, until]``."""
        if until <= since:
            return []
        first = since.astimezone(NEW_YORK).date()
        last = until.astimezone(NEW_YORK).date()
        return [
            d for d in expiration_days(self.calendar, first, last)
            if since < self.calendar.session_close(d) <= until
        ]


def _series_state(series: _Series) -> dict[str, Any]:
    return {"monthly": series.monthly, "ref": series.center, "ref_vol": series.ref_vol,
            "years": series.years, "strikes": series.strikes.tolist()}
