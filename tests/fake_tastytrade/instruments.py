"""Per-symbol reference data of the fake: tick tables, beta, dividends, daily price history.

Tick tables follow the exchange convention tastytrade publishes on each equity instrument
(``option-tick-sizes``): penny-program classes $0.01 below $3 and $0.05 above, other classes
$0.05 below $3 and $0.10 above. Complex (spread) orders are priced in pennies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

PENNY = ({"value": "0.01", "threshold": "3.0"}, {"value": "0.05"})
NICKEL = ({"value": "0.05", "threshold": "3.0"}, {"value": "0.1"})
STOCK_TICKS = ({"value": "0.0001", "threshold": "1.0"}, {"value": "0.01"})
MAX_LEGS = 4


@dataclass(frozen=True, slots=True)
class Profile:
    description: str
    beta: str
    penny: bool
    etf: bool
    dividend: str | None  # per share, per payment
    ex_in_days: int | None  # next ex-dividend date, days from today
    drift: float  # daily log drift of the price history (its trend)


PROFILES = {
    "SPY": Profile("SPDR S&P 500 ETF TRUST", "1.0", True, True, "1.76", 14, 0.0020),
    "QQQ": Profile("INVESCO QQQ TRUST SERIES 1", "1.14", True, True, "0.72", 20, 0.0010),
    "AAPL": Profile("APPLE INC", "1.21", True, False, "0.26", 30, 0.0004),
    "TSLA": Profile("TESLA INC", "2.05", True, False, None, None, 0.0060),
    "TLT": Profile("ISHARES 20+ YEAR TREASURY BOND ETF", "-0.27", True, True, "0.31", 5,
                   -0.0015),
    "WDFC": Profile("WD-40 CO", "0.68", False, False, "0.94", 40, -0.0008),
}


def option_ticks(symbol: str) -> tuple[dict[str, str], ...]:
    profile = PROFILES.get(symbol)
    return PENNY if profile is None or profile.penny else NICKEL


def tick_for(table: tuple[dict[str, str], ...], price: Decimal) -> Decimal:
    """The tick a table assigns to ``price``: the first entry whose threshold is above it."""
    for entry in table:
        threshold = entry.get("threshold")
        if threshold is None or abs(price) < Decimal(threshold):
            return Decimal(entry["value"])
    return Decimal(table[-1]["value"])


def equity(symbol: str, instrument_id: int) -> dict[str, Any]:
    """``GET /instruments/equities/{symbol}`` as tastytrade sends it."""
    profile = PROFILES.get(symbol)
    description = profile.description if profile else symbol
    return {
        "id": instrument_id, "symbol": symbol, "instrument-type": "Equity",
        "cusip": f"{instrument_id:09d}", "short-description": description,
        "is-index": False, "listed-market": "ARCX" if profile and profile.etf else "XNAS",
        "description": description, "lendability": "Easy To Borrow", "borrow-rate": "0.0",
        "market-time-instrument-collection": "Equity", "is-closing-only": False,
        "is-options-closing-only": False, "active": True,
        "is-fractional-quantity-eligible": True, "is-illiquid": False,
        "is-etf": bool(profile and profile.etf), "streamer-symbol": symbol,
        "tick-sizes": list(STOCK_TICKS), "option-tick-sizes": list(option_ticks(symbol)),
    }


def dividend_fields(symbol: str, today: date) -> dict[str, Any]:
    """The dividend part of a market-metrics item: the latest ex-date (past, as tastytrade keeps
    it until the next is announced) and ``dividend-next-date`` for the coming one."""
    profile = PROFILES.get(symbol)
    if profile is None or profile.dividend is None or profile.ex_in_days is None:
        return {}
    coming = today + timedelta(days=profile.ex_in_days)
    past = coming - timedelta(days=91)
    return {"dividend-rate-per-share": profile.dividend,
            "annual-dividend-per-share": str(Decimal(profile.dividend) * 4),
            "dividend-ex-date": past.isoformat(), "dividend-next-date": coming.isoformat(),
            "dividend-pay-date": (past + timedelta(days=7)).isoformat(),
            "dividend-updated-at": datetime.combine(past, datetime.min.time(), UTC)
            .isoformat().replace("+00:00", "Z")}


def daily_closes(symbol: str, spot: Decimal, today: date, days: int = 150
                 ) -> list[tuple[date, float]]:
    """Deterministic weekday closes ending today at ``spot``: a drift (the trend) plus a small
    wiggle, oldest first."""
    profile = PROFILES.get(symbol)
    drift = profile.drift if profile else 0.0
    sessions = [today - timedelta(days=i) for i in range(days)]
    sessions = [d for d in reversed(sessions) if d.weekday() < 5]
    n = len(sessions) - 1
    out = []
    for k, day in enumerate(sessions):
        wiggle = 0.004 * math.sin(k * 1.7) if k < n else 0.0
        out.append((day, round(float(spot) * math.exp(drift * (k - n) + wiggle), 2)))
    return out
