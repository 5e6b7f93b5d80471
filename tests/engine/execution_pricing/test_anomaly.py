from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tastydesk.engine.domain.enums import OptionType
from tastydesk.engine.execution_pricing.anomaly import (
    DESCRIPTIONS,
    AnomalyLimits,
    LegQuote,
    QuoteAnomaly,
    quote_anomaly,
    spread_figures,
)

D = Decimal
EXP = date(2027, 1, 15)
P, C = OptionType.PUT, OptionType.CALL


def price(x: float | str | None) -> Decimal | None:
    return None if x is None else D(str(x))


def q(sign: int, bid: float | str | None, ask: float | str | None, kind: OptionType = P,
      strike: float = 100.0, ratio: int = 1) -> LegQuote:
    return LegQuote(sign, ratio, price(bid), price(ask), kind, D(str(strike)), EXP)


def put_spread(short: tuple = (1.50, 1.60), long: tuple = (0.70, 0.78)) -> list[LegQuote]:
    """Opening a put credit spread: sell the 95 put, buy the 90 put."""
    return [q(+1, *short, strike=95), q(-1, *long, strike=90)]


def test_a_normal_market_is_usable() -> None:
    legs = put_spread()
    assert quote_anomaly(legs) is None
    assert spread_figures(legs) == pytest.approx((0.81, 0.72, 0.90))
    assert quote_anomaly(legs, recent_mids=[D("0.80"), D("0.83"), D("0.79")]) is None


def test_each_reason() -> None:
    assert quote_anomaly(put_spread(short=(None, 1.60))) is QuoteAnomaly.NO_QUOTE
    assert quote_anomaly(put_spread(short=(1.70, 1.60))) is QuoteAnomaly.CROSSED
    assert quote_anomaly(put_spread(long=(-0.05, 0.78))) is QuoteAnomaly.CROSSED
    assert quote_anomaly(put_spread(short=(0, 1.60))) is QuoteAnomaly.ZERO_BID
    # the 90 put bid above the 95 put's ask: out of strike order
    assert quote_anomaly(put_spread(short=(0.60, 0.65))) is QuoteAnomaly.INVERTED
    assert quote_anomaly(put_spread(short=(0.90, 2.40))) is QuoteAnomaly.WIDE
    assert quote_anomaly(put_spread(), recent_mids=[1.10, 1.11]) is QuoteAnomaly.JUMP
    assert set(DESCRIPTIONS) == set(QuoteAnomaly)


def test_a_worthless_wing_without_a_bid_is_normal() -> None:
    # closing a condor late: the long call wing sells for nothing, quoted 0.00 x 0.05
    close = [q(-1, 0.40, 0.45, strike=95), q(+1, 0.10, 0.14, strike=90),
             q(-1, 0.02, 0.04, C, 110), q(+1, 0.00, 0.05, C, 115)]
    assert quote_anomaly(close) is None
    # a leg bought, not sold, may have no bid at all
    assert quote_anomaly([q(-1, 0.0, 0.30, strike=95), q(+1, 1.0, 1.1, strike=105)]) is None


def test_inversion_by_type() -> None:
    calls = [q(+1, 2.00, 2.10, C, 100), q(-1, 2.20, 2.30, C, 105)]  # 105 call bid over 100 ask
    assert quote_anomaly(calls) is QuoteAnomaly.INVERTED
    calendar = [LegQuote(+1, 1, 1.0, 1.1, C, 100.0, EXP),
                LegQuote(-1, 1, 2.0, 2.1, C, 105.0, date(2027, 3, 19))]
    assert quote_anomaly(calendar) is None  # other expiry: no order between them
    bare = [LegQuote(+1, 1, 1.0, 1.1), LegQuote(-1, 1, 2.0, 2.1)]
    assert quote_anomaly(bare) is None  # nothing to compare without strikes


def test_a_cheap_close_is_not_blocked_by_pennies() -> None:
    # closing a near-worthless put spread: mid -0.05, width 0.10 (over 100 % of mid)
    close = [q(-1, 0.05, 0.10, strike=95), q(+1, 0.02, 0.07, strike=90)]
    assert quote_anomaly(close) is None
    strict = AnomalyLimits(min_spread_per_leg=0.0)
    assert quote_anomaly(close, limits=strict) is QuoteAnomaly.WIDE


def test_a_jump_is_measured_against_the_recent_range() -> None:
    legs = put_spread()  # mid 0.81
    assert quote_anomaly(legs, recent_mids=[0.90]) is None  # one mid is no range
    assert quote_anomaly(legs, recent_mids=[0.94, 0.95]) is None  # 0.14 < 3 x max(0.01, 0.05)
    assert quote_anomaly(legs, recent_mids=[0.96, 0.97]) is QuoteAnomaly.JUMP  # 0.16
    assert quote_anomaly(legs, recent_mids=[0.70, 1.00, 0.98]) is None  # wide range: 0.17 < 0.9


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="legs"):
        quote_anomaly([])
    with pytest.raises(ValueError, match="jump_multiple"):
        AnomalyLimits(jump_multiple=-1)
    assert spread_figures(put_spread(short=(None, 1.0))) is None
