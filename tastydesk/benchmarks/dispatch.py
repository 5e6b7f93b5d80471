"""Event dispatch through :class:`EventBus`: market quotes fanned out to a realistic handler set.

Three handlers sit on ``QuoteReceived`` as in the running app: a last-quote cache, a mark/P&L
watcher that only cares about held symbols, and a UI coalescer that keeps the newest quote per
symbol until the next repaint. Events cycle over a few hundred prebuilt quotes so the figure
measures dispatch, not event construction.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from tastydesk.benchmarks.timing import warm_up
from tastydesk.engine.bus import EventBus
from tastydesk.engine.domain.chain import Quote
from tastydesk.engine.domain.events import GreeksReceived, QuoteReceived

TARGET_EVENTS_PER_S = 1_000_000
EVENTS = 600_000
SYMBOLS = 400
ROUNDS = 3  # the median of three passes over the events


def _quotes() -> list[QuoteReceived]:
    at = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    out = []
    for i in range(SYMBOLS):
        bid = Decimal(100 + i) / 100
        out.append(QuoteReceived(Quote(f".SPY260220C{500 + i}", bid, bid + Decimal("0.05"), at)))
    return out


def _handlers() -> tuple[list[Callable[[QuoteReceived], None]], dict[str, Quote]]:
    last: dict[str, Quote] = {}
    held = {f".SPY260220C{500 + i}" for i in range(0, SYMBOLS, 40)}
    marks: dict[str, Decimal] = {}
    pending: dict[str, Quote] = {}

    def cache(event: QuoteReceived) -> None:
        last[event.quote.symbol] = event.quote

    def marker(event: QuoteReceived) -> None:
        q = event.quote
        if q.symbol in held:
            marks[q.symbol] = q.bid

    def coalesce(event: QuoteReceived) -> None:
        pending[event.quote.symbol] = event.quote

    return [cache, marker, coalesce], last


def bus_dispatch(events: int = EVENTS) -> dict[str, object]:
    """Publish ``events`` quotes to three QuoteReceived handlers and one unrelated subscriber."""
    bus = EventBus()
    handlers, last = _handlers()
    for handler in handlers:
        bus.subscribe(QuoteReceived, handler)
    bus.subscribe(GreeksReceived, lambda event: None)
    quotes = _quotes()
    batch = (quotes * (events // len(quotes) + 1))[:events]
    publish = bus.publish

    def run() -> float:
        start = time.perf_counter()
        for event in batch:
            publish(event)
        return time.perf_counter() - start

    warm_up(lambda: publish(batch[0]))
    elapsed = statistics.median(run() for _ in range(ROUNDS))
    if len(last) != min(events, SYMBOLS):
        raise RuntimeError(f"handlers saw {len(last)} symbols, expected {min(events, SYMBOLS)}")
    rate = events / elapsed
    return {
        "events": events,
        "handlers": len(handlers),
        "events_per_s": round(rate),
        "handler_calls_per_s": round(rate * len(handlers)),
        "target": TARGET_EVENTS_PER_S,
        "ok": rate >= TARGET_EVENTS_PER_S,
    }


BENCHMARKS = [("bus_dispatch", bus_dispatch)]
