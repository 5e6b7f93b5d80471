"""Proposal warnings about corporate events the trader should weigh before entering."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from tastydesk.engine.domain.chain import UnderlyingInfo
from tastydesk.engine.domain.enums import OptionType, Side
from tastydesk.engine.domain.proposal import ResolvedLeg


def dividend_warnings(under: UnderlyingInfo, legs: Sequence[ResolvedLeg],
                      now: datetime) -> list[str]:
    """A short call whose expiry falls after the next ex-dividend date may be assigned early
    (the holder exercises to collect the dividend): the trader should know before entering."""
    ex_date = under.ex_dividend_date
    if ex_date is None or ex_date < now.date():
        return []
    out = []
    for leg in legs:
        if leg.option_type is OptionType.CALL and leg.side is Side.SELL and ex_date < leg.expiry:
            amount = f" (${under.dividend_amount} a share)" if under.dividend_amount else ""
            out.append(f"ex-dividend on {ex_date:%Y-%m-%d}{amount}, before the short "
                       f"{_strike(leg.strike)} call expires {leg.expiry:%Y-%m-%d}: "
                       "early assignment risk")
    return out


def _strike(value: Decimal) -> str:
    return format(value.normalize(), "f")
