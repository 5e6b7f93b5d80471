from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest

from tastydesk.engine.pricing.probability import prob_above, prob_below
from tastydesk.engine.proposals.metrics import (
    expected_pnl,
    fees_estimate,
    position_greeks,
    probability_of_profit,
    reg_t_requirement,
    touch_probability,
)
from tastydesk.engine.proposals.payoff import expiry_payoff
from tests.engine.proposals.legs_kit import BUY, SELL, C, P, leg

D = Decimal


def test_put_credit_spread_exact() -> None:
    legs = [leg(SELL, P, "95", "1.50"), leg(BUY, P, "90", "0.50")]
    pay = expiry_payoff(legs, D("1.00"), 1)
    assert pay.exact and not pay.unlimited_loss and not pay.unlimited_profit
    assert pay.max_profit == pytest.approx(100.0)
    assert pay.max_loss == pytest.approx(400.0)  # width 5 x 100 - credit 100
    assert pay.breakevens() == pytest.approx([94.0])
    assert pay.profit_intervals() == [(pytest.approx(94.0), math.inf)]


def test_iron_condor_uneven_wings_quantity_three() -> None:
    legs = [leg(SELL, P, "90", "1", 3), leg(BUY, P, "80", "0.4", 3),
            leg(SELL, C, "110", "1", 3), leg(BUY, C, "115", "0.4", 3)]
    credit = D("1.20")
    pay = expiry_payoff(legs, credit, 3)
    assert pay.max_loss == pytest.approx((10 - 1.2) * 100 * 3)  # wider (put) side
    assert pay.max_profit == pytest.approx(1.2 * 100 * 3)
    assert pay.breakevens() == pytest.approx([88.8, 111.2])
    low, high = pay.profit_intervals()[0]
    assert (low, high) == (pytest.approx(88.8), pytest.approx(111.2))


def test_long_call_butterfly() -> None:
    legs = [leg(BUY, C, "95", "6"), leg(SELL, C, "100", "3", 2), leg(BUY, C, "105", "1")]
    pay = expiry_payoff(legs, D("-1.00"), 1)  # debit 1.00
    assert pay.max_profit == pytest.approx(400.0)
    assert pay.max_loss == pytest.approx(100.0)
    assert pay.breakevens() == pytest.approx([96.0, 104.0])
    assert not pay.unlimited_loss and not pay.unlimited_profit


def test_ratio_spreads() -> None:
    # call ratio: long 1 x 100, short 2 x 110 for a 0.50 credit: naked call on top
    call_ratio = expiry_payoff([leg(BUY, C, "100", "3"), leg(SELL, C, "110", "1.75", 2)],
                               D("0.50"), 1)
    assert call_ratio.unlimited_loss and call_ratio.max_loss == math.inf
    assert call_ratio.max_profit == pytest.approx(1050.0)  # at 110: 10 + 0.5
    assert call_ratio.breakevens() == pytest.approx([120.5])
    # put ratio: long 1 x 100, short 2 x 90 for a 0.20 debit: risk down to zero, defined
    put_ratio = expiry_payoff([leg(BUY, P, "100", "3"), leg(SELL, P, "90", "1.4", 2)],
                              D("-0.20"), 1)
    assert not put_ratio.unlimited_loss
    assert put_ratio.max_loss == pytest.approx((80 + 0.2) * 100)  # at 0: 100 - 180 - 0.2
    assert put_ratio.max_profit == pytest.approx(980.0)
    assert put_ratio.breakevens() == pytest.approx([80.2, 99.8])


def test_long_call_unlimited_profit_and_short_strangle() -> None:
    long_call = expiry_payoff([leg(BUY, C, "100", "2.5", 2)], D("-2.50"), 2)
    assert long_call.unlimited_profit and long_call.max_profit == math.inf
    assert long_call.max_loss == pytest.approx(500.0)
    assert long_call.breakevens() == pytest.approx([102.5])
    strangle = expiry_payoff([leg(SELL, P, "90", "1"), leg(SELL, C, "110", "1")], D("2"), 1)
    assert strangle.unlimited_loss
    assert strangle.breakevens() == pytest.approx([88.0, 112.0])


def test_calendar_approximated_at_front_expiry() -> None:
    from datetime import date
    front = leg(SELL, C, "100", "2.0", expiry=date(2026, 12, 18), iv=0.2)
    back = leg(BUY, C, "100", "3.2", expiry=date(2027, 1, 15), iv=0.2)
    pay = expiry_payoff([front, back], D("-1.20"), 1, rate=0.0, fallback_vol=0.2)
    assert not pay.exact and not pay.unlimited_loss and not pay.unlimited_profit
    # best at the strike: the far call's 28-day ATM value (about 0.4 x 100 x 0.2 x sqrt(28/365))
    best_price = float(pay.prices[int(np.argmax(pay.values))])
    assert best_price == pytest.approx(100.0, abs=0.6)
    atm_value = 0.3989 * 100 * 0.2 * math.sqrt(28 / 365)
    assert pay.max_profit == pytest.approx((atm_value - 1.2) * 100, rel=0.02)
    assert pay.max_loss == pytest.approx(120.0, rel=0.02)  # far from the strike: the debit
    lo, hi = pay.breakevens()
    assert lo < 100 < hi


def test_probability_of_profit_matches_interval_probability() -> None:
    legs = [leg(SELL, P, "90", "1"), leg(BUY, P, "80", "0.4"),
            leg(SELL, C, "110", "1"), leg(BUY, C, "120", "0.4")]
    pay = expiry_payoff(legs, D("1.20"), 1)
    t, vol = 30 / 365, 0.25
    pop = probability_of_profit(pay, 100.0, t, vol, 0.03, 0.0)
    expect = prob_below(100.0, 111.2, t, vol, 0.03) - prob_below(100.0, 88.8, t, vol, 0.03)
    assert pop == pytest.approx(expect, abs=1e-12)
    single = expiry_payoff([leg(SELL, P, "95", "1.5"), leg(BUY, P, "90", "0.5")], D("1"), 1)
    assert probability_of_profit(single, 100.0, t, vol) == pytest.approx(
        prob_above(100.0, 94.0, t, vol))
    # at expiry the outcome is known
    assert probability_of_profit(single, 100.0, 0.0, vol) == 1.0
    assert probability_of_profit(single, 93.0, 0.0, vol) == 0.0


def test_expected_value_matches_monte_carlo() -> None:
    legs = [leg(SELL, P, "90", "1"), leg(BUY, P, "80", "0.4"),
            leg(SELL, C, "110", "1"), leg(BUY, C, "120", "0.4")]
    pay = expiry_payoff(legs, D("1.20"), 1)
    t, vol, r = 45 / 365, 0.3, 0.04
    ev = expected_pnl(pay, 100.0, t, vol, r, 0.0)
    rng = np.random.default_rng(7)
    z = rng.standard_normal(400_000)
    st = 100.0 * np.exp((r - 0.5 * vol * vol) * t + vol * math.sqrt(t) * z)
    mc = float(pay.value_at(st).mean())
    assert ev == pytest.approx(mc, abs=3.0)
    # a forward bought at zero cost has expected value spot x (e^{rt} - 1) x 100
    forward = expiry_payoff([leg(BUY, C, "100", "0"), leg(SELL, P, "100", "0")], D("0"), 1)
    assert expected_pnl(forward, 100.0, t, vol, r) == pytest.approx(
        100 * 100 * (math.exp(r * t) - 1), abs=0.05)


def test_touch_probability_nearest_short_strikes() -> None:
    now = datetime(2026, 11, 18, 21, 0, tzinfo=UTC)  # 30 days to the 12-18 close
    condor = [leg(SELL, P, "90", "1"), leg(BUY, P, "80", "0.4"),
              leg(SELL, C, "110", "1"), leg(BUY, C, "120", "0.4")]
    both = touch_probability(condor, 100.0, now, 0.2)
    only_put = touch_probability(condor[:2], 100.0, now, 0.2)
    assert 0 < only_put < both < 1
    far_put = touch_probability([leg(SELL, P, "70", "1")], 100.0, now, 0.2)
    assert far_put < only_put
    assert touch_probability([leg(SELL, P, "100", "1")], 100.0, now, 0.2) == 1.0
    assert touch_probability([leg(BUY, P, "95", "1")], 100.0, now, 0.2) == 0.0


def test_position_greeks_signs_and_beta() -> None:
    legs = [leg(SELL, P, "95", "1.5", 2, delta=-0.3, gamma=0.04, theta=-0.05, vega=0.10),
            leg(BUY, P, "90", "0.5", 2, delta=-0.1, gamma=0.02, theta=-0.02, vega=0.05)]
    g = position_greeks(legs, 100.0, beta=1.5)
    assert g.delta == pytest.approx(2 * 100 * (0.3 - 0.1))  # 40 shares long
    assert g.gamma == pytest.approx(-2 * 100 * 0.02)
    assert g.theta == pytest.approx(2 * 100 * 0.03)  # collects $6/day
    assert g.vega == pytest.approx(-2 * 100 * 0.05)
    assert g.beta_weighted_delta == pytest.approx(60.0)
    spy = position_greeks(legs, 100.0, beta=1.5, reference_price=500.0)
    assert spy.beta_weighted_delta == pytest.approx(12.0)
    with pytest.raises(ValueError, match="reference_price"):
        position_greeks(legs, 100.0, 1.0, reference_price=0.0)


def test_reg_t_strangle_rule_and_covered_shorts() -> None:
    spot = D("100")
    put = leg(SELL, P, "90", "1.00")
    call = leg(SELL, C, "110", "0.80")
    # put: max(20 - 10, 9) + 1 = 11 -> 1100; call: max(20 - 10, 10) + 0.8 = 10.8 -> 1080
    assert reg_t_requirement([put], spot) == D("1100.00")
    assert reg_t_requirement([call], spot) == D("1080.00")
    # strangle: larger side plus the other side's premium
    assert reg_t_requirement([put, call], spot) == D("1180.00")
    # far OTM call: the 10 % floor of the underlying
    assert reg_t_requirement([leg(SELL, C, "130", "0.10")], spot) == D("1010.00")
    # a long call covers one short call: only one of two is naked
    ratio = [leg(BUY, C, "100", "3"), leg(SELL, C, "110", "0.80", 2)]
    assert reg_t_requirement(ratio, spot) == D("1080.00")
    assert reg_t_requirement([leg(SELL, P, "90", "1"), leg(BUY, P, "85", "0.5")], spot) == 0


def test_fees_estimate() -> None:
    legs = [leg(SELL, P, "95", "1.5", 3), leg(BUY, P, "90", "0.5", 3)]
    assert fees_estimate(legs, D("1.00")) == D("6.00")
    assert fees_estimate(legs, D("0.65")) == D("3.90")
    with pytest.raises(ValueError, match="fees_per_contract"):
        fees_estimate(legs, D("-1"))


def test_payoff_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="legs"):
        expiry_payoff([], D("1"), 1)
    with pytest.raises(ValueError, match="quantity"):
        expiry_payoff([leg(SELL, P, "95", "1")], D("1"), 0)
