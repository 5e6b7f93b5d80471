from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tastydesk.engine.broker.paper.fills import (
    LegMarket,
    aggressiveness,
    displayed_units,
    far_price,
    fill_probability,
    is_marketable,
    mid_price,
    natural_price,
    split_price,
)

D = Decimal


def put_credit_spread() -> list[LegMarket]:
    # Sell the 95 put at 2.00/2.10, buy the 90 put at 0.80/0.90.
    return [LegMarket(1, 1, D("2.00"), D("2.10")), LegMarket(-1, 1, D("0.80"), D("0.90"))]


def test_spread_prices_follow_the_sign_convention() -> None:
    legs = put_credit_spread()
    assert natural_price(legs) == D("1.10")
    assert far_price(legs) == D("1.30")
    assert mid_price(legs) == D("1.20")


def test_debit_spread_prices_are_negative() -> None:
    legs = [LegMarket(-1, 1, D("2.00"), D("2.10")), LegMarket(1, 1, D("0.80"), D("0.90"))]
    assert natural_price(legs) == D("-1.30")
    assert mid_price(legs) == D("-1.20")
    assert is_marketable(D("-1.30"), legs)
    assert is_marketable(D("-1.40"), legs)
    assert not is_marketable(D("-1.20"), legs)


def test_credit_marketable_at_or_below_natural() -> None:
    legs = put_credit_spread()
    assert is_marketable(D("1.10"), legs)
    assert is_marketable(D("1.00"), legs)
    assert not is_marketable(D("1.11"), legs)


def test_aggressiveness_scale() -> None:
    legs = put_credit_spread()
    assert aggressiveness(D("1.10"), legs) == pytest.approx(1.0)
    assert aggressiveness(D("1.20"), legs) == pytest.approx(0.5)
    assert aggressiveness(D("1.30"), legs) == pytest.approx(0.0)
    assert aggressiveness(D("1.50"), legs) < 0


def test_fill_probability_grows_toward_natural_and_with_time() -> None:
    at_mid = fill_probability(0.5, 0, 60)
    nearer = fill_probability(0.7, 0, 60)
    older = fill_probability(0.5, 3600, 60)
    assert 0 < at_mid < nearer < 1
    assert at_mid < older
    assert fill_probability(0.5, 0, 120) > at_mid
    assert fill_probability(0.2, 3600, 3600) == 0.0
    assert fill_probability(-1.0, 3600, 3600) == 0.0
    assert fill_probability(0.5, 0, 0) == 0.0


def test_displayed_units_uses_the_thinnest_leg() -> None:
    legs = [LegMarket(1, 1, D("1"), D("1.1"), 30, 40), LegMarket(-1, 2, D("0.5"), D("0.6"), 9, 7)]
    assert displayed_units(legs) == 3
    assert displayed_units(put_credit_spread()) is None


@pytest.mark.parametrize("price", ["1.10", "1.20", "1.30", "0.01", "5.00", "-0.50"])
def test_split_sums_to_the_order_price(price: str) -> None:
    legs = put_credit_spread()
    prices = split_price(D(price), legs)
    assert all(p >= 0 for p in prices)
    assert sum(leg.sign * leg.ratio * p for leg, p in zip(legs, prices, strict=True)) == D(price)


def test_split_keeps_mids_when_the_price_is_mid() -> None:
    assert split_price(D("1.20"), put_credit_spread()) == (D("2.05"), D("0.85"))


def test_split_ratio_spread_with_odd_residual() -> None:
    # Sell 1 at 1.00 mid, buy 2 at 0.30 mid: mid credit 0.40; ask 0.37 (odd cents off).
    legs = [LegMarket(1, 1, D("0.95"), D("1.05")), LegMarket(-1, 2, D("0.25"), D("0.35"))]
    for price in ("0.37", "-0.03", "0.99", "-1.01"):
        prices = split_price(D(price), legs)
        assert all(p >= 0 for p in prices)
        total = sum(leg.sign * leg.ratio * p for leg, p in zip(legs, prices, strict=True))
        assert total == D(price)


def test_split_rejects_impossible_and_sub_cent_prices() -> None:
    buys = [LegMarket(-1, 1, D("1.00"), D("1.10"))]
    with pytest.raises(ValueError, match="cannot be split"):
        split_price(D("0.50"), buys)
    with pytest.raises(ValueError, match="whole number of cents"):
        split_price(D("1.205"), put_credit_spread())


cents = st.integers(min_value=0, max_value=2000)


@given(
    st.lists(st.tuples(st.sampled_from([1, -1]), cents, st.integers(0, 50)), min_size=1,
             max_size=4),
    st.integers(min_value=-3000, max_value=3000),
)
def test_split_property(raw: list[tuple[int, int, int]], target: int) -> None:
    legs = [LegMarket(sign, 1, D(bid) / 100, D(bid + w) / 100) for sign, bid, w in raw]
    price = D(target) / 100
    signs = {leg.sign for leg in legs}
    if (signs == {1} and target < 0) or (signs == {-1} and target > 0):
        with pytest.raises(ValueError):
            split_price(price, legs)
        return
    prices = split_price(price, legs)
    assert all(p >= 0 for p in prices)
    assert sum(leg.sign * p for leg, p in zip(legs, prices, strict=True)) == price
