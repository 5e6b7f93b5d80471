"""The bundled NYSE table equals what pandas_market_calendars computes for the same years."""

from __future__ import annotations

from tastydesk.engine.clock import load_nyse_early_closes, load_nyse_holidays
from tastydesk.engine.nyse_days import FIRST_YEAR, LAST_YEAR, nyse_days


def test_the_bundled_table_is_pandas_market_calendars() -> None:
    table = nyse_days(FIRST_YEAR, LAST_YEAR)
    assert table is not None
    days, early = table
    assert sorted(days) == sorted(load_nyse_holidays(FIRST_YEAR, LAST_YEAR))
    assert early == load_nyse_early_closes(FIRST_YEAR, LAST_YEAR)


def test_years_outside_the_table_are_not_answered() -> None:
    assert nyse_days(FIRST_YEAR - 1, FIRST_YEAR) is None
    assert nyse_days(LAST_YEAR, LAST_YEAR + 1) is None
    days, early = nyse_days(2026, 2026) or ([], {})
    assert days and all(d.year == 2026 for d in days) and all(d.year == 2026 for d in early)
