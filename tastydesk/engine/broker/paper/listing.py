"""Which option series the paper market lists: expiration dates and strike grids.

Weeklies expire on the last trading day of each week (Friday, or Thursday when Friday is a
holiday); monthlies on the third Friday (moved the same way, by the calendar). Strikes sit on the
increments real chains use: fine near the money, coarser further out and for far expiries.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np

from tastydesk.engine.clock import MarketCalendar

MAX_DTE = 400
_LADDER = (0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0)
_MAX_INNER = 80  # strikes in the fine band around the money
_MAX_OUTER = 60  # strikes in the coarse wings


def is_expiration_day(calendar: MarketCalendar, day: date) -> bool:
    """True on the last trading day of a Monday-Friday week (where weeklies expire)."""
    if day.weekday() > 4 or not calendar.is_trading_day(day):
        return False
    friday = day + timedelta(days=4 - day.weekday())
    probe = day + timedelta(days=1)
    while probe <= friday:
        if calendar.is_trading_day(probe):
            return False
        probe += timedelta(days=1)
    return True


def expiration_days(calendar: MarketCalendar, since: date, until: date) -> list[date]:
    """Every weekly expiration day in ``[since, until]``."""
    out = []
    day = since
    while day <= until:
        if is_expiration_day(calendar, day):
            out.append(day)
        day += timedelta(days=1)
    return out


def listed_expirations(calendar: MarketCalendar, today: date, weeklies: int
                       ) -> list[tuple[date, bool]]:
    """``(date, monthly)`` ascending: the next ``weeklies`` weeks plus monthlies to ~13 months."""
    monthly = set()
    year, month = today.year, today.month
    for _ in range(15):
        third = calendar.third_friday(year, month)
        if today <= third and (third - today).days <= MAX_DTE:
            monthly.add(third)
        month += 1
        if month > 12:
            year, month = year + 1, 1
    weekly = expiration_days(calendar, today, today + timedelta(weeks=weeklies) - timedelta(days=1))
    return [(d, d in monthly) for d in sorted(set(weekly) | monthly)]


def _rung(increment: float, count: float, limit: int) -> float:
    i = _LADDER.index(increment) if increment in _LADDER else 0
    while count / _LADDER[i] > limit and i + 1 < len(_LADDER):
        i += 1
    return _LADDER[i]


def base_increment(price: float, liquidity: int, penny_etf: bool) -> float:
    """The near-the-money strike spacing real chains use at this price."""
    if price < 25:
        return 0.5
    if penny_etf:
        return 1.0
    if liquidity >= 4:
        return 1.0 if price < 200 else (2.5 if price < 500 else 5.0)
    return 1.0 if price < 100 else (2.5 if price < 250 else 5.0)


def strike_grid(price: float, vol: float, t: float, liquidity: int, penny_etf: bool
                ) -> np.ndarray:
    """Ascending strikes for one expiration, centred on ``price``.

    A fine band covers about +-1.5 standard deviations (at least 4 %, at most 15 % of price);
    coarser wings reach about +-4 standard deviations (at least 10 %, at most 40 %).
    """
    stddev = vol * math.sqrt(max(t, 1.0 / 365.0))
    inner = price * min(max(1.5 * stddev, 0.04), 0.15)
    outer = price * min(max(4.0 * stddev, 0.10), 0.40)
    fine = _rung(base_increment(price, liquidity, penny_etf), 2 * inner, _MAX_INNER)
    coarse = _rung(_LADDER[min(_LADDER.index(fine) + 1, len(_LADDER) - 1)], 2 * outer, _MAX_OUTER)
    lo_fine = math.ceil((price - inner) / fine) * fine
    hi_fine = math.floor((price + inner) / fine) * fine
    lo = math.floor((price - outer) / coarse) * coarse
    hi = math.ceil((price + outer) / coarse) * coarse
    below = np.arange(lo, lo_fine - 1e-9, coarse)
    band = np.arange(lo_fine, hi_fine + fine / 2, fine)
    first_above = (math.floor(hi_fine / coarse) + 1) * coarse
    above = np.arange(first_above, hi + coarse / 2, coarse)
    strikes = np.round(np.concatenate([below, band, above]), 2)
    return np.unique(strikes[strikes > 0])
