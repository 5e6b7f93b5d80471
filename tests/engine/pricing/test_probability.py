from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tastydesk.engine.pricing.probability import (
    expected_move,
    prob_above,
    prob_below,
    prob_touch,
)

params = st.fixed_dictionaries({
    "spot": st.floats(1.0, 5000.0),
    "ratio": st.floats(0.3, 3.0),
    "t": st.floats(1.0 / 365.0, 3.0),
    "vol": st.floats(0.02, 2.0),
    "rate": st.floats(-0.01, 0.12),
    "div": st.floats(0.0, 0.08),
})


@settings(max_examples=300, deadline=None)
@given(params)
def test_above_and_below_sum_to_one(p: dict) -> None:
    args = (p["spot"], p["spot"] * p["ratio"], p["t"], p["vol"], p["rate"], p["div"])
    assert prob_above(*args) + prob_below(*args) == pytest.approx(1.0)
    assert 0.0 <= prob_above(*args) <= 1.0


@settings(max_examples=300, deadline=None)
@given(params)
def test_touching_is_at_least_finishing_beyond(p: dict) -> None:
    level = p["spot"] * p["ratio"]
    args = (p["spot"], level, p["t"], p["vol"], p["rate"], p["div"])
    touch = prob_touch(*args)
    beyond = prob_above(*args) if level > p["spot"] else prob_below(*args)
    assert 0.0 <= touch <= 1.0
    assert touch >= beyond - 1e-12


def test_driftless_touch_is_twice_the_finish_probability() -> None:
    vol = 0.3
    rate = 0.5 * vol * vol  # log drift r - q - vol^2/2 = 0
    for level in (110.0, 90.0):
        finish = prob_above(100.0, level, 0.5, vol, rate) if level > 100 else prob_below(
            100.0, level, 0.5, vol, rate)
        assert prob_touch(100.0, level, 0.5, vol, rate) == pytest.approx(2 * finish)


def test_touch_matches_a_monte_carlo_path_count() -> None:
    rng = np.random.default_rng(3)
    paths, steps, t, vol, rate, div = 20_000, 1000, 0.25, 0.3, 0.04, 0.01
    dt = t / steps
    mu = rate - div - 0.5 * vol * vol
    x = np.zeros(paths)
    hi = np.zeros(paths)
    lo = np.zeros(paths)
    for _ in range(steps):
        x += mu * dt + vol * np.sqrt(dt) * rng.standard_normal(paths)
        np.maximum(hi, x, out=hi)
        np.minimum(lo, x, out=lo)
    # Discrete monitoring misses some touches, so the count sits slightly below the formula.
    up = prob_touch(100.0, 110.0, t, vol, rate, div)
    down = prob_touch(100.0, 90.0, t, vol, rate, div)
    assert (hi >= np.log(1.1)).mean() == pytest.approx(up, abs=0.03)
    assert (lo <= np.log(0.9)).mean() == pytest.approx(down, abs=0.03)
    assert (x > np.log(1.1)).mean() == pytest.approx(prob_above(100.0, 110.0, t, vol, rate, div),
                                                     abs=0.015)


def test_edge_cases() -> None:
    assert prob_touch(100.0, 100.0, 0.5, 0.2) == 1.0
    assert prob_touch(100.0, 120.0, 0.0, 0.2) == 0.0
    assert prob_above(100.0, 90.0, 0.0, 0.2) == 1.0
    assert prob_above(100.0, 110.0, 0.0, 0.2) == 0.0
    assert prob_above(100.0, 100.0, 0.5, 0.0, 0.05) == 1.0  # no vol, positive drift
    assert prob_touch(100.0, 1e6, 0.1, 0.2, 0.05) == pytest.approx(0.0, abs=1e-12)
    assert isinstance(prob_above(100.0, 110.0, 0.5, 0.2), float)
    arr = prob_above(100.0, np.array([90.0, 110.0]), 0.5, 0.2)
    assert isinstance(arr, np.ndarray) and arr.shape == (2,)


def test_expected_move_is_one_standard_deviation() -> None:
    assert expected_move(400.0, 0.25, 0.2) == pytest.approx(40.0)
    assert expected_move(400.0, 0.0, 0.2) == 0.0
    with pytest.raises(ValueError, match="spot"):
        expected_move(-1.0, 0.25, 0.2)
    with pytest.raises(ValueError, match="level"):
        prob_above(100.0, 0.0, 0.25, 0.2)
