"""Listed series of the paper market: which expirations exist and each one's strikes, symbols,
open interest and volume.

A series is built on first use and kept until it expires, like a real listing: strikes are only
ever added (when the underlying drifts away from the grid's centre, the grid is widened around
the new price). Open interest is deterministic per seed and contract: concentrated near the money
and in monthlies, falling away from the money and with time to expiry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from tastydesk.engine.broker.paper.decimals import strike_decimal
from tastydesk.engine.broker.paper.listing import MAX_DTE, listed_expirations, strike_grid
from tastydesk.engine.broker.paper.model import Profile, stable_unit
from tastydesk.engine.broker.paper.sessions import SessionBook
from tastydesk.engine.domain.chain import occ_symbol
from tastydesk.engine.domain.enums import OptionType

_OPEN_INTEREST_BASE = (200, 800, 3000, 9000, 25000)  # by liquidity score


@dataclass(slots=True)
class Series:
    """One expiration of one underlying: strikes, symbols and open interest."""

    expiry: date
    monthly: bool
    close_ts: float
    center: float
    band: float  # recentre when the reference price moves further than this
    ref_vol: float  # the volatility and years to expiry the grid and activity were built with
    years: float
    strikes: np.ndarray
    strike_decs: list[Decimal]
    occ_call: list[str]
    occ_put: list[str]
    streamer_call: list[str]
    streamer_put: list[str]
    oi_call: list[int]
    oi_put: list[int]
    volume_call: np.ndarray  # whole-day volume; scaled by the session's elapsed share
    volume_put: np.ndarray
    strikes2: np.ndarray  # calls then puts, for one vectorised pricing call
    is_call2: np.ndarray

    def state(self) -> dict[str, Any]:
        return {"monthly": self.monthly, "ref": self.center, "ref_vol": self.ref_vol,
                "years": self.years, "strikes": self.strikes.tolist()}

    def activity(self, strike: Decimal, strike_f: float, option_type: OptionType
                 ) -> tuple[int, float] | None:
        """Open interest and whole-day volume of one listed strike, or None if not listed."""
        j = int(np.searchsorted(self.strikes, strike_f))
        if j >= len(self.strikes) or self.strike_decs[j] != strike:
            return None
        if option_type is OptionType.CALL:
            return self.oi_call[j], float(self.volume_call[j])
        return self.oi_put[j], float(self.volume_put[j])


class SeriesBook:
    """The listed series of every underlying, and which changed since the last save."""

    def __init__(self, profiles: list[Profile], seed: int, sessions: SessionBook) -> None:
        self._profiles = profiles
        self._seed = seed
        self._sessions = sessions
        self._series: dict[tuple[int, date], Series] = {}
        self._schedule: dict[tuple[date, int], list[tuple[date, bool]]] = {}
        self.dirty: set[tuple[int, date]] = set()
        self.dropped: set[tuple[int, date]] = set()

    def expirations_of(self, i: int, today: date) -> list[tuple[date, bool]]:
        """``(date, monthly)`` ascending for underlying ``i`` as listed on ``today``."""
        weeklies = 12 if self._profiles[i].liquidity >= 4 else 8
        key = (today, weeklies)
        listed = self._schedule.get(key)
        if listed is None:
            if len(self._schedule) > 64:
                self._schedule.clear()
            listed = [(d, m) for d, m in
                      listed_expirations(self._sessions.calendar, today, weeklies)
                      if (d - today).days <= MAX_DTE]
            self._schedule[key] = listed
            self._drop_expired(today)
        return listed

    def _drop_expired(self, today: date) -> None:
        for k in [k for k in self._series if k[1] < today]:
            del self._series[k]
            self.dirty.discard(k)
            self.dropped.add(k)

    def get(self, i: int, expiry: date) -> Series | None:
        return self._series.get((i, expiry))

    def items(self) -> list[tuple[tuple[int, date], Series]]:
        return list(self._series.items())

    def series_for(self, i: int, expiry: date, monthly: bool, today: date, ref: float,
                   ref_vol: float) -> Series:
        """The series, built or widened around ``ref`` (the last close) when needed."""
        existing = self._series.get((i, expiry))
        if existing is not None and abs(ref - existing.center) <= existing.band:
            return existing
        p = self._profiles[i]
        ref_vol = max(p.vol, ref_vol)
        t = max((expiry - today).days, 1) / 365.0
        strikes = strike_grid(ref, ref_vol, t, p.liquidity, p.penny and p.etf)
        if existing is not None:
            strikes = np.union1d(existing.strikes, strikes)
        series = self._build(i, expiry, monthly, ref, ref_vol, t, strikes)
        self._series[(i, expiry)] = series
        self.dirty.add((i, expiry))
        return series

    def restore(self, grids: dict[tuple[int, date], dict[str, Any]]) -> None:
        """Replace every series by the saved grids (KeyError/TypeError/ValueError if malformed)."""
        built = {}
        for (i, expiry), body in sorted(grids.items()):
            built[(i, expiry)] = self._build(
                i, expiry, bool(body["monthly"]), float(body["ref"]), float(body["ref_vol"]),
                float(body["years"]), np.array(body["strikes"], dtype=np.float64))
        self._series = built
        self._schedule.clear()
        self.dirty.clear()
        self.dropped.clear()

    def _build(self, i: int, expiry: date, monthly: bool, ref: float, ref_vol: float,
               t: float, strikes: np.ndarray) -> Series:
        p = self._profiles[i]
        root = p.symbol
        decs = [strike_decimal(k) for k in strikes.tolist()]
        ymd = f"{expiry:%y%m%d}"
        occ_c = [occ_symbol(root, expiry, OptionType.CALL, d) for d in decs]
        occ_p = [occ_symbol(root, expiry, OptionType.PUT, d) for d in decs]
        txt = [format(d, "f") for d in decs]
        st_c = [f".{root}{ymd}C{x}" for x in txt]
        st_p = [f".{root}{ymd}P{x}" for x in txt]
        stddev = ref_vol * math.sqrt(t)
        z = np.log(strikes / ref) / stddev
        oi_c, vol_c = self._activity(occ_c, z, t, monthly, p.liquidity, call=True)
        oi_p, vol_p = self._activity(occ_p, z, t, monthly, p.liquidity, call=False)
        n = len(strikes)
        return Series(
            expiry, monthly, self._sessions.close_ts(expiry), ref,
            0.5 * ref * max(stddev, 0.02), ref_vol, t,
            strikes, decs, occ_c, occ_p, st_c, st_p, oi_c.tolist(), oi_p.tolist(), vol_c, vol_p,
            np.concatenate([strikes, strikes]),
            np.concatenate([np.ones(n, dtype=bool), np.zeros(n, dtype=bool)]),
        )

    def _activity(self, occ: list[str], z: np.ndarray, t: float, monthly: bool, liquidity: int,
                  call: bool) -> tuple[np.ndarray, np.ndarray]:
        """Open interest and whole-day volume: concentrated near the money and in monthlies."""
        noise = np.array([stable_unit(f"{self._seed}:{s}") for s in occ])
        base = _OPEN_INTEREST_BASE[max(0, min(liquidity, 4))]
        otm = z > 0 if call else z < 0
        shape = np.exp(-0.5 * (z / 1.3) ** 2) * np.where(otm, 1.0, 0.5)
        if not call:
            shape = shape * 1.2  # protective puts carry more open interest
        dte = t * 365.0
        factor = (1.8 if monthly else 1.0) / (1.0 + dte / 150.0)
        oi = np.floor(base * shape * factor * (0.4 + 1.2 * noise)).astype(np.int64)
        turnover = 0.05 + 0.4 * math.exp(-dte / 10.0)
        volume = np.floor(oi * turnover * (0.5 + noise)).astype(np.int64)
        return oi, volume
