from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tastydesk.engine.pricing.bsm import bsm_greeks, bsm_price
from tastydesk.engine.pricing.iv import (
    MAX_VOL,
    MIN_VOL,
    ImpliedVolError,
    implied_vol,
    implied_vol_scalar,
)


def test_hull_example_recovers_twenty_percent() -> None:
    price = float(bsm_price(42.0, 40.0, 0.5, 0.10, 0.0, 0.20, True))
    assert implied_vol_scalar(price, 42.0, 40.0, 0.5, 0.10, 0.0, True) == pytest.approx(0.2)
    # The rounded textbook price still gives about 20 %.
    rounded = implied_vol_scalar(4.76, 42.0, 40.0, 0.5, 0.10, 0.0, True)
    assert rounded == pytest.approx(0.2, abs=1e-3)


def test_prices_outside_bounds_are_nan() -> None:
    # call: below intrinsic, above spot, negative; put: above strike; expired.
    price = np.array([1.0, 50.0, -0.5, 45.0, 3.0])
    strike = np.array([40.0, 40.0, 40.0, 40.0, 40.0])
    t = np.array([0.5, 0.5, 0.5, 0.5, 0.0])
    is_call = np.array([True, True, True, False, True])
    out = implied_vol(price, 42.0, strike, t, 0.05, 0.0, is_call)
    assert np.all(np.isnan(out))


def test_scalar_error_messages_name_the_problem() -> None:
    with pytest.raises(ImpliedVolError, match=r"price.*arbitrage bounds"):
        implied_vol_scalar(1.0, 42.0, 40.0, 0.5, 0.1, 0.0, True)
    with pytest.raises(ImpliedVolError, match="strike"):
        implied_vol_scalar(1.0, 42.0, 0.0, 0.5, 0.1, 0.0, True)
    with pytest.raises(ImpliedVolError, match="t: must be > 0"):
        implied_vol_scalar(1.0, 42.0, 40.0, 0.0, 0.1, 0.0, True)
    # In bounds but with a time value lost in rounding: no meaningful IV.
    deep = float(bsm_price(100.0, 20.0, 1 / 365, 0.0, 0.0, 0.2, True))
    with pytest.raises(ImpliedVolError, match="no meaningful"):
        implied_vol_scalar(deep + 1e-14, 100.0, 20.0, 1 / 365, 0.0, 0.0, True)
    assert issubclass(ImpliedVolError, ValueError)


def test_no_vega_contracts_are_nan_not_garbage() -> None:
    # Far OTM one day out: price is essentially zero, vega negligible.
    price = bsm_price(100.0, [50.0, 160.0], 1 / 365, 0.04, 0.0, 0.3, [False, True])
    out = implied_vol(np.maximum(price, 1e-30), 100.0, [50.0, 160.0], 1 / 365, 0.04, 0.0,
                      [False, True])
    assert np.all(np.isnan(out))


def test_shape_is_preserved_and_chain_recovers() -> None:
    rng = np.random.default_rng(7)
    spot = 250.0
    strikes = rng.uniform(0.5, 1.5, (40, 50)) * spot
    t = rng.integers(1, 366, (40, 1)) / 365.0
    vol = rng.uniform(0.1, 0.9, (40, 50))
    is_call = rng.random((40, 50)) < 0.5
    price = bsm_price(spot, strikes, t, 0.04, 0.015, vol, is_call)
    iv = implied_vol(price, spot, strikes, t, 0.04, 0.015, is_call)
    assert iv.shape == (40, 50)
    ok = ~np.isnan(iv)
    assert ok.mean() > 0.8
    np.testing.assert_allclose(iv[ok], vol[ok], rtol=1e-6)
    assert np.all((iv[ok] >= MIN_VOL) & (iv[ok] <= MAX_VOL))
    # Every NaN is a contract whose vega is tiny next to its spot.
    vega = bsm_greeks(spot, strikes, t, 0.04, 0.015, vol, is_call).vega
    assert np.all(vega[~ok] < 1e-5 * spot)


params = st.fixed_dictionaries({
    "spot": st.floats(1.0, 5000.0),
    "moneyness": st.floats(0.4, 2.5),
    "t": st.floats(1.0 / 365.0, 3.0),
    "rate": st.floats(-0.01, 0.12),
    "div": st.floats(0.0, 0.08),
    "vol": st.floats(0.02, 3.0),
    "is_call": st.booleans(),
})


@settings(max_examples=400, deadline=None)
@given(params)
def test_round_trip_where_vega_is_meaningful(p: dict) -> None:
    s, k = p["spot"], p["spot"] * p["moneyness"]
    args = (s, k, p["t"], p["rate"], p["div"])
    g = bsm_greeks(*args, p["vol"], p["is_call"])
    iv = float(implied_vol(float(g.price), *args, p["is_call"]))
    intrinsic = max((s - k) if p["is_call"] else (k - s), 0.0)
    time_value = float(g.price) - intrinsic
    if float(g.vega) > 1e-4 * s and time_value > 1e-6 * s:
        assert iv == pytest.approx(p["vol"], rel=1e-6)
    if not np.isnan(iv):
        repriced = float(bsm_price(*args, iv, p["is_call"]))
        assert repriced == pytest.approx(float(g.price), rel=1e-9, abs=1e-9 * s)


@settings(max_examples=200, deadline=None)
@given(params, st.floats(0.0, 1.0))
def test_any_in_bounds_price_gives_nan_or_a_consistent_vol(p: dict, frac: float) -> None:
    s, k, t, r, q = p["spot"], p["spot"] * p["moneyness"], p["t"], p["rate"], p["div"]
    if p["is_call"]:
        lo, hi = max(s * np.exp(-q * t) - k * np.exp(-r * t), 0.0), s * np.exp(-q * t)
    else:
        lo, hi = max(k * np.exp(-r * t) - s * np.exp(-q * t), 0.0), k * np.exp(-r * t)
    price = lo + frac * (hi - lo)
    iv = float(implied_vol(price, s, k, t, r, q, p["is_call"]))
    if not np.isnan(iv):
        assert MIN_VOL <= iv <= MAX_VOL
        assert float(bsm_price(s, k, t, r, q, iv, p["is_call"])) == pytest.approx(
            price, rel=1e-8, abs=1e-9 * s)
