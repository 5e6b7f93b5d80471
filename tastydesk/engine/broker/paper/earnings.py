"""Earnings reports of the paper market's single names: when they fall and which are priced in.

Each company reports every 91 days from a stable per-symbol anchor (moved to the next trading
day), after the close; ETFs never report. A report is *pending* until the first open after it,
when the market releases its surprise as a gap; until then its variance is part of every
option that expires after it.
"""

from __future__ import annotations

from datetime import date, timedelta

from tastydesk.engine.broker.paper.model import Profile, stable_unit
from tastydesk.engine.clock import MarketCalendar

EARNINGS_EVERY = 91
EARNINGS_ANCHOR = date(2024, 1, 22)
_MAX_CACHE = 50_000


class EarningsBook:
    """Report dates per underlying and the day up to which reports are in the price."""

    def __init__(self, profiles: list[Profile], calendar: MarketCalendar,
                 released_from: date) -> None:
        self._profiles = profiles
        self._calendar = calendar
        self._anchor = [
            EARNINGS_ANCHOR + timedelta(days=int(stable_unit(f"earn:{p.symbol}") * EARNINGS_EVERY))
            for p in profiles
        ]
        self._cache: dict[tuple[int, date], date | None] = {}
        self.released_from = released_from

    def release(self, day: date) -> None:
        """Every report before ``day``'s open is now in the price."""
        self.released_from = day

    def on_or_after(self, i: int, day: date) -> date | None:
        """The first report of underlying ``i`` on or after ``day`` (None for ETFs)."""
        cached = self._cache.get((i, day), day)
        if cached is not day:
            return cached
        found = None
        p = self._profiles[i]
        if not p.etf and p.earnings_move > 0:
            anchor = self._anchor[i]
            k = max(0, (day - anchor).days // EARNINGS_EVERY - 1)
            while found is None:
                d = anchor + timedelta(days=EARNINGS_EVERY * k)
                while not self._calendar.is_trading_day(d):
                    d += timedelta(days=1)
                if d >= day:
                    found = d
                k += 1
        if len(self._cache) > _MAX_CACHE:
            self._cache.clear()
        self._cache[(i, day)] = found
        return found

    def pending(self, i: int) -> date | None:
        """The next report not yet in the price (reports come after the close)."""
        return self.on_or_after(i, self.released_from)

    def moves(self, open_day: date) -> list[float]:
        """Per underlying, the surprise size to release at ``open_day``'s open (0: none)."""
        moves = [0.0] * len(self._profiles)
        for i, p in enumerate(self._profiles):
            if p.etf or p.earnings_move <= 0:
                continue
            report = self.on_or_after(i, self.released_from)
            if report is not None and report < open_day:
                moves[i] = p.earnings_move
        return moves

    def event_var(self, i: int, expiry: date) -> float:
        """Variance a pending report adds to options of underlying ``i`` expiring on ``expiry``."""
        report = self.pending(i)
        if report is None or expiry <= report:
            return 0.0
        return self._profiles[i].earnings_move ** 2
