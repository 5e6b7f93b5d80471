"""Market data on tastytrade: metrics, chains, trading rules, and what DXLink streams.

REST gives the slow-moving facts (market metrics with beta and dividends, the nested chain, the
instrument's tick tables); DXLink gives quotes, greeks, open interest (Summary events) and the
daily candles the trend is computed from. Streamed values are cached by symbol and published on
the bus; a chain or a metrics request waits briefly for the first events of what it subscribes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from tastydesk.engine.broker.tastytrade import mapping
from tastydesk.engine.broker.tastytrade.errors import (
    BrokerPayloadError,
    BrokerUnavailable,
    LoginRequired,
    TastytradeAdapterError,
)
from tastydesk.engine.broker.tastytrade.session import RestClient
from tastydesk.engine.broker.tastytrade.streams import MarketHandlers, MarketStream
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.chain import Expiration, Greeks, OptionChain, Quote, UnderlyingInfo
from tastydesk.engine.domain.enums import StreamHealth
from tastydesk.engine.domain.events import GreeksReceived, QuoteReceived
from tastydesk.engine.domain.instruments import TradingRules
from tastydesk.engine.domain.trend import SLOW_DAYS, trend_signal

log = logging.getLogger(__name__)

CHAIN_STREAM_BAND = 0.25  # stream strikes within +-25 % of spot when a chain is requested
CHAIN_READY_SHARE = 0.95  # share of streamed strikes with greeks before the chain is returned
SUMMARY_GRACE_S = 0.5  # extra wait for open interest once quotes and greeks are in
NESTED_CHAIN_TTL_S = 60.0  # how long a fetched chain listing (expirations, strikes) is reused
CANDLE_HISTORY_DAYS = 120  # calendar days of daily candles asked for (over 50 sessions)
_REMOVE_EVENT = 0x02  # DXLink event flags
_SNAPSHOT_END = 0x08
_SNAPSHOT_SNIP = 0x10


def equity_rules_model() -> type:
    """The SDK's ``Equity`` plus ``spread-tick-sizes``: SDK 13.2.3 declares that table on
    futures only and would drop it from an equity payload; tastytrade's equity payloads carry
    ``tick-sizes`` and ``option-tick-sizes``."""
    from tastytrade.instruments import Equity, TickSize

    class RulesEquity(Equity):
        spread_tick_sizes: list[TickSize] | None = None

    return RulesEquity


class MarketData:
    """Caches of streamed market data and the REST reads that build chains and metrics."""

    def __init__(self, rest: RestClient, bus: EventBus, clock: Clock, *,
                 stream_wait_s: float) -> None:
        self._rest = rest
        self._bus = bus
        self._clock = clock
        self._stream_wait_s = stream_wait_s  # 0: never wait for streamed values
        self._stream: MarketStream | None = None
        self._nested: dict[str, tuple[float, Any]] = {}
        self._rules: dict[str, TradingRules] = {}
        self._rules_model: type | None = None
        self._quotes: dict[str, Quote] = {}
        self._greeks: dict[str, Greeks] = {}
        self._open_interest: dict[str, int] = {}
        self._candles: dict[str, dict[int, float]] = {}
        self._candles_done: set[str] = set()
        self._candles_awaited: set[str] = set()  # waited for once: never block on them again

    def handlers(self) -> MarketHandlers:
        return MarketHandlers(quote=self._on_quote, greeks=self._on_greeks,
                              summary=self._on_summary, candle=self._on_candle)

    def attach(self, stream: MarketStream | None) -> None:
        """The DXLink stream to subscribe through (None once closed)."""
        self._stream = stream

    # ------------------------------------------------------------------ subscriptions
    async def subscribe(self, symbols: Iterable[str]) -> None:
        if self._stream is None:
            raise TastytradeAdapterError("subscribe: not connected (call connect() first)")
        await self._stream.add(s for s in symbols if s)

    async def unsubscribe(self, symbols: Iterable[str]) -> None:
        if self._stream is not None:
            await self._stream.remove(symbols)

    async def _wait(self, ready: Callable[[], bool], seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline and not ready():
            await asyncio.sleep(0.05)

    # ------------------------------------------------------------------ metrics and trend
    async def market_metrics(self, symbols: Iterable[str]) -> dict[str, UnderlyingInfo]:
        from tastytrade.market_data import get_market_data_by_type
        from tastytrade.metrics import get_market_metrics

        wanted = list(dict.fromkeys(s.strip().upper() for s in symbols if s and s.strip()))
        await self._want_candles(wanted)
        session = self._rest.session
        today = self._clock.today()
        out: dict[str, UnderlyingInfo] = {}
        for i in range(0, len(wanted), 100):
            chunk = wanted[i:i + 100]
            metrics = await self._rest.read("market metrics",
                                            lambda c=chunk: get_market_metrics(session, c))
            data = await self._rest.read("market data", lambda c=chunk: get_market_data_by_type(
                session, equities=c))
            prices = {d.symbol: mapping.market_price(d) for d in data}
            for metric in metrics:
                price = prices.get(metric.symbol)
                if price is None:
                    log.warning("no price for %s; left out of market metrics", metric.symbol)
                    continue
                try:
                    trend = self._trend(metric.symbol, mapping.trend_vol(metric))
                    out[metric.symbol] = mapping.underlying_info(metric, price, today, trend)
                except BrokerPayloadError as exc:
                    log.error("%s (skipped)", exc)
        return out

    async def _want_candles(self, symbols: list[str]) -> None:
        """Stream daily candles for these tickers and give a first snapshot a moment."""
        if self._stream is None or not symbols:
            return
        since = self._clock.now() - timedelta(days=CANDLE_HISTORY_DAYS)
        await self._stream.add_candles(symbols, since)
        first = [s for s in symbols if s not in self._candles_awaited]
        if first and self._stream_wait_s > 0 and self._stream.health is StreamHealth.CONNECTED:
            await self._wait(lambda: all(self._has_history(s) for s in first),
                             self._stream_wait_s)
            self._candles_awaited.update(first)

    def _has_history(self, symbol: str) -> bool:
        return symbol in self._candles_done or len(self._candles.get(symbol, ())) >= SLOW_DAYS

    def _trend(self, symbol: str, vol: float) -> float:
        """The trend signal from the daily candles received so far (0 without any)."""
        candles = self._candles.get(symbol)
        if not candles:
            return 0.0
        closes = [candles[t] for t in sorted(candles)]
        return trend_signal(closes[-SLOW_DAYS:], vol)

    # ------------------------------------------------------------------ chains
    async def nested_chain(self, symbol: str) -> tuple[str, Any]:
        """The SDK's nested chain for ``symbol``, fetched at most once a minute.

        A scan reads the listing (:meth:`expirations`) and then the chain for the same symbol;
        the listing changes a few times a day at most, so both share one request.
        """
        from tastytrade.instruments import NestedOptionChain

        if not symbol or not symbol.strip():
            raise ValueError("symbol: must not be empty")
        symbol = symbol.strip().upper()
        cached = self._nested.get(symbol)
        if cached is not None and time.monotonic() - cached[0] < NESTED_CHAIN_TTL_S:
            return symbol, cached[1]
        session = self._rest.session
        nested = await self._rest.read("option chain",
                                       lambda: NestedOptionChain.get(session, symbol))
        self._nested[symbol] = (time.monotonic(), nested)
        return symbol, nested

    async def expirations(self, symbol: str) -> list[Expiration]:
        symbol, nested = await self.nested_chain(symbol)
        return mapping.expirations(nested, symbol, self._clock.today())

    async def option_chain(self, symbol: str, min_dte: int = 0, max_dte: int = 400) -> OptionChain:
        if min_dte < 0 or max_dte < min_dte:
            raise ValueError(f"min_dte/max_dte: need 0 <= min_dte <= max_dte, got "
                             f"{min_dte}, {max_dte}")
        symbol, nested = await self.nested_chain(symbol)
        info = (await self.market_metrics([symbol])).get(symbol)
        if info is None:
            raise BrokerUnavailable(f"option chain {symbol}: no underlying price available")
        chain = self._build(nested, info, min_dte, max_dte)
        # Greeks and open interest exist only on the DXLink stream: stream the strikes near the
        # money in the window (not the whole chain) and give the first events a moment.
        wanted = _near_money(chain, CHAIN_STREAM_BAND)
        missing = [sym for sym in wanted if sym not in self._greeks or sym not in self._quotes
                   or sym not in self._open_interest]
        if missing and self._stream is not None and self._stream_wait_s > 0:
            await self.subscribe(missing)
            started = asyncio.get_running_loop().time()
            await self._wait(lambda: self._share(missing, self._greeks, self._quotes)
                             >= CHAIN_READY_SHARE, self._stream_wait_s)
            left = self._stream_wait_s - (asyncio.get_running_loop().time() - started)
            await self._wait(lambda: self._share(missing, self._open_interest)
                             >= CHAIN_READY_SHARE, min(SUMMARY_GRACE_S, max(0.0, left)))
            chain = self._build(nested, info, min_dte, max_dte)
        return chain

    @staticmethod
    def _share(symbols: list[str], *caches: dict[str, Any]) -> float:
        have = sum(1 for sym in symbols if all(sym in cache for cache in caches))
        return have / len(symbols)

    def _build(self, nested: Any, info: UnderlyingInfo, min_dte: int, max_dte: int) -> OptionChain:
        return mapping.option_chain(nested, info, self._clock.today(), min_dte, max_dte,
                                    self._quotes, self._greeks, self._clock.now(),
                                    self._open_interest)

    # ------------------------------------------------------------------ trading rules
    async def trading_rules(self, symbol: str) -> TradingRules:
        """Tick tables from the underlying's instrument (``option-tick-sizes`` for single-leg
        orders; ``spread-tick-sizes`` when published, else pennies for spreads), cached.

        When the instrument read fails, the option chain's own ``tick-sizes`` stand in for the
        single-leg table (not cached, so the next call tries the instrument again); when the
        chain cannot be read either (an unknown symbol, an outage) the instrument's error is
        raised.
        """
        if not symbol or not symbol.strip():
            raise ValueError("symbol: must not be empty")
        symbol = symbol.strip().upper()
        cached = self._rules.get(symbol)
        if cached is not None:
            return cached
        if self._rules_model is None:
            self._rules_model = equity_rules_model()
        model, session = self._rules_model, self._rest.session
        try:
            equity = await self._rest.read("instrument", lambda: model.get(session, symbol))
        except LoginRequired:
            raise
        except TastytradeAdapterError as exc:
            log.warning("trading rules %s: %s; using the option chain's tick sizes", symbol, exc)
            try:
                return await self._rules_from_chain(symbol)
            except LoginRequired:
                raise
            except TastytradeAdapterError:
                raise TastytradeAdapterError(f"trading rules {symbol}: {exc}") from None
        option_ticks = mapping.tick_table(equity.option_tick_sizes)
        if option_ticks is None:  # no table on the instrument: the chain publishes one
            return await self._rules_from_chain(symbol)
        rules = TradingRules(symbol, option_ticks=option_ticks)
        spread_ticks = mapping.tick_table(equity.spread_tick_sizes)
        if spread_ticks is not None:
            rules = TradingRules(symbol, option_ticks=option_ticks, spread_ticks=spread_ticks)
        self._rules[symbol] = rules
        return rules

    async def _rules_from_chain(self, symbol: str) -> TradingRules:
        _symbol, nested = await self.nested_chain(symbol)
        chain = mapping.standard_chain(nested, symbol)
        table = mapping.tick_table(chain.tick_sizes)
        multiplier = int(getattr(chain, "shares_per_contract", 100) or 100)
        if table is None:
            return TradingRules(symbol, multiplier=multiplier)
        return TradingRules(symbol, option_ticks=table, multiplier=multiplier)

    # ------------------------------------------------------------------ stream input
    def _on_quote(self, event: Any) -> None:
        try:
            quote = mapping.quote(event, self._clock.now())
        except (ArithmeticError, TypeError, ValueError) as exc:
            log.debug("quote for %s skipped: %s", getattr(event, "event_symbol", "?"), exc)
            return
        self._quotes[quote.symbol] = quote
        self._bus.publish(QuoteReceived(quote))

    def _on_greeks(self, event: Any) -> None:
        try:
            greeks = mapping.greeks(event, self._clock.now())
        except (ArithmeticError, TypeError, ValueError) as exc:
            log.debug("greeks for %s skipped: %s", getattr(event, "event_symbol", "?"), exc)
            return
        self._greeks[greeks.symbol] = greeks
        self._bus.publish(GreeksReceived(greeks))

    def _on_summary(self, event: Any) -> None:
        value = getattr(event, "open_interest", None)
        if value is None or value < 0:
            return
        self._open_interest[event.event_symbol] = int(value)

    def _on_candle(self, event: Any) -> None:
        symbol = str(event.event_symbol).split("{", 1)[0]
        flags = int(getattr(event, "event_flags", 0) or 0)
        series = self._candles.setdefault(symbol, {})
        if flags & _REMOVE_EVENT:
            series.pop(int(event.time), None)
        elif event.close is not None and event.close > 0:
            series[int(event.time)] = float(event.close)
        if flags & (_SNAPSHOT_END | _SNAPSHOT_SNIP):
            self._candles_done.add(symbol)


def _near_money(chain: OptionChain, band: float) -> list[str]:
    spot = float(chain.underlying.price)
    out = []
    for exp in chain.expirations:
        for strike in exp.strikes:
            if abs(float(strike.price) - spot) <= band * spot:
                out.extend((strike.call.streamer_symbol, strike.put.streamer_symbol))
    return out

