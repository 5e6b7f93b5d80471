from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from tastydesk.engine.orders.walk import initial_price, next_price


def test_credit_walk_concedes_toward_natural_and_stops_there() -> None:
    price = initial_price(D("1.00"), D("0.96"), D("0"))
    seen = [price]
    while (nxt := next_price(seen[-1], D("0.96"), D("0.01"))) is not None:
        seen.append(nxt)
    assert seen == [D("1.00"), D("0.99"), D("0.98"), D("0.97"), D("0.96")]


def test_debit_walk_pays_more_each_step_but_never_past_natural() -> None:
    assert next_price(D("-2.00"), D("-2.05"), D("0.02")) == D("-2.02")
    assert next_price(D("-2.04"), D("-2.05"), D("0.02")) == D("-2.05")
    assert next_price(D("-2.05"), D("-2.05"), D("0.02")) is None


def test_user_limit_is_never_crossed() -> None:
    assert next_price(D("1.00"), D("0.90"), D("0.05"), limit=D("0.98")) == D("0.98")
    assert next_price(D("0.98"), D("0.90"), D("0.05"), limit=D("0.98")) is None


def test_start_offset_is_in_our_favour() -> None:
    assert initial_price(D("1.00"), D("0.90"), D("0.03")) == D("1.03")
    assert initial_price(D("-1.00"), D("-1.10"), D("0.03")) == D("-0.97")


@given(st.decimals("-20", "20", places=2), st.decimals("0", "2", places=2),
       st.decimals("0.01", "0.5", places=2))
def test_walk_is_monotonic_and_bounded(mid: D, half_spread: D, step: D) -> None:
    natural = mid - half_spread
    price = initial_price(mid, natural, D("0"))
    for _ in range(300):
        nxt = next_price(price, natural, step)
        if nxt is None:
            break
        assert natural <= nxt < price
        price = nxt
    assert price >= natural
