from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tastydesk.engine.domain.enums import OrderPurpose, RuleType
from tastydesk.engine.domain.instruments import (
    NICKEL_TICKS,
    PENNY_TICKS,
    SPREAD_PENNY_TICKS,
    TickTable,
)
from tastydesk.engine.execution_pricing.walk import (
    FAST,
    NORMAL,
    PATIENT,
    PriceWalk,
    Urgency,
    floor_price,
    preset,
    start_price,
    step_price,
    urgency_for,
    walk_limit,
)

D = Decimal
cents = st.integers(-2000, 2000).map(lambda n: D(n) / 100)
tables = st.sampled_from([PENNY_TICKS, NICKEL_TICKS, SPREAD_PENNY_TICKS])
walks = st.builds(PriceWalk, interval_seconds=st.floats(1, 900),
                  attempts=st.integers(1, 12), start_offset=cents.map(abs))


def prices(start: Decimal, natural: Decimal, limit: Decimal | None, walk: PriceWalk,
           ticks: TickTable, extra: int = 2) -> list[Decimal]:
    return [step_price(start, natural, limit, i, walk, ticks)
            for i in range(walk.attempts + extra)]


def test_a_credit_walks_from_mid_to_natural_in_equal_shares() -> None:
    # mid 2.44, natural 2.20: four prices concede thirds of the 0.24
    assert prices(D("2.44"), D("2.20"), None, NORMAL, SPREAD_PENNY_TICKS) == [
        D("2.44"), D("2.36"), D("2.28"), D("2.20"), D("2.20"), D("2.20")]


def test_a_debit_walks_toward_the_more_negative_natural() -> None:
    assert prices(D("-1.50"), D("-1.80"), None, FAST, SPREAD_PENNY_TICKS, extra=1) == [
        D("-1.50"), D("-1.65"), D("-1.80"), D("-1.80")]


def test_the_limit_stops_the_walk_when_nearer_than_natural() -> None:
    walk = preset(Urgency.PATIENT)
    assert prices(D("2.44"), D("2.20"), D("2.35"), walk, SPREAD_PENNY_TICKS) == [
        D("2.44"), D("2.42"), D("2.40"), D("2.37"), D("2.35"), D("2.35"), D("2.35")]
    # a limit beyond natural changes nothing: the walk ends at natural
    assert prices(D("2.44"), D("2.20"), D("2.00"), walk, SPREAD_PENNY_TICKS)[-1] == D("2.20")
    # a start already past the limit prices at the limit, rounded to its good side
    assert step_price(D("2.30"), D("2.20"), D("2.333"), 0, walk, SPREAD_PENNY_TICKS) == D("2.34")


def test_single_leg_prices_respect_nickel_ticks() -> None:
    walk = PriceWalk(interval_seconds=60, attempts=3)
    # above $3 the nickel table steps 0.10: mid 3.55 to natural 3.20
    assert prices(D("3.55"), D("3.20"), None, walk, NICKEL_TICKS, extra=0) == [
        D("3.60"), D("3.40"), D("3.20")]


@settings(max_examples=400, deadline=None)
@given(start=cents, width=cents.map(abs), limit=st.none() | cents, walk=walks, ticks=tables)
def test_walk_properties(start: Decimal, width: Decimal, limit: Decimal | None,
                         walk: PriceWalk, ticks: TickTable) -> None:
    natural = start - width
    floor = floor_price(natural, limit)
    seq = prices(start, natural, limit, walk, ticks)
    for price in seq:
        assert ticks.is_on_tick(price)
        if limit is not None:
            assert price >= limit  # never past the trader's limit
        assert price >= floor
    assert all(a >= b for a, b in pairwise(seq))  # monotone toward natural
    last = seq[walk.attempts - 1]
    tick = ticks.tick_for(floor)
    assert floor <= last < floor + tick  # at natural or the limit (on its good side)
    assert seq[walk.attempts:] == [last, last]


def test_slippage_bounds_a_fast_walk() -> None:
    assert walk_limit(D("1.00"), None, FAST) == D("0.50")
    assert walk_limit(D("1.00"), D("0.70"), FAST) == D("0.70")
    assert walk_limit(D("-2.00"), D("-3.00"), FAST) == D("-2.50")
    assert walk_limit(D("1.00"), D("0.70"), NORMAL) == D("0.70")
    # natural ran away: the re-priced attempts stop at the slippage bound
    limit = walk_limit(D("1.00"), None, FAST)
    assert step_price(D("1.00"), D("0.10"), limit, 5, FAST, SPREAD_PENNY_TICKS) == D("0.50")


def test_attempt_counts() -> None:
    assert PATIENT.last_attempt == 4 and PATIENT.has_attempt(4) and not PATIENT.has_attempt(5)
    assert FAST.last_attempt is None and FAST.has_attempt(1000)
    assert not FAST.has_attempt(-1)
    assert PriceWalk(10, 3, repeats_at_natural=2).last_attempt == 4
    assert start_price(D("1.20"), preset(Urgency.PATIENT, start_offset=D("0.05"))) == D("1.25")


def test_custom_values_are_checked() -> None:
    with pytest.raises(ValueError, match="attempts"):
        preset(Urgency.NORMAL, attempts=0)
    with pytest.raises(ValueError, match="interval_seconds"):
        PriceWalk(interval_seconds=0, attempts=3)
    with pytest.raises(ValueError, match="max_slippage"):
        preset(Urgency.FAST, max_slippage=D("-1"))
    with pytest.raises(ValueError, match="start_offset"):
        PriceWalk(10, 3, start_offset=D("-0.01"))
    with pytest.raises(ValueError, match="attempt"):
        step_price(D("1"), D("0.9"), None, -1, NORMAL, SPREAD_PENNY_TICKS)


def test_urgency_by_purpose() -> None:
    assert urgency_for(OrderPurpose.OPEN).urgency is Urgency.PATIENT
    assert urgency_for(OrderPurpose.CLOSE, RuleType.PROFIT_TARGET) == (
        Urgency.NORMAL, "normal pricing: profit target")
    assert urgency_for(OrderPurpose.CLOSE, RuleType.STOP_LOSS) == (
        Urgency.FAST, "fast pricing: stop loss")
    assert urgency_for(OrderPurpose.CLOSE, RuleType.DELTA_BREACH).urgency is Urgency.FAST
    assert urgency_for(OrderPurpose.CLOSE, expiration_risk=True) == (
        Urgency.FAST, "fast pricing: expiration risk")
    assert urgency_for(OrderPurpose.PARTIAL_CLOSE, RuleType.PARTIAL_CLOSE).urgency is \
        Urgency.NORMAL
    assert urgency_for(OrderPurpose.CLOSE) == (Urgency.NORMAL, "normal pricing: close")
    assert urgency_for(OrderPurpose.ROLL, RuleType.ROLL).urgency is Urgency.NORMAL
