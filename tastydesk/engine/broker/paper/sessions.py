"""Trading sessions of the paper market as float timestamps, looked up once per day.

The market steps in epoch seconds; asking the calendar for datetimes on every step would cost
more than the step itself, so each day's open and close are computed once and kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tastydesk.engine.broker.paper.listing import expiration_days
from tastydesk.engine.clock import NEW_YORK, MarketCalendar


@dataclass(frozen=True, slots=True)
class Session:
    """One regular session: its New York day and its open and close as epoch seconds."""

    day: date
    open_ts: float
    close_ts: float


class SessionBook:
    """Sessions by day (None on a closed day), from the market calendar; see the module doc."""

    def __init__(self, calendar: MarketCalendar) -> None:
        self.calendar = calendar
        self._cache: dict[date, Session | None] = {}

    def of(self, day: date) -> Session | None:
        if day not in self._cache:
            if self.calendar.is_trading_day(day):
                self._cache[day] = Session(day, self.calendar.session_open(day).timestamp(),
                                           self.calendar.session_close(day).timestamp())
            else:
                self._cache[day] = None
        return self._cache[day]

    def first_after(self, ts: float) -> Session:
        """The session whose close is after ``ts`` (the current one while open)."""
        day = datetime.fromtimestamp(ts, NEW_YORK).date()
        while True:
            s = self.of(day)
            if s is not None and s.close_ts > ts:
                return s
            day += timedelta(days=1)

    def previous(self, day: date) -> Session:
        """The last session before ``day``."""
        day -= timedelta(days=1)
        while True:
            s = self.of(day)
            if s is not None:
                return s
            day -= timedelta(days=1)

    def following(self, session: Session) -> Session:
        """The first session after ``session``."""
        day = session.day + timedelta(days=1)
        while True:
            s = self.of(day)
            if s is not None:
                return s
            day += timedelta(days=1)

    def close_ts(self, day: date) -> float:
        """The close of ``day`` as epoch seconds (an expiry's last moment of trading)."""
        s = self.of(day)
        if s is not None:
            return s.close_ts
        return self.calendar.session_close(day).timestamp()

    def trading_days_until(self, last_day: date, count: int) -> list[date]:
        """The ``count`` trading days ending at ``last_day``, ascending."""
        days: list[date] = []
        day = last_day
        while len(days) < count:
            if self.calendar.is_trading_day(day):
                days.append(day)
            day -= timedelta(days=1)
        days.reverse()
        return days

    def elapsed_share(self, day: date, ts: float) -> float:
        """How much of ``day``'s session lies before ``ts``, 0..1 (1 on a closed day)."""
        s = self.of(day)
        if s is None:
            return 1.0
        return min(max((ts - s.open_ts) / (s.close_ts - s.open_ts), 0.0), 1.0)

    def expirations_closed(self, since: datetime, until: datetime) -> list[date]:
        """Weekly expiration days whose close lies in ``(since, until]``."""
        if until <= since:
            return []
        first = since.astimezone(NEW_YORK).date()
        last = until.astimezone(NEW_YORK).date()
        return [
            d for d in expiration_days(self.calendar, first, last)
            if since < self.calendar.session_close(d) <= until
        ]
