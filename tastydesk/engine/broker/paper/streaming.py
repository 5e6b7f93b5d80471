"""The paper market's quote feed: which symbols are subscribed and what a step publishes.

Like DXLink, a subscription to a symbol the market does not list is accepted and never produces
events; a new subscription gets a first quote at the next step even while the market is closed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from tastydesk.engine.broker.paper.pricing import OptionPricer
from tastydesk.engine.broker.paper.symbols import OptionKey, SymbolTable
from tastydesk.engine.bus import EventBus
from tastydesk.engine.domain.chain import Greeks, Quote
from tastydesk.engine.domain.events import GreeksReceived, QuoteReceived

log = logging.getLogger(__name__)


class QuoteStream:
    """Subscribed tickers and options; publishes ``QuoteReceived``/``GreeksReceived``."""

    def __init__(self, bus: EventBus, index: dict[str, int], symbols: SymbolTable,
                 pricer: OptionPricer) -> None:
        self._bus = bus
        self._index = index
        self._symbols = symbols
        self._pricer = pricer
        self._underlyings: dict[str, int] = {}
        self._options: dict[str, OptionKey] = {}
        self._fresh: set[str] = set()  # subscribed since the last publish

    def subscribe(self, symbols: Iterable[str]) -> None:
        for sym in symbols:
            if sym in self._index:
                self._underlyings[sym] = self._index[sym]
                self._fresh.add(sym)
                continue
            key = self._symbols.key(sym)
            if key is None:
                log.debug("paper market: no data for %r; subscription ignored", sym)
                continue
            self._options[sym] = key
            self._fresh.add(sym)

    def unsubscribe(self, symbols: Iterable[str]) -> None:
        for sym in symbols:
            self._underlyings.pop(sym, None)
            self._options.pop(sym, None)
            self._fresh.discard(sym)

    def option_symbols(self) -> frozenset[str]:
        """The option symbols subscribed now, as they were asked for."""
        return frozenset(self._options)

    @property
    def has_fresh(self) -> bool:
        return bool(self._fresh)

    def refresh_all(self) -> None:
        """Republish everything at the next step (prices jumped: a restore)."""
        self._fresh.update(self._underlyings)
        self._fresh.update(self._options)

    def publish(self, when: datetime, moved: bool, version: int, eff: float) -> None:
        """Everything when the market moved, else only first quotes of new subscriptions."""
        publish = self._bus.publish
        fresh = self._fresh
        pricer = self._pricer
        for sym, i in self._underlyings.items():
            if moved or sym in fresh:
                publish(QuoteReceived(pricer.underlying_quote(i, sym, when)))
        if moved:
            targets = list(self._options.items())
        else:
            targets = [(sym, key) for sym, key in self._options.items() if sym in fresh]
        if targets:
            numbers = pricer.price_batch([key for _, key in targets], version, eff)
            for sym, key in targets:
                _, bid, ask, size, vol, g = numbers[key.streamer]
                publish(QuoteReceived(Quote(sym, bid, ask, when, size, size)))
                publish(GreeksReceived(Greeks(sym, g.price, vol, g.delta, g.gamma, g.theta,
                                              g.vega, g.rho, when)))
        fresh.clear()
