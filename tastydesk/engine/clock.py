"""Clocks used by the whole engine, and the exchange calendar.

Three kinds: real time (speed 1), accelerated real time (speed > 1: simulated time runs ``speed``
times faster than the wall clock) and stepped (time moves only when :meth:`SimClock.advance` is
called, as fast as the host can go). Engine code asks the clock for ``now()`` and schedules timers
with ``call_at``/``call_later``; it never sleeps on wall time, so one code path serves live trading
and a year-long simulation.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
MARKET_OPEN = dtime(9, 30)
MARKET_CLOSE = dtime(16, 0)


class TimerHandle:
    __slots__ = ("_cancelled", "_inner")

    def __init__(self) -> None:
        self._cancelled = False
        self._inner: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        self._cancelled = True
        if self._inner is not None:
            self._inner.cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancelled


class Clock(ABC):
    """Base clock. ``now()`` is timezone-aware UTC."""

    speed: float = 1.0

    @abstractmethod
    def now(self) -> datetime: ...

    @abstractmethod
    def call_at(self, when: datetime, callback: Callable[[], None]) -> TimerHandle: ...

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle:
        return self.call_at(self.now() + timedelta(seconds=seconds), callback)

    @abstractmethod
    def set_speed(self, speed: float) -> None:
        """How many simulated seconds pass per real second (1 for live trading)."""

    def today(self) -> date:
        return self.now().astimezone(NEW_YORK).date()


class RealClock(Clock):
    """Wall-clock time, optionally accelerated from a start instant."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        self.speed = speed
        self._origin_sim = start or datetime.now(UTC)
        self._origin_wall = time.monotonic()

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._origin_wall) * self.speed
        return self._origin_sim + timedelta(seconds=elapsed)

    def set_speed(self, speed: float) -> None:
        self._origin_sim = self.now()
        self._origin_wall = time.monotonic()
        self.speed = speed

    def call_at(self, when: datetime, callback: Callable[[], None]) -> TimerHandle:
        handle = TimerHandle()
        delay = max(0.0, (when - self.now()).total_seconds() / self.speed)
        loop = asyncio.get_running_loop()

        def fire() -> None:
            if not handle.cancelled:
                callback()

        handle._inner = loop.call_later(delay, fire)
        return handle


class SimClock(Clock):
    """Stepped simulated time: timers fire, in order, only inside :meth:`advance`."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._timers: list[tuple[datetime, int, TimerHandle, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.speed = float("inf")

    def now(self) -> datetime:
        return self._now

    def call_at(self, when: datetime, callback: Callable[[], None]) -> TimerHandle:
        handle = TimerHandle()
        heapq.heappush(self._timers, (max(when, self._now), next(self._seq), handle, callback))
        return handle

    def set_speed(self, speed: float) -> None:
        """Target speed for whoever drives this clock (the paper driver reads it)."""
        self.speed = speed

    def next_timer(self) -> datetime | None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def advance(self, to: datetime) -> int:
        """Move time to ``to``, firing due timers in time order; returns how many fired."""
        fired = 0
        while self._timers and self._timers[0][0] <= to:
            when, _, handle, callback = heapq.heappop(self._timers)
            if handle.cancelled:
                continue
            self._now = max(self._now, when)
            callback()
            fired += 1
        self._now = max(self._now, to)
        return fired


class MarketCalendar:
    """US equity market sessions: weekdays 9:30-16:00 New York, minus exchange holidays, with
    early closes (13:00 on the day after Thanksgiving, Christmas Eve, some July 3rds).

    Built from plain data (holidays and early-close times) so it answers without pandas; the
    exchange calendar behind that data comes from :func:`load_nyse_holidays` and
    :func:`load_nyse_early_closes` (pandas_market_calendars, installed with the SDK), or
    :meth:`nyse` for both at once. Session bounds are kept per day once computed.
    """

    def __init__(self, holidays: Iterable[date] = (),
                 early_closes: Mapping[date, dtime] | None = None) -> None:
        self._holidays = frozenset(holidays)
        self._early = dict(early_closes or {})
        self._bounds: dict[date, tuple[datetime, datetime]] = {}

    @classmethod
    def nyse(cls, start_year: int, end_year: int) -> MarketCalendar:
        """The NYSE calendar for these years (imports pandas: keep it off the start-up path)."""
        return cls(load_nyse_holidays(start_year, end_year),
                   load_nyse_early_closes(start_year, end_year))

    @property
    def early_closes(self) -> dict[date, dtime]:
        """Days that close before 16:00, with their close time (New York)."""
        return dict(self._early)

    def is_trading_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    def close_time(self, day: date) -> dtime:
        """The session's close on ``day`` (New York wall time): 16:00 or an early close."""
        return self._early.get(day, MARKET_CLOSE)

    def session(self, day: date) -> tuple[datetime, datetime] | None:
        """Open and close of ``day``'s regular session (UTC), or None when closed all day."""
        if not self.is_trading_day(day):
            return None
        bounds = self._bounds.get(day)
        if bounds is None:
            bounds = (datetime.combine(day, MARKET_OPEN, NEW_YORK).astimezone(UTC),
                      datetime.combine(day, self.close_time(day), NEW_YORK).astimezone(UTC))
            if len(self._bounds) > 4096:
                self._bounds.clear()
            self._bounds[day] = bounds
        return bounds

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(NEW_YORK)
        day = local.date()
        return (self.is_trading_day(day)
                and MARKET_OPEN <= local.time() < self._early.get(day, MARKET_CLOSE))

    def session_close(self, day: date) -> datetime:
        return datetime.combine(day, self.close_time(day), NEW_YORK).astimezone(UTC)

    def session_open(self, day: date) -> datetime:
        return datetime.combine(day, MARKET_OPEN, NEW_YORK).astimezone(UTC)

    def next_open(self, at: datetime) -> datetime:
        """The next session open at or after ``at`` (``at`` itself when the market is open)."""
        if self.is_open(at):
            return at
        day = at.astimezone(NEW_YORK).date()
        while True:
            if self.is_trading_day(day):
                opening = self.session_open(day)
                if opening >= at:
                    return opening
            day += timedelta(days=1)

    def next_close(self, at: datetime) -> datetime:
        """The first session close after ``at`` (today's while open or before the open)."""
        day = at.astimezone(NEW_YORK).date()
        while True:
            if self.is_trading_day(day):
                closing = self.session_close(day)
                if closing > at:
                    return closing
            day += timedelta(days=1)

    def trading_days(self, start: date, end: date) -> list[date]:
        out = []
        day = start
        while day <= end:
            if self.is_trading_day(day):
                out.append(day)
            day += timedelta(days=1)
        return out

    def third_friday(self, year: int, month: int) -> date:
        """Monthly equity option expiration (moved to Thursday when Friday is a holiday)."""
        day = date(year, month, 15)
        while day.weekday() != 4:
            day += timedelta(days=1)
        while not self.is_trading_day(day):
            day -= timedelta(days=1)
        return day


def load_nyse_holidays(start_year: int, end_year: int) -> list[date]:
    """NYSE full-day holidays from pandas_market_calendars (shipped with the tastytrade SDK).

    Slow to import (pandas), so call it off the start-up path and pass the result to
    :class:`MarketCalendar`.
    """
    import pandas_market_calendars as mcal

    cal = mcal.get_calendar("NYSE")
    days = cal.holidays().holidays
    out = []
    for d in days:
        py = d.astype("datetime64[D]").astype(object)
        if start_year <= py.year <= end_year:
            out.append(py)
    return out


def load_nyse_early_closes(start_year: int, end_year: int) -> dict[date, dtime]:
    """NYSE early closes (New York close time per day) from pandas_market_calendars' schedule.

    Slow to import (pandas), like :func:`load_nyse_holidays`; call it off the start-up path.
    """
    import pandas_market_calendars as mcal

    cal = mcal.get_calendar("NYSE")
    schedule = cal.schedule(f"{start_year}-01-01", f"{end_year}-12-31")
    out: dict[date, dtime] = {}
    for day, close in zip(schedule.index, schedule["market_close"], strict=True):
        local = close.to_pydatetime().astimezone(NEW_YORK)
        if local.time() < MARKET_CLOSE:
            out[day.date()] = local.time().replace(tzinfo=None)
    return out
