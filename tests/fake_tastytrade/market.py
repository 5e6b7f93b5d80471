"""Deterministic option market for the fake server: spots, expirations, strikes, BSM quotes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

SPOTS = {"SPY": Decimal("600.00"), "AAPL": Decimal("230.00"), "QQQ": Decimal("520.00"),
         "TSLA": Decimal("350.00"), "TLT": Decimal("90.00"), "WDFC": Decimal("230.00")}
VOLS = {"SPY": 0.16, "AAPL": 0.27, "QQQ": 0.20, "TSLA": 0.55, "TLT": 0.15, "WDFC": 0.30}
RATE = 0.04


def occ(root: str, expiry: date, cp: str, strike: Decimal) -> str:
    return f"{root:<6}{expiry:%y%m%d}{cp}{int(strike * 1000):08d}"


def streamer(root: str, expiry: date, cp: str, strike: Decimal) -> str:
    return f".{root}{expiry:%y%m%d}{cp}{format(strike.normalize(), 'f')}"


def _ncdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _npdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True, slots=True)
class OptionPoint:
    price: float
    delta: float
    gamma: float
    theta: float
    vega: float
    rho: float
    iv: float


def bsm(spot: float, strike: float, years: float, vol: float, call: bool) -> OptionPoint:
    years = max(years, 1.0 / 365.0)
    sq = vol * math.sqrt(years)
    d1 = (math.log(spot / strike) + (RATE + 0.5 * vol * vol) * years) / sq
    d2 = d1 - sq
    disc = math.exp(-RATE * years)
    if call:
        price = spot * _ncdf(d1) - strike * disc * _ncdf(d2)
        delta = _ncdf(d1)
        rho = strike * years * disc * _ncdf(d2) / 100
        theta = (-spot * _npdf(d1) * vol / (2 * math.sqrt(years))
                 - RATE * strike * disc * _ncdf(d2)) / 365
    else:
        price = strike * disc * _ncdf(-d2) - spot * _ncdf(-d1)
        delta = _ncdf(d1) - 1
        rho = -strike * years * disc * _ncdf(-d2) / 100
        theta = (-spot * _npdf(d1) * vol / (2 * math.sqrt(years))
                 + RATE * strike * disc * _ncdf(-d2)) / 365
    gamma = _npdf(d1) / (spot * sq)
    vega = spot * _npdf(d1) * math.sqrt(years) / 100
    return OptionPoint(price, delta, gamma, theta, vega, rho, vol)


def money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Listing:
    root: str
    expiry: date
    strike: Decimal
    cp: str

    @property
    def occ(self) -> str:
        return occ(self.root, self.expiry, self.cp, self.strike)

    @property
    def streamer(self) -> str:
        return streamer(self.root, self.expiry, self.cp, self.strike)


class FakeMarket:
    """Spot prices and a listed chain per symbol, priced with Black-Scholes at a flat vol."""

    def __init__(self, today: date, spots: dict[str, Decimal] | None = None) -> None:
        self.today = today
        self.spots = dict(spots or SPOTS)
        self._by_occ: dict[str, Listing] = {}
        self._by_streamer: dict[str, Listing] = {}
        for symbol in self.spots:
            for exp in self.expirations(symbol):
                for strike in self.strikes(symbol):
                    for cp in ("C", "P"):
                        listing = Listing(symbol, exp, strike, cp)
                        self._by_occ[listing.occ] = listing
                        self._by_streamer[listing.streamer] = listing

    def expirations(self, symbol: str) -> list[date]:
        friday = self.today + timedelta(days=(4 - self.today.weekday()) % 7 or 7)
        weeklies = [friday + timedelta(weeks=i) for i in range(8)]
        months = []
        year, month = self.today.year, self.today.month
        for _ in range(6):
            month += 1
            if month > 12:
                year, month = year + 1, 1
            day = date(year, month, 15)
            while day.weekday() != 4:
                day += timedelta(days=1)
            months.append(day)
        return sorted(set(weeklies) | set(months))

    def is_monthly(self, expiry: date) -> bool:
        return expiry.weekday() == 4 and 15 <= expiry.day <= 21

    def strikes(self, symbol: str) -> list[Decimal]:
        spot = self.spots[symbol]
        step = Decimal("5") if spot >= 300 else Decimal("2.5")
        centre = (spot / step).to_integral_value() * step
        return [centre + step * i for i in range(-12, 13)]

    def listing(self, symbol: str) -> Listing | None:
        return self._by_occ.get(symbol) or self._by_streamer.get(symbol)

    def point(self, listing: Listing) -> OptionPoint:
        years = (listing.expiry - self.today).days / 365.0
        return bsm(float(self.spots[listing.root]), float(listing.strike), years,
                   VOLS.get(listing.root, 0.25), listing.cp == "C")

    def quote(self, symbol: str) -> tuple[Decimal, Decimal]:
        """Bid/ask for a ticker or an option (OCC or streamer symbol)."""
        if symbol in self.spots:
            spot = self.spots[symbol]
            return spot - Decimal("0.01"), spot + Decimal("0.01")
        listing = self.listing(symbol)
        if listing is None:
            raise KeyError(symbol)
        mid = max(self.point(listing).price, 0.02)
        half = max(0.01, round(mid * 0.02, 2))
        return money(max(mid - half, 0.01)), money(mid + half)

    def mid(self, symbol: str) -> Decimal:
        bid, ask = self.quote(symbol)
        return (bid + ask) / 2

    def open_interest(self, listing: Listing) -> int:
        """Contracts open: largest at the money and in the nearer expirations, falling away
        with distance from the spot (in standard deviations) and with time to expiry."""
        spot = float(self.spots[listing.root])
        years = max((listing.expiry - self.today).days, 1) / 365.0
        width = VOLS.get(listing.root, 0.25) * math.sqrt(years)
        distance = math.log(float(listing.strike) / spot) / width
        base = OI_BASE.get(listing.root, 2000)
        return int(base * math.exp(-0.5 * distance * distance) / (1.0 + 4.0 * years))


OI_BASE = {"SPY": 40000, "QQQ": 20000, "AAPL": 15000, "TSLA": 25000, "TLT": 8000, "WDFC": 300}
