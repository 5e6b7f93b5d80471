"""Dividends of the paper market's underlyings: quarterly ex-dates and amounts per share.

A payer (a profile with a dividend yield) goes ex four times a year: SPY, QQQ and IWM on the
third Friday of March, June, September and December, like the real ETFs; every other payer on a
stable per-symbol day in a stable month of each quarter (moved to the next trading day). The
amount is a quarter of the yield on the profile's reference price, in cents, the same every
quarter. Non-payers have no ex-dates.

Prices carry dividends as a continuous yield (the forward and the options' values already
discount them); the account books the discrete payment on shares held at the ex-date.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from tastydesk.engine.broker.paper.model import Profile, stable_unit
from tastydesk.engine.clock import MarketCalendar

_THIRD_FRIDAY = frozenset({"SPY", "QQQ", "IWM"})
_CENT = Decimal("0.01")


class DividendSchedule:
    """Ex-dividend dates and amounts per underlying; queries are pure."""

    def __init__(self, profiles: list[Profile], calendar: MarketCalendar) -> None:
        self._calendar = calendar
        self._amounts = {
            p.symbol: Decimal(str(p.price * p.dividend_yield / 4)).quantize(_CENT, ROUND_HALF_EVEN)
            for p in profiles
        }
        self._cache: dict[tuple[str, int, int], date] = {}

    def amount(self, symbol: str) -> Decimal:
        """Dividend per share of ``symbol`` (0 for non-payers and unknown symbols)."""
        return self._amounts.get(symbol, Decimal(0))

    def _ex_date(self, symbol: str, year: int, quarter: int) -> date:
        key = (symbol, year, quarter)
        found = self._cache.get(key)
        if found is None:
            first_month = 3 * quarter + 1
            if symbol in _THIRD_FRIDAY:
                found = self._calendar.third_friday(year, first_month + 2)
            else:
                month = first_month + int(stable_unit(f"div-month:{symbol}") * 3)
                day = date(year, month, 1 + int(stable_unit(f"div-day:{symbol}") * 27))
                while not self._calendar.is_trading_day(day):
                    day += timedelta(days=1)
                found = day
            self._cache[key] = found
        return found

    def next_ex_date(self, symbol: str, on_or_after: date) -> date | None:
        """The first ex-date of ``symbol`` on or after ``on_or_after`` (None: not a payer)."""
        if self.amount(symbol) <= 0:
            return None
        year, quarter = on_or_after.year, (on_or_after.month - 1) // 3
        for _ in range(3):
            found = self._ex_date(symbol, year, quarter)
            if found >= on_or_after:
                return found
            quarter += 1
            if quarter == 4:
                year, quarter = year + 1, 0
        return None

    def ex_dates_between(self, symbol: str, after: date, until: date) -> list[date]:
        """Ex-dates of ``symbol`` in ``(after, until]``, ascending."""
        out = []
        day = after + timedelta(days=1)
        while (found := self.next_ex_date(symbol, day)) is not None and found <= until:
            out.append(found)
            day = found + timedelta(days=1)
        return out
