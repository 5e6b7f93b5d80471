"""The paper market's durable state: how its moving core is written and read back.

``{"core": paths, random state and clock, "history": closes and the IV history, "series": listed
strike grids}``; the journal (:mod:`.state`) stores the three as separate parts so a step rewrites
only the core. Reading validates everything before anything is applied, and names the field
that is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np

from tastydesk.engine.broker.paper.history import PriceHistory
from tastydesk.engine.broker.paper.sessions import Session, SessionBook

STATE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class MarketCore:
    """Where the market's clock and paths are: everything a step changes."""

    t: float  # the last step, epoch seconds
    now: datetime
    eff: float  # the model's own time: the last moment the market was open
    session: Session  # the current or next session
    gap_pending: bool  # the overnight gap of ``session`` is still to come
    released_from: date  # earnings reports before this day's open are in the price
    log_spot: list[float]
    vol_factor: list[float]
    rng: np.random.Generator


@dataclass(frozen=True, slots=True)
class MarketIdentity:
    """What a snapshot must match to be continued by this market."""

    seed: int
    rate: float
    symbols: tuple[str, ...]


def core_state(identity: MarketIdentity, core: MarketCore) -> dict[str, Any]:
    return {
        "format": STATE_FORMAT,
        "seed": identity.seed,
        "rate": identity.rate,
        "symbols": list(identity.symbols),
        "t": core.t,
        "now": core.now.isoformat(),
        "eff": core.eff,
        "session": core.session.day.isoformat(),
        "gap_pending": core.gap_pending,
        "released_from": core.released_from.isoformat(),
        "log_spot": list(core.log_spot),
        "vol_factor": list(core.vol_factor),
        "rng": core.rng.bit_generator.state,
    }


def series_name(symbol: str, expiry: date) -> str:
    return f"{symbol} {expiry.isoformat()}"


def parse_snapshot(state: dict[str, Any], identity: MarketIdentity, sessions: SessionBook
                   ) -> tuple[MarketCore, PriceHistory, dict[tuple[int, date], dict[str, Any]]]:
    """Core, history and series grids (keyed by underlying index and expiry) of a snapshot.

    Raises ValueError naming the field when the snapshot is malformed or was taken of a
    market with another seed, rate or set of symbols.
    """
    index = {s: i for i, s in enumerate(identity.symbols)}
    n = len(identity.symbols)
    try:
        core, history, series = state["core"], state["history"], state["series"]
        if core.get("format") != STATE_FORMAT:
            raise ValueError(f"state.core.format: {core.get('format')!r} is not {STATE_FORMAT}")
        for name, mine in (("seed", identity.seed), ("rate", identity.rate),
                           ("symbols", list(identity.symbols))):
            if core[name] != mine:
                raise ValueError(f"state.core.{name}: {core[name]!r} does not match this "
                                 f"market's {mine!r}")
        session = sessions.of(date.fromisoformat(core["session"]))
        if session is None:
            raise ValueError(f"state.core.session: {core['session']} is not a trading day")
        now = datetime.fromisoformat(core["now"])
        if now.tzinfo is None:
            raise ValueError(f"state.core.now: {core['now']!r} has no time zone")
        log_spot = [float(x) for x in core["log_spot"]]
        vol_factor = [float(x) for x in core["vol_factor"]]
        if {len(log_spot), len(vol_factor)} != {n}:
            raise ValueError(f"state: per-symbol lists must all hold {n} entries")
        parsed_history = PriceHistory.parse(history, n)
        grids = {}
        for name, body in series.items():
            symbol, _, day = name.partition(" ")
            if symbol not in index:
                raise ValueError(f"state.series: {name!r} is not a series of this market")
            grids[(index[symbol], date.fromisoformat(day))] = body
        rng = np.random.default_rng([identity.seed, 0])
        rng.bit_generator.state = core["rng"]
        parsed = MarketCore(float(core["t"]), now, float(core["eff"]), session,
                            bool(core["gap_pending"]),
                            date.fromisoformat(core["released_from"]), log_spot, vol_factor,
                            rng)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"state: malformed paper market snapshot ({exc!r})") from exc
    return parsed, parsed_history, grids
