"""DXLink event bodies of the fake market (before COMPACT flattening in the requested order)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from tests.fake_tastytrade import instruments as ins
from tests.fake_tastytrade.market import VOLS, FakeMarket

SNAPSHOT_BEGIN = 0x04  # DXLink event flags
SNAPSHOT_END = 0x08


def snapshot(market: FakeMarket, event_type: str, symbol: str, now_ms: int
             ) -> dict[str, Any] | None:
    """The current Quote, Greeks or Summary (open interest) of a ticker or option symbol."""
    try:
        bid, ask = market.quote(symbol)
    except KeyError:
        return None
    if event_type == "Quote":
        return {"eventSymbol": symbol, "eventTime": 0, "sequence": 0, "timeNanoPart": 0,
                "bidTime": now_ms, "bidExchangeCode": "Q", "askTime": now_ms,
                "askExchangeCode": "Q", "bidPrice": float(bid), "askPrice": float(ask),
                "bidSize": 10.0, "askSize": 12.0}
    listing = market.listing(symbol)
    if event_type == "Greeks" and listing is not None:
        pt = market.point(listing)
        return {"eventSymbol": symbol, "eventTime": 0, "eventFlags": 0, "index": 0,
                "time": now_ms, "sequence": 0, "price": pt.price, "volatility": pt.iv,
                "delta": pt.delta, "gamma": pt.gamma, "theta": pt.theta, "rho": pt.rho,
                "vega": pt.vega}
    if event_type == "Summary" and listing is not None:
        day_id = (market.today - date(1970, 1, 1)).days
        return {"eventSymbol": symbol, "eventTime": 0, "dayId": day_id,
                "dayClosePriceType": "REGULAR", "prevDayId": day_id - 1,
                "prevDayClosePriceType": "FINAL", "openInterest": market.open_interest(listing),
                "dayOpenPrice": "NaN", "dayHighPrice": "NaN", "dayLowPrice": "NaN",
                "dayClosePrice": "NaN", "prevDayClosePrice": float(ask), "prevDayVolume": 0}
    return None


def candles(market: FakeMarket, candle_symbol: str, from_ms: int) -> list[dict[str, Any]]:
    """Daily candles of ``SPY{=1d,...}`` since ``from_ms`` as DXLink sends a snapshot: newest
    first, the first flagged SNAPSHOT_BEGIN, the last SNAPSHOT_END."""
    ticker, _, spec = candle_symbol.partition("{")
    if ticker not in market.spots or ("=1d" not in spec and "=d" not in spec):
        return []
    rows = []
    for day, close in ins.daily_closes(ticker, market.spots[ticker], market.today):
        start_ms = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
        if start_ms < from_ms:
            continue
        rows.append({"eventSymbol": candle_symbol, "eventTime": 0, "eventFlags": 0,
                     "index": start_ms << 22, "time": start_ms, "sequence": 0, "count": 1000,
                     "volume": 1.0e6, "vwap": close, "bidVolume": "NaN", "askVolume": "NaN",
                     "impVolatility": VOLS.get(ticker, 0.25), "openInterest": "NaN",
                     "open": close, "high": close * 1.005, "low": close * 0.995,
                     "close": close})
    rows.reverse()
    if rows:
        rows[0]["eventFlags"] |= SNAPSHOT_BEGIN
        rows[-1]["eventFlags"] |= SNAPSHOT_END
    return rows
