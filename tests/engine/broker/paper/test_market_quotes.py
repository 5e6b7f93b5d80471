from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tastydesk.engine.broker.paper.listing import strike_grid
from tastydesk.engine.broker.paper.quotes import (
    NICKEL_ABOVE_CENTS,
    atm_vol,
    liquidity_size,
    liquidity_width,
    quote_book,
    quote_cents,
    quote_cents_scalar,
    quote_size_scalar,
    quote_sizes,
    surface_vol,
    surface_vol_scalar,
)

# Tick classes in cents below and at or above $3: all pennies, penny program, others.
TICKS = [(1, 1), (1, 5), (5, 10)]

surface = st.fixed_dictionaries({
    "fwd": st.floats(5.0, 2000.0),
    "moneyness": st.floats(0.3, 2.0),
    "t": st.floats(-0.01, 1.2),
    "iv30": st.floats(0.05, 1.5),
    "base": st.floats(0.08, 0.8),
    "skew": st.floats(-0.15, 0.05),
    "smile": st.floats(0.0, 0.03),
    "event": st.floats(0.0, 0.01),
})


@settings(max_examples=300, deadline=None)
@given(surface)
def test_scalar_surface_matches_the_vectorised_one(p: dict) -> None:
    strike = p["fwd"] * p["moneyness"]
    vec, _ = surface_vol(np.array([p["fwd"]]), np.array([strike]), np.array([p["t"]]),
                         p["iv30"], p["base"], p["skew"], p["smile"], np.array([p["event"]]))
    one = surface_vol_scalar(p["fwd"], strike, p["t"], p["iv30"], p["base"], p["skew"],
                             p["smile"], p["event"])
    assert one == pytest.approx(float(vec[0]), rel=1e-12)
    assert one > 0


@settings(max_examples=300, deadline=None)
@given(st.floats(0.0, 400.0), st.floats(0.0, 1.2), st.integers(0, 4), st.sampled_from(TICKS))
def test_scalar_quotes_match_and_are_well_formed(theo: float, t: float, liquidity: int,
                                                 ticks: tuple[int, int]) -> None:
    bids, asks = quote_cents(np.array([theo]), np.array([t]), liquidity, ticks)
    bid, ask = quote_cents_scalar(theo, t, liquidity, ticks)
    assert (bid, ask) == (int(bids[0]), int(asks[0]))
    assert 0 <= bid < ask
    low, high = ticks
    assert bid <= round(theo * 100) + 1 and ask >= round(theo * 100) - 1
    assert bid % (high if bid >= NICKEL_ABOVE_CENTS else low) == 0
    assert ask % (high if ask >= NICKEL_ABOVE_CENTS else low) == 0
    assert quote_size_scalar(theo, liquidity) == int(quote_sizes(np.array([theo]), liquidity)[0])


@pytest.mark.parametrize(("liquidity", "ticks"), [(4, (1, 1)), (3, (1, 5)), (1, (1, 5)),
                                                  (2, (5, 10))])
def test_bids_and_asks_are_monotone_in_the_theoretical_value(liquidity: int,
                                                             ticks: tuple[int, int]) -> None:
    theo = np.linspace(0.0, 60.0, 60_001)
    for t in (0.0, 0.3, 1.0):
        bid, ask = quote_cents(theo, np.full(theo.shape, t), liquidity, ticks)
        assert np.all(np.diff(bid) >= 0)
        assert np.all(np.diff(ask) >= 0)
        assert np.all(bid < ask) and np.all(bid >= 0)


def test_term_structure_reverts_to_the_long_run_level() -> None:
    t = np.array([7 / 365, 30 / 365, 1.0, 3.0])
    stressed = atm_vol(0.40, 0.20, t)
    calm = atm_vol(0.12, 0.20, t)
    assert stressed[1] == pytest.approx(0.40) and calm[1] == pytest.approx(0.12)
    assert np.all(np.diff(stressed) < 0)  # backwardation
    assert np.all(np.diff(calm) > 0)  # contango
    assert 0.2 < stressed[-1] < 0.3


@pytest.mark.parametrize(("price", "vol", "t"), [(590.0, 0.16, 7 / 365), (590.0, 0.16, 1.0),
                                                 (135.0, 0.5, 0.1), (12.0, 0.6, 0.4)])
def test_strike_grid_is_sorted_positive_and_centred(price: float, vol: float, t: float) -> None:
    grid = strike_grid(price, vol, t, 4, price > 500)
    assert np.all(np.diff(grid) > 0) and grid[0] > 0
    assert grid[0] < price < grid[-1]
    assert 10 <= len(grid) <= 200
    assert grid[0] <= price * 0.9 and grid[-1] >= price * 1.1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 400.0), st.floats(0.0, 1.2), st.integers(0, 4),
                          st.sampled_from(TICKS)), min_size=1, max_size=30))
def test_mixed_book_gives_every_contract_its_own_quote(rows: list[tuple]) -> None:
    theo = np.array([r[0] for r in rows])
    t = np.array([r[1] for r in rows])
    width = np.array([liquidity_width(r[2]) for r in rows])
    size_base = np.array([liquidity_size(r[2]) for r in rows], dtype=np.int64)
    low = np.array([r[3][0] for r in rows], dtype=np.int64)
    high = np.array([r[3][1] for r in rows], dtype=np.int64)
    bid, ask, size = quote_book(theo, t, width, size_base, low, high)
    for k, (th, tt, liquidity, ticks) in enumerate(rows):
        one_bid, one_ask = quote_cents(np.array([th]), np.array([tt]), liquidity, ticks)
        assert (int(bid[k]), int(ask[k])) == (int(one_bid[0]), int(one_ask[0]))
        assert int(size[k]) == int(quote_sizes(np.array([th]), liquidity)[0])
