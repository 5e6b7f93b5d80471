"""Option chains of the paper market: listed series priced in one vectorised pass per chain."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np

from tastydesk.engine.broker.paper.decimals import CENT_VALUES, cents
from tastydesk.engine.broker.paper.earnings import EarningsBook
from tastydesk.engine.broker.paper.pricing import OptionPricer
from tastydesk.engine.broker.paper.series import Series
from tastydesk.engine.domain.chain import (
    Expiration,
    Greeks,
    OptionChain,
    OptionContract,
    Quote,
    Strike,
    UnderlyingInfo,
)
from tastydesk.engine.domain.enums import OptionType


def build_chain(pricer: OptionPricer, earnings: EarningsBook, i: int, info: UnderlyingInfo,
                chosen: list[Series], today: date, when: datetime, eff: float, share: float,
                rate: float) -> OptionChain:
    """The chain of underlying ``i`` over the ``chosen`` series, quoted at ``when``.

    ``share`` is the elapsed part of today's session (volume so far is that share of the
    day's). Strikes ascend within each expiration and expirations ascend by date.
    """
    symbol = info.symbol
    if not chosen:
        return OptionChain(info, (), when, rate)
    strikes = np.concatenate([s.strikes2 for s in chosen])
    is_call = np.concatenate([s.is_call2 for s in chosen])
    close_ts = np.concatenate([np.full(len(s.strikes2), s.close_ts) for s in chosen])
    event_var = np.concatenate(
        [np.full(len(s.strikes2), earnings.event_var(i, s.expiry)) for s in chosen])
    theo, vol, delta, gamma, theta, vega, rho, bid, ask, size = (
        a.tolist() for a in pricer.price_many(i, strikes, close_ts, is_call, event_var, eff))
    memo = CENT_VALUES
    expirations = []
    lo = 0
    for s in chosen:
        n = len(s.strikes)
        mid, hi = lo + n, lo + 2 * n
        sides = []
        for occ, streamer, oi, day_volume, a, b, side in (
            (s.occ_call, s.streamer_call, s.oi_call, s.volume_call, lo, mid, OptionType.CALL),
            (s.occ_put, s.streamer_put, s.oi_put, s.volume_put, mid, hi, OptionType.PUT),
        ):
            volume = np.floor(day_volume * share).astype(np.int64).tolist()
            sides.append([
                OptionContract(
                    o, st, symbol, s.expiry, k, side,
                    Quote(st, memo.get(bd) or cents(bd), memo.get(ak) or cents(ak),
                          when, sz, sz),
                    Greeks(st, th, iv, de, ga, tht, ve, rh, when),
                    op, vo,
                )
                for o, st, k, bd, ak, sz, th, iv, de, ga, tht, ve, rh, op, vo in zip(
                    occ, streamer, s.strike_decs, bid[a:b], ask[a:b], size[a:b], theo[a:b],
                    vol[a:b], delta[a:b], gamma[a:b], theta[a:b], vega[a:b], rho[a:b], oi,
                    volume, strict=True)
            ])
        rows = tuple(map(Strike, s.strike_decs, sides[0], sides[1]))
        expirations.append(Expiration(s.expiry, (s.expiry - today).days, s.monthly, "PM", rows))
        lo = hi
    return OptionChain(info, tuple(expirations), when, rate)
