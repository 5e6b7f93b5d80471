"""An in-process simulated options market, so the whole app works without an account.

The market owns seeded underlying paths (:mod:`.model`), lists weekly and monthly series
(:mod:`.listing`) and quotes them off an implied-volatility surface (:mod:`.quotes`) with the same
Black-Scholes-Merton code the engine uses. Time moves only through :meth:`PaperMarket.step`; while
the exchange is closed nothing moves (options keep their last-close values and the overnight move
arrives as a gap at the open), so the same seed and the same sequence of step times always give
the same prices.

Cost model: the chain structure (series, symbols, open interest) is built once per symbol per day;
quotes are repriced, vectorised, on demand. A step advances ten paths in a few numpy operations and
reprices only subscribed options.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

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
from tastydesk.engine.broker.paper.quotes import quote_cents, quote_sizes, surface_vol
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
from tastydesk.engine.pricing.bsm import bsm_greeks

DEFAULT_WATCHLIST = ("SPY", "QQQ", "IWM", "AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "GLD", "TLT")

_YEAR_SECONDS = 365.0 * 86400.0
_HISTORY_DAYS = 260
_EARNINGS_EVERY = 91
_EARNINGS_ANCHOR = date(2024, 1, 22)
_STREAMER_RE = re.compile(r"^\.([A-Z0-9/]{1,6})(\d{6})([CP])(\d+(?:\.\d+)?)$")
_CENTS: dict[int, Decimal] = {}


def _cents(value: int) -> Decimal:
    dec = _CENTS.get(value)
    if dec is None:
        dec = Decimal(value).scaleb(-2)
        if len(_CENTS) < 200_000:
            _CENTS[value] = dec
    return dec


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
    occ: str
    streamer: str


@dataclass(slots=True)
class _Series:
    """One expiration of one underlying's listing: everything that stays fixed for the day."""

    expiry: date
    dte: int
    monthly: bool
    close_ts: float
    strikes: np.ndarray
    strike_decs: list[Decimal]
    occ_call: list[str]
    occ_put: list[str]
    streamer_call: list[str]
    streamer_put: list[str]
    oi_call: np.ndarray
    oi_put: np.ndarray
    volume_call: np.ndarray  # whole-day volume; scaled by the session's elapsed share
    volume_put: np.ndarray


@dataclass(slots=True)
class _Listing:
    day: date
    series: list[_Series]


@dataclass(slots=True)
class _Priced:
    """Vectorised quote and greeks for a batch of contracts of one underlying."""

    theo: np.ndarray
    vol: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    theta: np.ndarray
    vega: np.ndarray
    rho: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    size: np.ndarray


class PaperMarket:
    """Seeded simulated market for the paper broker; see the module docstring."""

    def __init__(self, bus: EventBus, clock: Clock, calendar: MarketCalendar, seed: int = 1,
                 symbols: Sequence[str] = DEFAULT_WATCHLIST, rate: float = 0.04) -> None:
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
        self._model = UnderlyingModel(self._profiles, rate, np.random.default_rng([seed, 0]))
        self._earn_move = np.array([p.earnings_move for p in self._profiles])
        self._earn_anchor = [
            _EARNINGS_ANCHOR + timedelta(days=int(_unit(f"earn:{p.symbol}") * _EARNINGS_EVERY))
            for p in self._profiles
        ]
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
        self._last_close_day = previous.day
        self._eff = self._t if opened else previous.close_ts
        self._released_from = self._session.day if opened else previous.day
        self._backfill(previous.day)
        self._listings: dict[int, _Listing] = {}
        self._contract_cache: dict[str, tuple[int, OptionContract]] = {}
        self._keys: dict[str, _Key | None] = {}
        self._subs_under: dict[str, int] = {}
        self._subs_opt: dict[str, _Key] = {}
        self._fresh: set[str] = set()
        self._listeners: list[Callable[[datetime], None]] = []

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
        logs = np.empty((len(days), hist.n))
        ivs = np.empty((len(days), hist.n))
        session_tau = intraday_tau(6.5 * 3600)
        no_earnings = np.zeros(hist.n)
        for k in range(len(days)):
            hist.gap(no_earnings)
            hist.advance(session_tau)
            logs[k] = hist.log_spot
            ivs[k] = hist.implied_atm()
        self._model.vol_factor = hist.vol_factor.copy()
        closes = np.exp(self._model.log_spot + logs - logs[-1])
        for i in range(hist.n):
            self._closes[i].update(zip(days, closes[:, i].tolist(), strict=True))
            self._recent[i].extend(closes[-50:, i].tolist())
            self._iv_hist[i].extend(ivs[-TRADING_DAYS:, i].tolist())

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
        if self._profiles[i].etf or self._profiles[i].earnings_move <= 0:
            return None
        anchor = self._earn_anchor[i]
        k = max(0, (day - anchor).days // _EARNINGS_EVERY - 1)
        while True:
            d = anchor + timedelta(days=_EARNINGS_EVERY * k)
            while not self.calendar.is_trading_day(d):
                d += timedelta(days=1)
            if d >= day:
                return d
            k += 1

    def _pending_earnings(self, i: int) -> date | None:
        """The next report not yet in the price (reports come after the close)."""
        return self._earnings_on_or_after(i, self._released_from)

    # -- stepping --------------------------------------------------------------------------

    def step(self, to: datetime) -> None:
        """Advance to ``to``, publish subscribed quotes/greeks, then call the step listeners.

        A ``to`` not later than the last step is a no-op. While the market is closed nothing
        moves, so only newly subscribed symbols get a first quote.
        """
        ts = to.timestamp()
        if ts <= self._t:
            return
        moved = self._advance(ts)
        self._t = ts
        self._now = to
        if moved:
            self._version += 1
        self._publish(to, moved)
        for listener in tuple(self._listeners):
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

    def _earnings_moves(self, open_day: date) -> np.ndarray:
        moves = np.zeros(len(self.symbols))
        for i in range(len(self.symbols)):
            if self._earn_move[i] <= 0:
                continue
            report = self._earnings_on_or_after(i, self._released_from)
            if report is not None and report < open_day:
                moves[i] = self._earn_move[i]
        return moves

    def _record_close(self, day: date) -> None:
        spots = self._model.spots().tolist()
        for i, spot in enumerate(spots):
            self._closes[i][day] = spot
            self._recent[i].append(spot)
            self._iv_hist[i].append(self._iv_index(i))
        self._last_close_day = day

    # -- subscriptions and publishing ------------------------------------------------------

    def subscribe(self, symbols: Iterable[str]) -> None:
        """Stream quotes (and greeks, for options) for tickers, OCC or streamer symbols."""
        for sym in symbols:
            if sym in self._index:
                self._subs_under[sym] = self._index[sym]
            else:
                key = self._key(sym)
                if key is None:
                    raise ValueError(f"symbols: {sym!r} is neither a listed underlying nor an "
                                     f"option on one ({', '.join(self.symbols)})")
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
        if self._subs_under:
            spots = self._model.spots()
            for sym, i in self._subs_under.items():
                if moved or sym in fresh:
                    publish(QuoteReceived(self._underlying_quote(i, float(spots[i]), sym, when)))
        if self._subs_opt:
            wanted = [(s, k) for s, k in self._subs_opt.items() if moved or s in fresh]
            if wanted:
                for _, quote, greeks in self._price_keys(wanted, when):
                    publish(QuoteReceived(quote))
                    publish(GreeksReceived(greeks))
        fresh.clear()

    def _price_keys(self, items: list[tuple[str, _Key]], when: datetime
                    ) -> list[tuple[str, Quote, Greeks]]:
        """Price arbitrary option keys, grouped by underlying (one vectorised call per group)."""
        out: list[tuple[str, Quote, Greeks]] = []
        groups: dict[int, list[tuple[str, _Key]]] = {}
        for sym, key in items:
            groups.setdefault(key.index, []).append((sym, key))
        for i, group in groups.items():
            strikes = np.array([float(k.strike) for _, k in group])
            close_ts = np.array([self._expiry_close(k.expiry) for _, k in group])
            is_call = np.array([k.option_type is OptionType.CALL for _, k in group])
            event = self._event_flags(i, [k.expiry for _, k in group])
            p = self._price(i, strikes, close_ts, is_call, event)
            for j, (sym, _) in enumerate(group):
                out.append((sym, *self._quote_greeks(sym, p, j, when)))
        return out

    # -- pricing ---------------------------------------------------------------------------

    def _expiry_close(self, expiry: date) -> float:
        s = self._session_of(expiry)
        if s is not None:
            return s.close_ts
        return self.calendar.session_close(expiry).timestamp()

    def _event_flags(self, i: int, expiries: Sequence[date]) -> np.ndarray:
        report = self._pending_earnings(i)
        if report is None:
            return np.zeros(len(expiries), dtype=bool)
        return np.array([e > report for e in expiries], dtype=bool)

    def _price(self, i: int, strikes: np.ndarray, close_ts: np.ndarray, is_call: np.ndarray,
               event: np.ndarray) -> _Priced:
        p = self._profiles[i]
        model = self._model
        spot = float(math.exp(model.log_spot[i]))
        q = p.dividend_yield
        t = (close_ts - self._eff) / _YEAR_SECONDS
        fwd = spot * np.exp((self._rate - q) * np.maximum(t, 0.0))
        iv30 = float(model.base_vol[i] * math.exp(model.vol_factor[i]))
        event_var = np.where(event, p.earnings_move**2, 0.0)
        vol, _ = surface_vol(fwd, strikes, t, iv30, p.vol, p.skew, p.smile, event_var)
        g = bsm_greeks(spot, strikes, t, self._rate, q, vol, is_call)
        bid, ask = quote_cents(g.price, np.maximum(t, 0.0), p.liquidity, p.penny)
        size = quote_sizes(g.price, p.liquidity)
        return _Priced(g.price, vol, g.delta, g.gamma, g.theta, g.vega, g.rho, bid, ask, size)

    def _quote_greeks(self, symbol: str, p: _Priced, j: int, when: datetime
                      ) -> tuple[Quote, Greeks]:
        size = int(p.size[j])
        quote = Quote(symbol, _cents(int(p.bid[j])), _cents(int(p.ask[j])), when, size, size)
        greeks = Greeks(symbol, float(p.theo[j]), float(p.vol[j]), float(p.delta[j]),
                        float(p.gamma[j]), float(p.theta[j]), float(p.vega[j]), float(p.rho[j]),
                        when)
        return quote, greeks

    def _iv_index(self, i: int) -> float:
        """30-day implied volatility, including a pending earnings event inside 30 days."""
        p = self._profiles[i]
        iv30 = float(self._model.base_vol[i] * math.exp(self._model.vol_factor[i]))
        report = self._pending_earnings(i)
        today = datetime.fromtimestamp(self._eff, NEW_YORK).date()
        if report is not None and (report - today).days < 30:
            return math.sqrt(iv30 * iv30 + p.earnings_move**2 * 365.0 / 30.0)
        return iv30

    def _underlying_quote(self, i: int, spot: float, symbol: str, when: datetime) -> Quote:
        cents = round(spot * 100)
        half = 1 if self._profiles[i].liquidity >= 4 else 2
        size = 100 * (1 + self._profiles[i].liquidity)
        return Quote(symbol, _cents(cents - half), _cents(cents + half), when, size, size)

    # -- symbols ---------------------------------------------------------------------------

    def _key(self, symbol: str) -> _Key | None:
        if symbol in self._keys:
            return self._keys[symbol]
        key = self._parse(symbol)
        if len(self._keys) < 100_000:
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
            option_type = OptionType.CALL if cp == "C" else OptionType.PUT
            strike = Decimal(strike_txt)
        else:
            try:
                root, expiry, option_type, strike = parse_occ(symbol)
            except ValueError:
                return None
        i = self._index.get(root)
        if i is None or strike <= 0 or not is_expiration_day(self.calendar, expiry):
            return None
        strike = strike.quantize(Decimal("0.001")).normalize()
        if strike != strike.quantize(Decimal("0.01")):
            return None
        return _Key(i, root, expiry, option_type, strike,
                    occ_symbol(root, expiry, option_type, strike),
                    streamer_symbol(root, expiry, option_type, strike))

    # -- listing ---------------------------------------------------------------------------

    def _today(self) -> date:
        return self._now.astimezone(NEW_YORK).date()

    def _listing(self, i: int) -> _Listing:
        today = self._today()
        cached = self._listings.get(i)
        if cached is not None and cached.day == today:
            return cached
        p = self._profiles[i]
        ref = self._recent[i][-1]
        ref_vol = max(p.vol, self._iv_hist[i][-1])
        weeklies = 12 if p.liquidity >= 4 else 8
        series = []
        for expiry, monthly in listed_expirations(self.calendar, today, weeklies):
            dte = (expiry - today).days
            if dte > MAX_DTE:
                continue
            close_ts = self._expiry_close(expiry)
            t = max(dte, 1) / 365.0
            strikes = strike_grid(ref, ref_vol, t, p.liquidity, p.penny and p.etf)
            decs = [Decimal(f"{k:.2f}").normalize() for k in strikes.tolist()]
            occ_c = [occ_symbol(p.symbol, expiry, OptionType.CALL, d) for d in decs]
            occ_p = [occ_symbol(p.symbol, expiry, OptionType.PUT, d) for d in decs]
            st_c = [streamer_symbol(p.symbol, expiry, OptionType.CALL, d) for d in decs]
            st_p = [streamer_symbol(p.symbol, expiry, OptionType.PUT, d) for d in decs]
            z = np.log(strikes / ref) / (ref_vol * math.sqrt(t))
            oi_c, vol_c = self._activity(occ_c, z, dte, monthly, p.liquidity, call=True)
            oi_p, vol_p = self._activity(occ_p, z, dte, monthly, p.liquidity, call=False)
            series.append(_Series(expiry, dte, monthly, close_ts, strikes, decs, occ_c, occ_p,
                                  st_c, st_p, oi_c, oi_p, vol_c, vol_p))
        listing = _Listing(today, series)
        self._listings[i] = listing
        return listing

    def _activity(self, occ: list[str], z: np.ndarray, dte: int, monthly: bool, liquidity: int,
                  call: bool) -> tuple[np.ndarray, np.ndarray]:
        """Open interest and whole-day volume: concentrated near the money and in monthlies."""
        noise = np.array([_unit(f"{self._seed}:{s}") for s in occ])
        base = (200, 800, 3000, 9000, 25000)[max(0, min(liquidity, 4))]
        otm = z > 0 if call else z < 0
        shape = np.exp(-0.5 * (z / 1.3) ** 2) * np.where(otm, 1.0, 0.5)
        if not call:
            shape = shape * 1.2  # protective puts carry more open interest
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

    def spot(self, symbol: str) -> Decimal:
        """Last price, to the cent."""
        i = self._require(symbol)
        return _cents(round(math.exp(self._model.log_spot[i]) * 100))

    def underlying(self, symbol: str) -> UnderlyingInfo:
        i = self._require(symbol)
        p = self._profiles[i]
        iv = self._iv_index(i)
        hist = self._iv_hist[i]
        lo, hi = min(min(hist), iv), max(max(hist), iv)
        rank = 0.0 if hi <= lo else (iv - lo) / (hi - lo) * 100.0
        recent = list(self._recent[i])
        spot = math.exp(self._model.log_spot[i])
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
        listing = self._listing(self._require(symbol))
        return [Expiration(s.expiry, s.dte, s.monthly) for s in listing.series]

    def chain(self, symbol: str, min_dte: int = 0, max_dte: int = 400) -> OptionChain:
        """Quotes and greeks for expirations with ``min_dte <= DTE <= max_dte``."""
        if min_dte < 0 or max_dte < min_dte:
            raise ValueError(f"min_dte/max_dte: need 0 <= min_dte <= max_dte, got "
                             f"{min_dte}..{max_dte}")
        i = self._require(symbol)
        listing = self._listing(i)
        chosen = [s for s in listing.series if min_dte <= s.dte <= max_dte]
        when = self._now
        info = self.underlying(symbol)
        if not chosen:
            return OptionChain(info, (), when, self._rate)
        strikes = np.concatenate([np.concatenate([s.strikes, s.strikes]) for s in chosen])
        close_ts = np.concatenate([np.full(2 * len(s.strikes), s.close_ts) for s in chosen])
        is_call = np.concatenate(
            [np.repeat(np.array([True, False]), len(s.strikes)) for s in chosen])
        flags = self._event_flags(i, [s.expiry for s in chosen])
        event = np.concatenate([np.full(2 * len(s.strikes), f) for s, f in zip(chosen, flags,
                                                                              strict=True)])
        p = self._price(i, strikes, close_ts, is_call, event)
        share = self._session_share()
        theo, vol = p.theo.tolist(), p.vol.tolist()
        delta, gamma, theta = p.delta.tolist(), p.gamma.tolist(), p.theta.tolist()
        vega, rho = p.vega.tolist(), p.rho.tolist()
        bid, ask, size = p.bid.tolist(), p.ask.tolist(), p.size.tolist()
        expirations = []
        by_symbol: dict[str, OptionContract] = {}
        base = 0
        for s in chosen:
            n = len(s.strikes)
            oi_c, oi_p = s.oi_call.tolist(), s.oi_put.tolist()
            vc = np.floor(s.volume_call * share).astype(np.int64).tolist()
            vp = np.floor(s.volume_put * share).astype(np.int64).tolist()
            rows = []
            for j in range(n):
                contracts = []
                for side, occ, stream, oi, vlm in (
                    (OptionType.CALL, s.occ_call, s.streamer_call, oi_c, vc),
                    (OptionType.PUT, s.occ_put, s.streamer_put, oi_p, vp),
                ):
                    k = base + j if side is OptionType.CALL else base + n + j
                    st = stream[j]
                    contract = OptionContract(
                        occ[j], st, symbol, s.expiry, s.strike_decs[j], side,
                        Quote(st, _cents(bid[k]), _cents(ask[k]), when, size[k], size[k]),
                        Greeks(st, theo[k], vol[k], delta[k], gamma[k], theta[k], vega[k],
                               rho[k], when),
                        oi[j], vlm[j],
                    )
                    by_symbol[occ[j]] = contract
                    contracts.append(contract)
                rows.append(Strike(s.strike_decs[j], contracts[0], contracts[1]))
            expirations.append(Expiration(s.expiry, s.dte, s.monthly, "PM", tuple(rows)))
            base += 2 * n
        return OptionChain(info, tuple(expirations), when, self._rate, by_symbol)

    def contract(self, symbol: str) -> OptionContract | None:
        """One option by OCC or streamer symbol, with its current quote and greeks."""
        cached = self._contract_cache.get(symbol)
        if cached is not None and cached[0] == self._version and cached[1].quote is not None \
                and cached[1].quote.time == self._now:
            return cached[1]
        key = self._key(symbol)
        if key is None:
            return None
        i = key.index
        listing = self._listing(i)
        oi = volume = 0
        for s in listing.series:
            if s.expiry == key.expiry:
                j = int(np.searchsorted(s.strikes, float(key.strike)))
                if j < len(s.strikes) and s.strike_decs[j] == key.strike:
                    call = key.option_type is OptionType.CALL
                    oi = int((s.oi_call if call else s.oi_put)[j])
                    day_volume = (s.volume_call if call else s.volume_put)[j]
                    volume = int(day_volume * self._session_share())
                break
        priced = self._price_keys([(key.streamer, key)], self._now)
        _, quote, greeks = priced[0]
        contract = OptionContract(key.occ, key.streamer, key.root, key.expiry, key.strike,
                                  key.option_type, quote, greeks, oi, volume)
        if len(self._contract_cache) > 20_000:
            self._contract_cache.clear()
        self._contract_cache[symbol] = (self._version, contract)
        return contract

    def quote(self, symbol: str) -> Quote | None:
        """Quote for an underlying ticker, OCC or streamer symbol (labelled as asked)."""
        i = self._index.get(symbol)
        if i is not None:
            return self._underlying_quote(i, math.exp(self._model.log_spot[i]), symbol,
                                          self._now)
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

    @property
    def now(self) -> datetime:
        """The time of the last step (the market's own clock)."""
        return self._now


def _unit(text: str) -> float:
    return zlib.crc32(text.encode()) / 2**32

