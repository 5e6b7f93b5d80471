from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tastydesk.engine.pricing.bsm import bsm_price
from tastydesk.engine.pricing.probability import prob_below
from tastydesk.engine.pricing.smile import (
    Smile,
    expected_linear_payoff,
    forward_call,
    smile_prob_below,
)

S, T, R, Q = 100.0, 45 / 365, 0.04, 0.01


def skew(k: np.ndarray) -> np.ndarray:
    return 0.2 * (1.0 + 0.8 * np.log(S / k))


def test_points_are_cleaned_averaged_and_held_within_bounds() -> None:
    smile = Smile.from_points([110, 90, 100, 100, 95, 80], [0.18, 0.24, 0.20, 0.22, math.nan, 0],
                              0.2)
    assert list(smile.strikes) == [90.0, 100.0, 110.0]
    assert smile.vol([100.0])[0] == pytest.approx(0.21)  # call and put at one strike: mean
    assert smile.vol([95.0])[0] == pytest.approx(0.225)  # linear between points
    assert smile.vol([120.0])[0] == pytest.approx(0.15)  # the outer slope continues
    assert smile.vol([1.0])[0] == pytest.approx(2.0 * 0.24)  # held at the cap far out
    assert smile.slope([1.0])[0] == 0.0
    assert smile.vol([1000.0])[0] == pytest.approx(0.5 * 0.18)  # and at the floor
    assert Smile.from_points([], [], 0.3).vol([50.0, 150.0]) == pytest.approx([0.3, 0.3])
    with pytest.raises(ValueError, match="vol"):
        Smile.from_points([], [], 0.0)


def test_flat_smile_is_the_lognormal() -> None:
    levels = np.array([70.0, 95.0, 100.0, 130.0])
    flat = Smile.flat(0.25)
    assert smile_prob_below(S, levels, T, flat, R, Q) == pytest.approx(
        prob_below(S, levels, T, 0.25, R, Q), abs=1e-12)
    calls = forward_call(S, [0.0, 95.0], T, flat, R, Q)
    assert calls[0] == pytest.approx(S * math.exp((R - Q) * T))  # strike 0: the forward
    assert calls[1] == pytest.approx(
        float(bsm_price(S, 95.0, T, R, Q, 0.25, True)) * math.exp(R * T))


def test_distribution_is_the_one_the_call_prices_imply() -> None:
    # Breeden-Litzenberger: P(S_T < K) = 1 + dC/dK for the undiscounted call price.
    strikes = np.array([80.0, 90.0, 100.0, 110.0, 120.0])
    smile = Smile.from_points(strikes, skew(strikes), 0.2)
    for k in (72.0, 85.0, 93.0, 104.0, 117.0, 126.0):
        h = 1e-4
        up, down = forward_call(S, [k + h, k - h], T, smile, R, Q)
        assert smile_prob_below(S, k, T, smile, R, Q)[0] == pytest.approx(
            1.0 + (up - down) / (2 * h), abs=1e-6)
    # a falling put skew makes a low finish less likely than the strike's own lognormal says
    assert smile_prob_below(S, 85.0, T, smile, R, Q)[0] < prob_below(
        S, 85.0, T, float(smile.vol(85.0)[0]), R, Q)


def test_expectation_of_a_spread_is_its_legs_at_their_own_vols() -> None:
    k = np.array([90.0, 95.0])
    smile = Smile.from_points(k, skew(k), 0.2)
    # short 95 put, long 90 put, no cash: -(95-S)+ + (90-S)+
    prices = np.array([0.0, 90.0, 95.0])
    values = np.array([-5.0, -5.0, 0.0])
    ev = expected_linear_payoff(prices, values, 0.0, S, T, smile, R, Q)
    puts = bsm_price(S, k, T, R, Q, skew(k), False) * math.exp(R * T)
    assert ev == pytest.approx(puts[0] - puts[1], abs=1e-9)
    # expired: the payoff at spot
    assert expected_linear_payoff(prices, values, 0.0, 92.0, 0.0, smile) == pytest.approx(-3.0)
    with pytest.raises(ValueError, match="prices"):
        expected_linear_payoff(prices[1:], values[1:], 0.0, S, T, smile)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(50.0, 150.0), min_size=1, max_size=6, unique=True),
    st.floats(0.1, 0.6),
    st.floats(-1.0, 1.5),
    st.floats(7 / 365, 1.0),
)
def test_probabilities_stay_probabilities(strikes: list[float], vol: float, tilt: float,
                                          t: float) -> None:
    k = np.array(strikes)
    smile = Smile.from_points(k, np.maximum(vol * (1 + tilt * np.log(S / k)), 0.05), vol)
    levels = np.linspace(20.0, 300.0, 57)
    p = smile_prob_below(S, levels, t, smile, R, Q)
    assert np.all((p >= 0.0) & (p <= 1.0))
    assert p[0] < 0.5 < p[-1]
