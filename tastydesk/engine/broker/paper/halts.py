"""Trading halts on the paper market: rare seeded ones and explicit ones.

Seeded halts model single-stock volatility pauses (limit up-limit down) and news-pending halts:
on about one trading day in 250 per single name (never an ETF), a halt of 5 to 30 minutes starts
at a stable pseudo-random minute of the session. Which days and minutes is fixed by the seed and
the symbol, so a run is reproducible. Scenarios (and tests) halt a symbol explicitly with
:meth:`HaltBook.halt` and resume it with :meth:`HaltBook.resume`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from tastydesk.engine.broker.paper.model import Profile, stable_unit
from tastydesk.engine.clock import NEW_YORK, MarketCalendar

HALT_DAYS_PER_YEAR = 1.0  # per single name
_TRADING_DAYS = 252
_LONGEST_MINUTES = 30
_SHORTEST_MINUTES = 5


class HaltBook:
    """Which symbols are halted when; queries are pure."""

    def __init__(self, profiles: list[Profile], calendar: MarketCalendar, seed: int,
                 halts_per_year: float = HALT_DAYS_PER_YEAR) -> None:
        if halts_per_year < 0:
            raise ValueError(f"halts_per_year: must not be negative, got {halts_per_year}")
        self._etf = {p.symbol: p.etf for p in profiles}
        self._calendar = calendar
        self._seed = seed
        self._chance = halts_per_year / _TRADING_DAYS
        self._explicit: dict[str, datetime | None] = {}  # symbol -> until (None: until resumed)
        self._seeded: dict[tuple[str, date], tuple[datetime, datetime] | None] = {}

    def halt(self, symbol: str, until: datetime | None = None) -> None:
        """Halt ``symbol`` now, until ``until`` (or until :meth:`resume`)."""
        if until is not None and until.tzinfo is None:
            raise ValueError(f"until: must be timezone-aware, got {until!r}")
        self._explicit[symbol] = until

    def resume(self, symbol: str) -> None:
        self._explicit.pop(symbol, None)

    def is_halted(self, symbol: str, at: datetime) -> bool:
        if symbol in self._explicit:
            until = self._explicit[symbol]
            if until is None or at < until:
                return True
        window = self.seeded_halt(symbol, at.astimezone(NEW_YORK).date())
        return window is not None and window[0] <= at < window[1]

    def seeded_halt(self, symbol: str, day: date) -> tuple[datetime, datetime] | None:
        """The seeded halt of ``symbol`` on ``day`` as (start, end), or None (most days)."""
        key = (symbol, day)
        if key in self._seeded:
            return self._seeded[key]
        window = None
        if (not self._etf.get(symbol, False) and self._chance > 0
                and self._calendar.is_trading_day(day)
                and stable_unit(f"{self._seed}:halt:{symbol}:{day.isoformat()}") < self._chance):
            opening = self._calendar.session_open(day)
            minutes = int((self._calendar.session_close(day) - opening).total_seconds() // 60)
            u = stable_unit(f"{self._seed}:halt-at:{symbol}:{day.isoformat()}")
            length = _SHORTEST_MINUTES + int(u * 1000) % (_LONGEST_MINUTES - _SHORTEST_MINUTES + 1)
            start = opening + timedelta(minutes=int(u * max(minutes - length, 1)))
            window = (start, start + timedelta(minutes=length))
        if len(self._seeded) > 20_000:
            self._seeded.clear()
        self._seeded[key] = window
        return window
