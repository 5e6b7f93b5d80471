"""Assignment risk of a short option leg: pure arithmetic over its quote, the underlying's price
and the coming dividend. The management rules and the Position Monitor read the same figures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Protocol

from tastydesk.engine.domain.enums import OptionType
from tastydesk.engine.domain.money import ZERO
from tastydesk.engine.domain.views import AssignmentRisk


class OptionLeg(Protocol):
    option_type: OptionType | None
    strike: Decimal
    expiry: date | None
    ratio: int

    @property
    def mid(self) -> Decimal | None: ...


def assignment_risk(leg: OptionLeg, spot: float | None, today: date,
                    ex_dividend: tuple[date, Decimal] | None) -> AssignmentRisk | None:
    """The risk figures of ``leg`` when it is a short option and the underlying is priced."""
    if leg.ratio >= 0 or leg.option_type is None or leg.expiry is None or not spot:
        return None
    price = Decimal(str(spot))
    call = leg.option_type is OptionType.CALL
    intrinsic = max(ZERO, price - leg.strike) if call else max(ZERO, leg.strike - price)
    safe_side = (leg.strike - price) if call else (price - leg.strike)
    mid = leg.mid
    extrinsic = None if mid is None else max(ZERO, mid - intrinsic)
    days_to_ex = dividend = None
    if ex_dividend is not None and ex_dividend[0] >= today and ex_dividend[0] <= leg.expiry:
        days_to_ex, dividend = (ex_dividend[0] - today).days, ex_dividend[1]
    return AssignmentRisk(
        option_type=leg.option_type, in_the_money=intrinsic > 0,
        distance_pct=float(safe_side / price * 100), intrinsic=intrinsic, extrinsic=extrinsic,
        dte=(leg.expiry - today).days, days_to_ex_dividend=days_to_ex, dividend=dividend)
