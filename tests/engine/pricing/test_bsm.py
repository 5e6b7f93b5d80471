from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tastydesk.engine.pricing.bsm import BsmResult, bsm_greeks, bsm_greeks_scalar, bsm_price


def test_hull_textbook_values() -> None:
    # Hull, Options Futures and Other Derivatives, example 15.6: c = 4.76, p = 0.81.
    call, put = bsm_price(42.0, 40.0, 0.5, 0.10, 0.0, 0.20, [True, False])
    assert call == pytest.approx(4.7594, abs=1e-4)
    assert put == pytest.approx(0.8086, abs=1e-4)


def test_haug_dividend_yield_example() -> None:
    # Haug, The Complete Guide to Option Pricing Formulas, generalised BSM: put = 2.4648.
    put = bsm_price(100.0, 95.0, 0.5, 0.10, 0.05, 0.20, False)
    assert float(put) == pytest.approx(2.4648, abs=1e-4)


def test_scalar_inputs_give_zero_dimensional_results() -> None:
    result = bsm_greeks(100.0, 100.0, 0.25, 0.03, 0.01, 0.25, True)
    assert isinstance(result, BsmResult)
    assert all(np.ndim(a) == 0 for a in result)
    assert np.ndim(bsm_price(100.0, 100.0, 0.25, 0.03, 0.01, 0.25, True)) == 0


def test_broadcasting_over_a_chain() -> None:
    strikes = np.linspace(80, 120, 9)
    t = np.array([[0.1], [0.5]])
    prices = bsm_price(100.0, strikes, t, 0.04, 0.0, 0.3, True)
    assert prices.shape == (2, 9)
    assert np.all(np.diff(prices, axis=1) < 0)  # calls fall with strike
    assert np.all(prices[1] > prices[0])  # longer dated is worth more


def test_expired_contracts_are_intrinsic_with_step_delta() -> None:
    spot = np.array([110.0, 90.0, 100.0, 110.0, 90.0, 100.0])
    is_call = np.array([True, True, True, False, False, False])
    res = bsm_greeks(spot, 100.0, 0.0, 0.05, 0.0, 0.3, is_call)
    np.testing.assert_allclose(res.price, [10, 0, 0, 0, 10, 0])
    np.testing.assert_allclose(res.delta, [1, 0, 0.5, 0, -1, -0.5])
    for arr in (res.gamma, res.theta, res.vega, res.rho):
        np.testing.assert_array_equal(arr, 0.0)
    np.testing.assert_allclose(bsm_price(spot, 100.0, -1.0, 0.05, 0.0, 0.3, is_call), res.price)


def test_tiny_time_and_zero_vol_are_finite() -> None:
    res = bsm_greeks([100.0, 100.0], [90.0, 110.0], 1e-12, 0.05, 0.0, 0.0, [True, True])
    for arr in res:
        assert np.all(np.isfinite(arr))
    np.testing.assert_allclose(res.price, [10.0, 0.0], atol=1e-6)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [("spot", {"spot": -1.0}), ("strike", {"strike": 0.0}), ("vol", {"vol": -0.1})],
)
def test_bad_input_names_the_field(field: str, kwargs: dict[str, float]) -> None:
    args = {"spot": 100.0, "strike": 100.0, "t": 0.5, "rate": 0.0, "div": 0.0, "vol": 0.2,
            "is_call": True} | kwargs
    with pytest.raises(ValueError, match=field):
        bsm_price(**args)
    with pytest.raises(ValueError, match=field):
        bsm_greeks(**args)


params = st.fixed_dictionaries({
    "spot": st.floats(1.0, 5000.0),
    "moneyness": st.floats(0.3, 3.0),
    "t": st.floats(1.0 / 365.0, 3.0),
    "rate": st.floats(-0.01, 0.12),
    "div": st.floats(0.0, 0.08),
    "vol": st.floats(0.03, 2.0),
    "is_call": st.booleans(),
})


@settings(max_examples=300, deadline=None)
@given(params)
def test_put_call_parity(p: dict) -> None:
    s, k, t, r, q, v = p["spot"], p["spot"] * p["moneyness"], p["t"], p["rate"], p["div"], p["vol"]
    call, put = bsm_price(s, k, t, r, q, v, [True, False])
    assert call - put == pytest.approx(s * np.exp(-q * t) - k * np.exp(-r * t), abs=1e-9 * s)


def _price(p: dict, **over: float) -> float:
    a = {"spot": p["spot"], "strike": p["spot"] * p["moneyness"], "t": p["t"],
         "rate": p["rate"], "div": p["div"], "vol": p["vol"], "is_call": p["is_call"]} | over
    return float(bsm_price(**a))


@settings(max_examples=300, deadline=None)
@given(params)
def test_greeks_match_central_differences(p: dict) -> None:
    s, t, r, v = p["spot"], p["t"], p["rate"], p["vol"]
    k = s * p["moneyness"]
    g = bsm_greeks(s, k, t, r, p["div"], v, p["is_call"])
    # Steps scaled to the distribution's width keep the differences accurate near expiry.
    width = s * v * np.sqrt(t)
    hs = width * 1e-3
    tol_price = 1e-7 * s

    def close(actual: float, expected: float, scale: float) -> None:
        assert actual == pytest.approx(expected, rel=2e-4, abs=scale), (actual, expected)

    up, mid, dn = _price(p, spot=s + hs), _price(p), _price(p, spot=s - hs)
    close(float(g.price), mid, 0.0)
    close(float(g.delta), (up - dn) / (2 * hs), tol_price / hs)
    close(float(g.gamma), (up - 2 * mid + dn) / hs**2, 50 * tol_price / hs**2)
    dv = v * 1e-4
    close(float(g.vega), (_price(p, vol=v + dv) - _price(p, vol=v - dv)) / (2 * dv) * 0.01,
          tol_price / dv * 0.01)
    dt = t * 1e-4
    theta_fd = -(_price(p, t=t + dt) - _price(p, t=t - dt)) / (2 * dt) / 365.0
    close(float(g.theta), theta_fd, tol_price / dt / 365.0)
    dr = 1e-5
    rho_fd = (_price(p, rate=r + dr) - _price(p, rate=r - dr)) / (2 * dr) * 0.01
    close(float(g.rho), rho_fd, tol_price / dr * 0.01)


@settings(max_examples=200, deadline=None)
@given(params)
def test_prices_within_arbitrage_bounds(p: dict) -> None:
    s, k, t, r, q = p["spot"], p["spot"] * p["moneyness"], p["t"], p["rate"], p["div"]
    call, put = bsm_price(s, k, t, r, q, p["vol"], [True, False])
    fwd_s, disc_k = s * np.exp(-q * t), k * np.exp(-r * t)
    assert max(fwd_s - disc_k, 0.0) - 1e-9 * s <= call <= fwd_s + 1e-9 * s
    assert max(disc_k - fwd_s, 0.0) - 1e-9 * s <= put <= disc_k + 1e-9 * s


@settings(max_examples=300, deadline=None)
@given(params)
def test_scalar_path_matches_the_vectorised_one(p: dict) -> None:
    args = (p["spot"], p["spot"] * p["moneyness"], p["t"], p["rate"], p["div"], p["vol"],
            p["is_call"])
    vec = bsm_greeks(*args)
    one = bsm_greeks_scalar(*args)
    for a, b in zip(vec, one, strict=True):
        assert isinstance(b, float)
        assert b == pytest.approx(float(a), rel=1e-9, abs=1e-12 * p["spot"])


def test_scalar_path_expiry_and_errors() -> None:
    assert bsm_greeks_scalar(110.0, 100.0, 0.0, 0.05, 0.0, 0.3, True) == (10.0, 1.0, 0, 0, 0, 0)
    assert bsm_greeks_scalar(100.0, 100.0, -1.0, 0.05, 0.0, 0.3, False).delta == -0.5
    with pytest.raises(ValueError, match="spot"):
        bsm_greeks_scalar(0.0, 100.0, 0.5, 0.0, 0.0, 0.2, True)
    with pytest.raises(ValueError, match="vol"):
        bsm_greeks_scalar(100.0, 100.0, 0.5, 0.0, 0.0, -0.2, True)
