"""Daily history of the paper market: closes (for settlement), recent closes (for the trend and
strike grids) and the 30-day IV index per day (for IV rank).

A new market starts with a year of synthetic history from its own seeded stream, so IV rank and
trend mean something on the first day.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import date, timedelta
from typing import Any

import numpy as np

from tastydesk.engine.broker.paper.model import (
    TRADING_DAYS,
    Profile,
    UnderlyingModel,
    intraday_tau,
)
from tastydesk.engine.domain.trend import SLOW_DAYS, trend_signal

HISTORY_DAYS = 260
RECENT_DAYS = 50
# Closes are kept for settlement: longer than any listed expiry can stay open.
KEEP_CLOSES_DAYS = 420


class PriceHistory:
    """Per underlying: closes by day, the latest closes and the IV index history."""

    def __init__(self, count: int) -> None:
        self.closes: list[dict[date, float]] = [{} for _ in range(count)]
        self.recent: list[deque[float]] = [deque(maxlen=RECENT_DAYS) for _ in range(count)]
        self.iv_hist: list[deque[float]] = [deque(maxlen=TRADING_DAYS) for _ in range(count)]
        self.dirty = True  # changed since the last save

    def backfill(self, days: list[date], profiles: list[Profile], rate: float, seed: int,
                 log_spot: list[float]) -> list[float]:
        """Synthetic history over ``days`` ending at today's prices; returns the volatility
        factors the live model continues from."""
        hist = UnderlyingModel(profiles, rate, np.random.default_rng([seed, 1]))
        session_tau = intraday_tau(6.5 * 3600)
        no_earnings = [0.0] * hist.n
        logs, ivs = [], []
        for _ in days:
            hist.gap(no_earnings)
            hist.advance(session_tau)
            logs.append(list(hist.log_spot))
            ivs.append([hist.implied_atm(i) for i in range(hist.n)])
        for i in range(hist.n):
            shift = log_spot[i] - logs[-1][i]
            closes = [math.exp(row[i] + shift) for row in logs]
            self.closes[i].update(zip(days, closes, strict=True))
            self.recent[i].extend(closes[-RECENT_DAYS:])
            self.iv_hist[i].extend(row[i] for row in ivs[-TRADING_DAYS:])
        return list(hist.vol_factor)

    def record_close(self, day: date, spots: list[float], ivs: list[float]) -> None:
        cutoff = day - timedelta(days=KEEP_CLOSES_DAYS)
        for i, (spot, iv) in enumerate(zip(spots, ivs, strict=True)):
            closes = self.closes[i]
            closes[day] = spot
            while (oldest := next(iter(closes))) < cutoff:
                del closes[oldest]
            self.recent[i].append(spot)
            self.iv_hist[i].append(iv)
        self.dirty = True

    def close_on(self, i: int, day: date) -> float | None:
        return self.closes[i].get(day)

    def last_close(self, i: int) -> float:
        return self.recent[i][-1]

    def last_iv(self, i: int) -> float:
        return self.iv_hist[i][-1]

    def iv_rank(self, i: int, iv: float) -> float:
        """Where ``iv`` sits in the trailing year's range, 0..100."""
        hist = self.iv_hist[i]
        lo, hi = min(min(hist), iv), max(max(hist), iv)
        return 0.0 if hi <= lo else (iv - lo) / (hi - lo) * 100.0

    def trend(self, i: int, spot: float, vol: float) -> float:
        """Signed strength in -1..1 of the 20-day over the 50-day moving average: the shared
        formula (:func:`~tastydesk.engine.domain.trend.trend_signal`), as live."""
        recent = list(self.recent[i])[-(SLOW_DAYS - 1):]
        return trend_signal([*recent, spot], vol)

    # -- durable state ---------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "closes": [{d.isoformat(): v for d, v in c.items()} for c in self.closes],
            "recent": [list(r) for r in self.recent],
            "iv_hist": [list(h) for h in self.iv_hist],
        }

    @staticmethod
    def parse(body: dict[str, Any], count: int) -> PriceHistory:
        """A history from :meth:`state`; KeyError/TypeError/ValueError when malformed."""
        closes = [{date.fromisoformat(d): float(v) for d, v in c.items()} for c in body["closes"]]
        recent = [[float(x) for x in r] for r in body["recent"]]
        iv_hist = [[float(x) for x in h] for h in body["iv_hist"]]
        if {len(closes), len(recent), len(iv_hist)} != {count}:
            raise ValueError(f"state: per-symbol lists must all hold {count} entries")
        history = PriceHistory(count)
        history.closes = closes
        history.recent = [deque(r, maxlen=RECENT_DAYS) for r in recent]
        history.iv_hist = [deque(h, maxlen=TRADING_DAYS) for h in iv_hist]
        history.dirty = False
        return history
