"""Resolved legs written by hand, for payoff checks that need exact strikes and prices."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tastydesk.engine.domain.chain import occ_symbol, streamer_symbol
from tastydesk.engine.domain.enums import OptionType, Side
from tastydesk.engine.domain.proposal import ResolvedLeg

EXPIRY = date(2026, 12, 18)


def leg(side: Side, option_type: OptionType, strike: str, mid: str, quantity: int = 1, *,
        expiry: date = EXPIRY, iv: float = 0.2, delta: float = 0.0, gamma: float = 0.0,
        theta: float = 0.0, vega: float = 0.0) -> ResolvedLeg:
    k = Decimal(strike)
    m = Decimal(mid)
    return ResolvedLeg(
        symbol=occ_symbol("XYZ", expiry, option_type, k),
        streamer_symbol=streamer_symbol("XYZ", expiry, option_type, k),
        option_type=option_type, side=side, strike=k, expiry=expiry, quantity=quantity,
        bid=m - Decimal("0.05"), ask=m + Decimal("0.05"), mid=m, delta=delta, gamma=gamma,
        theta=theta, vega=vega, iv=iv,
    )


P, C = OptionType.PUT, OptionType.CALL
BUY, SELL = Side.BUY, Side.SELL
