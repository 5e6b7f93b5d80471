"""An in-process simulated options market, so the whole app works without an account.

The market owns seeded underlying paths (:mod:`.model`), lists weekly and monthly series
(:mod:`.listing`, :mod:`.series`) and quotes them off an implied-volatility surface
(:mod:`.quotes`, :mod:`.pricing`) with the same Black-Scholes-Merton formulas the engine uses.
Time moves only through :meth:`PaperMarket.step`; while the exchange is closed nothing moves
(options keep their last-close values and the overnight move arrives as a gap at the open), so
the same seed and the same sequence of step times always give the same prices. Sessions follow
the exchange calendar it is given (holidays, early closes). Reference data the broker reads:
trading halts (:attr:`PaperMarket.halts`, :mod:`.halts`) and dividend ex-dates and amounts
(:attr:`PaperMarket.dividends`, :mod:`.dividends`); option quotes sit on each class's tick
(:mod:`.rules`).

Cost model: a series (strikes, symbols, open interest) is built once and kept until it expires;
chain quotes are repriced, vectorised, on demand. A step advances the paths in plain floats and
reprices the subscribed options of every underlying in one vectorised pass; the numbers are kept
per model version, so the stream, order matching and position marks of a step share them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from tastydesk.engine.broker.paper.chains import build_chain
from tastydesk.engine.broker.paper.decimals import cents
from tastydesk.engine.broker.paper.dividends import DividendSchedule
from tastydesk.engine.broker.paper.earnings import EarningsBook
from tastydesk.engine.broker.paper.halts import HALT_DAYS_PER_YEAR, HaltBook
from tastydesk.engine.broker.paper.history import HISTORY_DAYS, PriceHistory
from tastydesk.engine.broker.paper.market_codec import (
    MarketCore,
    MarketIdentity,
    core_state,
    parse_snapshot,
    series_name,
)
from tastydesk.engine.broker.paper.model import (
    Profile,
    UnderlyingModel,
    intraday_tau,
    profile_for,
)
from tastydesk.engine.broker.paper.pricing import OptionPricer
from tastydesk.engine.broker.paper.series import SeriesBook
from tastydesk.engine.broker.paper.sessions import SessionBook
from tastydesk.engine.broker.paper.state import (
    MARKET_CORE,
    MARKET_HISTORY,
    MARKET_SERIES,
    PaperState,
)
from tastydesk.engine.broker.paper.streaming import QuoteStream
from tastydesk.engine.broker.paper.symbols import SymbolTable
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import NEW_YORK, Clock, MarketCalendar
from tastydesk.engine.domain.chain import (
    Expiration,
    Greeks,
    OptionChain,
    OptionContract,
    Quote,
    UnderlyingInfo,
)

log = logging.getLogger(__name__)

DEFAULT_WATCHLIST = ("SPY", "QQQ", "IWM", "AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "GLD", "TLT")

_SAVE_EVERY_SECONDS = 60.0  # simulated time between two saves of a moving market
_MAX_CONTRACTS = 20_000
_MAX_CHAINS = 256


class PaperMarket:
    """Seeded simulated market for the paper broker; see the module docstring."""

    def __init__(self, bus: EventBus, clock: Clock, calendar: MarketCalendar, seed: int = 1,
                 symbols: Sequence[str] = DEFAULT_WATCHLIST, rate: float = 0.04,
                 state: PaperState | None = None,
                 halts_per_year: float = HALT_DAYS_PER_YEAR) -> None:
        _check_arguments(symbols, rate)
        self.symbols: tuple[str, ...] = tuple(symbols)
        self.calendar = calendar
        self._identity = MarketIdentity(seed, rate, self.symbols)
        self._rate = rate
        self._index = {s: i for i, s in enumerate(self.symbols)}
        self._profiles: list[Profile] = [profile_for(s) for s in self.symbols]
        self._model = UnderlyingModel(self._profiles, rate, np.random.default_rng([seed, 0]))
        self._sessions = SessionBook(calendar)
        # Reference data others read directly: trading halts and dividend ex-dates.
        self.halts = HaltBook(self._profiles, calendar, seed, halts_per_year)
        self.dividends = DividendSchedule(self._profiles, calendar)
        self._symbols = SymbolTable(self._index, calendar)
        start = clock.now()
        self._t = start.timestamp()
        self._now = start
        self._version = 0
        self._session = self._sessions.first_after(self._t)
        opened = self._session.open_ts <= self._t
        self._gap_pending = not opened
        previous = self._sessions.previous(self._session.day)
        self._eff = self._t if opened else previous.close_ts
        self._earnings = EarningsBook(self._profiles, calendar,
                                      self._session.day if opened else previous.day)
        self._history = PriceHistory(len(self.symbols))
        self._model.vol_factor = self._history.backfill(
            self._sessions.trading_days_until(previous.day, HISTORY_DAYS), self._profiles, rate,
            seed, self._model.log_spot)
        self._series = SeriesBook(self._profiles, seed, self._sessions)
        self._pricer = OptionPricer(self._profiles, self._model, rate, self._sessions,
                                    self._earnings)
        self._contracts: dict[str, tuple[int, OptionContract]] = {}
        self._chains: dict[tuple[int, int, int], tuple[int, OptionChain]] = {}
        self._spots: dict[int, tuple[int, Decimal]] = {}
        self._stream = QuoteStream(bus, self._index, self._symbols, self._pricer)
        self._listeners: list[Callable[[datetime], None]] = []
        self._state = state
        self._saved_version = -1
        self._saved_t = -math.inf
        saved = state.load_market() if state is not None else None
        if saved is not None:
            try:
                self.restore(saved)
            except ValueError as exc:
                log.warning("paper market: saved state in %s not restored (%s); starting afresh",
                            state.path if state else "", exc)

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
            self._pricer.forget()
        if moved or self._stream.has_fresh:
            self._stream.publish(to, moved, self._version, self._eff)
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
                model.gap(self._earnings.moves(s.day))
                self._gap_pending = False
                self._earnings.release(s.day)
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
            n = len(self.symbols)
            self._history.record_close(s.day, [model.spot(i) for i in range(n)],
                                       [self._iv_index(i) for i in range(n)])
            self._session = self._sessions.following(s)
            self._gap_pending = True
        return moved

    # -- subscriptions --------------------------------------------------------------------

    def subscribe(self, symbols: Iterable[str]) -> None:
        """Stream quotes (and greeks, for options) for tickers, OCC or streamer symbols.

        Like the real quote feed, a symbol this market does not list is accepted and simply
        never produces events (the engine subscribes its whole watchlist plus SPY, whatever the
        paper market was built with).
        """
        self._stream.subscribe(symbols)

    def unsubscribe(self, symbols: Iterable[str]) -> None:
        self._stream.unsubscribe(symbols)

    def subscribed_options(self) -> frozenset[str]:
        """Option symbols streamed now (what the engine keeps subscribed)."""
        return self._stream.option_symbols()

    def add_step_listener(self, callback: Callable[[datetime], None]) -> None:
        """``callback(now)`` runs after every step, once quotes are published."""
        self._listeners.append(callback)

    # -- pricing helpers -------------------------------------------------------------------

    def _iv_index(self, i: int) -> float:
        """30-day implied volatility, including a pending earnings event inside 30 days."""
        p = self._profiles[i]
        iv30 = self._model.implied_atm(i)
        report = self._earnings.pending(i)
        today = datetime.fromtimestamp(self._eff, NEW_YORK).date()
        if report is not None and (report - today).days < 30:
            return math.sqrt(iv30 * iv30 + p.earnings_move**2 * 365.0 / 30.0)
        return iv30

    def _today(self) -> date:
        return self._now.astimezone(NEW_YORK).date()

    def _require(self, symbol: str) -> int:
        i = self._index.get(symbol)
        if i is None:
            raise ValueError(f"symbol: {symbol!r} is not in the paper market "
                             f"({', '.join(self.symbols)})")
        return i

    # -- queries ---------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """Bumped whenever prices move: anything derived from quotes may be kept until then."""
        return self._version

    @property
    def now(self) -> datetime:
        """The time of the last step: the market's own clock."""
        return self._now

    def is_underlying(self, symbol: str) -> bool:
        """Whether ``symbol`` is one of this market's underlyings (a ticker, not an option)."""
        return symbol in self._index

    def implied_vol(self, symbol: str) -> float:
        """The underlying's 30-day at-the-money implied volatility, earnings excluded."""
        return self._model.implied_atm(self._require(symbol))

    def spot(self, symbol: str) -> Decimal:
        """Last price, to the cent."""
        i = self._require(symbol)
        cached = self._spots.get(i)
        if cached is None or cached[0] != self._version:
            cached = (self._version, cents(round(self._model.spot(i) * 100)))
            self._spots[i] = cached
        return cached[1]

    def underlying(self, symbol: str) -> UnderlyingInfo:
        """Price, IV index and its rank over the trailing year, beta, earnings, trend and the
        next dividend (ex-date and amount per share)."""
        i = self._require(symbol)
        p = self._profiles[i]
        iv = self._iv_index(i)
        today = self._today()
        ex_date = self.dividends.next_ex_date(symbol, today)
        return UnderlyingInfo(
            symbol=symbol,
            price=self.spot(symbol),
            iv_rank=Decimal(f"{self._history.iv_rank(i, iv):.1f}"),
            iv=iv,
            beta=p.beta,
            liquidity=p.liquidity,
            earnings=self._earnings.on_or_after(i, today),
            dividend_yield=p.dividend_yield,
            trend=self._history.trend(i, self._model.spot(i), p.vol),
            ex_dividend_date=ex_date,
            dividend_amount=self.dividends.amount(symbol) if ex_date else Decimal(0),
        )

    def expirations(self, symbol: str) -> list[Expiration]:
        """Listed expirations (ascending) without strikes; :meth:`chain` has the strikes."""
        i = self._require(symbol)
        today = self._today()
        return [Expiration(d, (d - today).days, m) for d, m in
                self._series.expirations_of(i, today)]

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
        today = self._today()
        info = self.underlying(symbol)
        ref, ref_vol = self._history.last_close(i), self._history.last_iv(i)
        chosen = [self._series.series_for(i, d, m, today, ref, ref_vol)
                  for d, m in self._series.expirations_of(i, today)
                  if min_dte <= (d - today).days <= max_dte]
        chain = build_chain(self._pricer, self._earnings, i, info, chosen, today, self._now,
                            self._eff, self._sessions.elapsed_share(self._today(), self._eff), self._rate)
        if len(self._chains) > _MAX_CHAINS:
            self._chains.clear()
        self._chains[memo_key] = (self._version, chain)
        return chain

    def contract(self, symbol: str) -> OptionContract | None:
        """One option by OCC or streamer symbol, with its quote and greeks at the last step."""
        cached = self._contracts.get(symbol)
        if cached is not None and cached[0] == self._version:
            contract = cached[1]
            if contract.quote is not None and contract.quote.time == self._now:
                return contract
        key = self._symbols.key(symbol)
        if key is None:
            return None
        oi = volume = 0
        series = self._series.get(key.index, key.expiry)
        activity = None if series is None else series.activity(key.strike, key.strike_f,
                                                                key.option_type)
        if activity is not None:
            oi = activity[0]
            volume = int(activity[1] * self._sessions.elapsed_share(self._today(), self._eff))
        _, bid, ask, size, vol, g = self._pricer.numbers_of(key, self._version, self._eff)
        when, st = self._now, key.streamer
        contract = OptionContract(
            key.occ, st, key.root, key.expiry, key.strike, key.option_type,
            Quote(st, bid, ask, when, size, size),
            Greeks(st, g.price, vol, g.delta, g.gamma, g.theta, g.vega, g.rho, when), oi, volume)
        if len(self._contracts) > _MAX_CONTRACTS:
            self._contracts.clear()
        self._contracts[symbol] = (self._version, contract)
        return contract

    def mid(self, symbol: str) -> Decimal | None:
        """Mid price of an option (OCC or streamer symbol) at the last step, or None if unknown.

        The same number as ``contract(symbol).quote.mid`` without building the contract: marks
        of open positions are read far more often than contracts are looked at.
        """
        key = self._symbols.key(symbol)
        if key is None:
            return None
        numbers = self._pricer.numbers_of(key, self._version, self._eff)
        return (numbers[1] + numbers[2]) / 2

    def quote(self, symbol: str) -> Quote | None:
        """Quote for an underlying ticker, OCC or streamer symbol (labelled as asked)."""
        i = self._index.get(symbol)
        if i is not None:
            return self._pricer.underlying_quote(i, symbol, self._now)
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
        close = self._history.close_on(i, expiry)
        if close is None:
            raise ValueError(f"expiry: no {symbol} close recorded for {expiry.isoformat()} "
                             f"(not a trading day, or its close has not happened yet)")
        return cents(round(close * 100))

    def expired(self, since: datetime, until: datetime) -> list[date]:
        """Expiration dates whose close lies in ``(since, until]``."""
        return self._sessions.expirations_closed(since, until)

    # -- durable state ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this market is (JSON-serialisable).

        ``{"core": paths, random state and clock, "history": closes and the IV history,
        "series": listed strike grids}``. Subscriptions are not part of it: subscribers
        subscribe again when they start.
        """
        return {
            "core": self._core_state(),
            "history": self._history.state(),
            "series": {self._series_name(k): s.state() for k, s in self._series.items()},
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`snapshot`; stepping on gives the same prices as never stopping.

        Raises ValueError naming the field when the snapshot is malformed or was taken of a
        market with another seed, rate or set of symbols.
        """
        core, history, grids = parse_snapshot(state, self._identity, self._sessions)
        self._series.restore(grids)
        self._model.rng = core.rng
        self._model.log_spot[:] = core.log_spot
        self._model.vol_factor[:] = core.vol_factor
        self._t, self._now, self._eff = core.t, core.now, core.eff
        self._session = core.session
        self._gap_pending = core.gap_pending
        self._earnings.release(core.released_from)
        self._history = history
        # Everything derived from prices is recomputed.
        self._version += 1
        self._pricer.forget(everything=True)
        self._contracts.clear()
        self._chains.clear()
        self._spots.clear()
        self._stream.refresh_all()
        self._saved_version = self._version
        self._saved_t = self._t

    def save_state(self) -> None:
        """Write the latest state to the state file now (on shutdown; steps save on their own)."""
        if self._state is not None:
            self._persist(force=True)

    def _persist(self, force: bool = False) -> None:
        """Save what changed since the last save: the core always, history and series if dirty."""
        series = self._series
        if not force and not (self._version != self._saved_version or self._history.dirty
                              or series.dirty or series.dropped):
            return
        assert self._state is not None
        parts: dict[str, Any] = {MARKET_CORE: self._core_state()}
        if self._history.dirty:
            parts[MARKET_HISTORY] = self._history.state()
        for k in series.dirty:
            listed = series.get(*k)
            if listed is not None:
                parts[MARKET_SERIES + self._series_name(k)] = listed.state()
        drop = [MARKET_SERIES + self._series_name(k) for k in series.dropped]
        self._state.save(parts, drop)
        self._history.dirty = False
        series.dirty.clear()
        series.dropped.clear()
        self._saved_version = self._version
        self._saved_t = self._t

    def _core_state(self) -> dict[str, Any]:
        return core_state(self._identity, MarketCore(
            self._t, self._now, self._eff, self._session, self._gap_pending,
            self._earnings.released_from, self._model.log_spot, self._model.vol_factor,
            self._model.rng))

    def _series_name(self, key: tuple[int, date]) -> str:
        return series_name(self.symbols[key[0]], key[1])


def _check_arguments(symbols: Sequence[str], rate: float) -> None:
    if not symbols:
        raise ValueError("symbols: the paper market needs at least one underlying")
    for s in symbols:
        if not isinstance(s, str) or not s or s != s.strip().upper() or len(s) > 6:
            raise ValueError(f"symbols: {s!r} is not an upper-case ticker of 1-6 characters")
    if len(set(symbols)) != len(symbols):
        raise ValueError("symbols: duplicate tickers")
    if not -0.05 <= rate <= 0.25:
        raise ValueError(f"rate: {rate!r} is outside -5 %..25 %")
