from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tastydesk.engine.domain.enums import RuleType
from tastydesk.engine.domain.instruments import NICKEL_TICKS, SPREAD_PENNY_TICKS
from tastydesk.engine.domain.strategy import ManagementRule
from tastydesk.engine.execution_pricing.thresholds import (
    loss_pct,
    max_profit_at_fill,
    profit_captured_pct,
    profit_target_mark,
    profit_target_price,
    stop_mark,
    stop_price,
)
from tastydesk.engine.positions.rules import PositionState, measure

D = Decimal
prices = st.integers(1, 2000).map(lambda n: D(n) / 100)
pcts = st.integers(1, 400).map(D)


def test_max_profit_follows_the_credit_actually_received() -> None:
    # condor proposed at a 2.44 mid (max profit 244 a unit), filled at 2.37
    assert max_profit_at_fill(D("244"), D("2.44"), D("2.37")) == D("237.00")
    # a debit spread with max profit 350 at a -1.50 mid, filled at -1.58
    assert max_profit_at_fill(D("350"), D("-1.50"), D("-1.58")) == D("342.00")


def test_targets_against_the_fill() -> None:
    assert profit_target_mark(D("1.20"), D("50")) == D("0.60")
    assert profit_target_price(D("1.20"), D("50"), SPREAD_PENNY_TICKS) == D("-0.60")
    # debit: max profit 342 at the fill, 50 % is 1.71 above the -1.58 entry
    assert profit_target_mark(D("-1.58"), D("50"), D("342")) == D("-3.29")
    assert profit_target_price(D("-1.58"), D("50"), SPREAD_PENNY_TICKS, D("342")) == D("3.29")
    assert stop_mark(D("1.20"), D("200")) == D("3.60")
    assert stop_mark(D("-1.58"), D("50")) == D("-0.79")
    assert stop_price(D("1.20"), D("200"), SPREAD_PENNY_TICKS) == D("-3.60")
    # off-tick thresholds round to the side that keeps the promise: at least the target,
    # at most the stop's loss
    assert profit_target_price(D("1.23"), D("25"), SPREAD_PENNY_TICKS) == D("-0.92")  # 0.9225
    assert stop_price(D("3.33"), D("50"), NICKEL_TICKS) == D("-4.90")  # 4.995 on $0.10 ticks


def test_bad_thresholds_say_why() -> None:
    with pytest.raises(ValueError, match="pct"):
        profit_target_mark(D("1"), D("0"))
    with pytest.raises(ValueError, match="max_profit_per_unit"):
        profit_target_mark(D("-1.50"), D("50"))  # a debit needs its max profit
    with pytest.raises(ValueError, match="max_profit_per_unit"):
        profit_target_mark(D("1.50"), D("50"), D("0"))
    with pytest.raises(ValueError, match="entry_price"):
        stop_mark(D("0"), D("100"))


@settings(max_examples=300, deadline=None)
@given(entry=prices, pct=pcts, credit=st.booleans())
def test_marks_are_where_the_measures_reach_the_threshold(entry: Decimal, pct: Decimal,
                                                          credit: bool) -> None:
    signed = entry if credit else -entry
    max_profit = entry * 100 if credit else (entry + D("2.00")) * 100
    target = profit_target_mark(signed, pct, max_profit)
    assert profit_captured_pct(float(signed), float(target), float(max_profit)) == \
        pytest.approx(float(pct))
    stop = stop_mark(signed, pct)
    assert loss_pct(float(signed), float(stop)) == pytest.approx(float(pct))


def test_measures_are_the_rule_monitors() -> None:
    """Drop-in: the rule monitor's measure gives the same figures, so it can call these."""
    state = PositionState(entry_price=2.37, mark=1.10, max_profit_per_unit=237.0, dte=20,
                          short_leg_delta=0.2, position_delta=0.0)
    target = ManagementRule(RuleType.PROFIT_TARGET, D("50"))
    stop = ManagementRule(RuleType.STOP_LOSS, D("200"))
    assert measure(target, state) == pytest.approx(profit_captured_pct(2.37, 1.10, 237.0))
    assert measure(stop, state) == pytest.approx(loss_pct(2.37, 1.10))
    assert profit_captured_pct(2.37, None, 237.0) is None
    assert profit_captured_pct(2.37, 1.0, 0.0) is None
    assert loss_pct(0.0, 1.0) is None
