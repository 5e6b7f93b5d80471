from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from tastydesk.engine.pricing.bsm import bsm_price
from tastydesk.engine.proposals import curve_vol, expiry_payoff, pnl_at, pnl_curve
from tastydesk.engine.proposals.valuation import expiry_close, years_to_expiry
from tests.engine.proposals.legs_kit import BUY, SELL, C, P, leg

D = Decimal
NOW = datetime(2026, 11, 18, 21, 0, tzinfo=UTC)  # 30 days before the 12-18 close
SPREAD = [leg(SELL, P, "95", "1.50", 2, iv=0.25), leg(BUY, P, "90", "0.60", 2, iv=0.28)]


def test_years_to_expiry_counts_to_the_close() -> None:
    assert years_to_expiry(date(2026, 12, 18), NOW) == pytest.approx(30 / 365)
    assert years_to_expiry(date(2026, 12, 18), expiry_close(date(2026, 12, 18))) == 0.0
    with pytest.raises(ValueError, match="timezone-aware"):
        years_to_expiry(date(2026, 12, 18), NOW.replace(tzinfo=None))


def test_pnl_at_prices_each_leg_with_its_own_iv() -> None:
    spots = np.array([85.0, 95.0, 105.0])
    got = pnl_at(SPREAD, D("0.90"), 2, spots, NOW, rate=0.04)
    t = 30 / 365
    short = bsm_price(spots, 95.0, t, 0.04, 0.0, 0.25, False)
    long_ = bsm_price(spots, 90.0, t, 0.04, 0.0, 0.28, False)
    expected = 0.90 * 200 - 200 * short + 200 * long_
    assert got == pytest.approx(expected)
    # after expiry: intrinsic, i.e. the expiry payoff
    later = expiry_close(date(2026, 12, 18)) + timedelta(hours=1)
    pay = expiry_payoff(SPREAD, D("0.90"), 2)
    assert pnl_at(SPREAD, D("0.90"), 2, spots, later) == pytest.approx(pay.value_at(spots))


def test_pnl_curve_from_legs() -> None:
    curve = pnl_curve(SPREAD, 100.0, NOW, entry_price=D("0.90"), quantity=2, rate=0.04)
    assert len(curve.prices) == len(curve.at_expiry) == len(curve.today) == 201
    assert curve.prices[0] < 90 * 0.97 + 1e-9 and curve.prices[-1] > 100
    assert min(curve.at_expiry) == pytest.approx(-(5 - 0.9) * 200)
    assert max(curve.at_expiry) == pytest.approx(0.9 * 200)
    vol = curve_vol(SPREAD)
    assert vol == 0.25  # the short leg's IV
    move = 100 * vol * math.sqrt(30 / 365)
    assert (curve.one_sd_low, curve.one_sd_high) == (pytest.approx(100 - move),
                                                      pytest.approx(100 + move))
    # three expected moves either side
    assert curve.prices[-1] == pytest.approx(100 + 3 * move)
    # "today" is between the payoff extremes and smoother than at expiry
    assert all(-820 <= v <= 180 for v in curve.today)
    at_close = pnl_curve(SPREAD, 100.0, expiry_close(date(2026, 12, 18)),
                         entry_price=D("0.90"), quantity=2)
    assert at_close.today == pytest.approx(at_close.at_expiry)


def test_pnl_curve_needs_entry_and_quantity_for_bare_legs() -> None:
    with pytest.raises(ValueError, match="entry_price"):
        pnl_curve(SPREAD, 100.0, NOW, quantity=2)
    with pytest.raises(ValueError, match="quantity"):
        pnl_curve(SPREAD, 100.0, NOW, entry_price=D("1"))
    with pytest.raises(ValueError, match="spot"):
        pnl_curve(SPREAD, 0.0, NOW, entry_price=D("1"), quantity=2)
    with pytest.raises(ValueError, match="quantity"):
        pnl_at(SPREAD, D("1"), 0, 100.0, NOW)


def test_curve_vol_falls_back() -> None:
    longs = [leg(BUY, C, "100", "2", iv=0.3), leg(BUY, P, "100", "2", iv=0.5)]
    assert curve_vol(longs) == pytest.approx(0.4)
    assert curve_vol([leg(BUY, C, "100", "2", iv=0.0)], fallback_vol=0.22) == 0.22
