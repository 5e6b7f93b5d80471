"""The session gate: an exit decided while the market is closed waits for the next open.

Why: a DAY order sent outside the regular session is refused by tastytrade (and by the paper
broker), and one sent in the session's last moments dies at the close before it can work. So a
rule (or the trader) that acts then has its order queued for the next open, and says so. Early
closes (13:00 New York) come from the exchange calendar.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tastydesk.engine.clock import NEW_YORK, MarketCalendar

#: An order needs at least this long before the close to work; later it waits for the open.
LAST_MOMENT = timedelta(seconds=60)


def next_session_open(calendar: MarketCalendar, now: datetime) -> datetime:
    """The open of the next session: tomorrow's (or later) while a session runs, else the next."""
    if calendar.is_open(now):
        return calendar.next_open(calendar.next_close(now))
    return calendar.next_open(now)


def queued_until(calendar: MarketCalendar, now: datetime,
                 margin: timedelta = LAST_MOMENT) -> datetime | None:
    """None when an order sent now can work in this session; else the open it must wait for."""
    if calendar.is_open(now):
        close = calendar.next_close(now)
        if close - now >= margin:
            return None
    return next_session_open(calendar, now)


def queued_message(what: str, calendar: MarketCalendar, now: datetime, opening: datetime) -> str:
    """The one line the timeline and the alert show: "market closed: stop loss queued for the
    open at 09:30 ET (Tue 2026-01-06)"."""
    local = opening.astimezone(NEW_YORK)
    if calendar.is_open(now):
        close = calendar.next_close(now).astimezone(NEW_YORK)
        state = f"market closing at {close:%H:%M} ET"
    else:
        state = "market closed"
    return f"{state}: {what} queued for the open at {local:%H:%M} ET ({local:%a %Y-%m-%d})"
