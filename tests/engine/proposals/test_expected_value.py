"""Expected value and probability of profit from each leg's own implied volatility."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tastydesk.engine.domain.enums import OptionType, Side
from tastydesk.engine.domain.proposal import ResolvedLeg
from tastydesk.engine.pricing.bsm import bsm_price
from tastydesk.engine.proposals.metrics import expected_pnl, probability_of_profit
from tastydesk.engine.proposals.payoff import expiry_payoff
from tastydesk.engine.proposals.valuation import leg_smile, years_to_expiry
from tests.engine.proposals.legs_kit import BUY, EXPIRY, SELL, C, P, leg

NOW = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)  # 45 days to the 12-18 close
SPOT, RATE = 100.0, 0.04
T = years_to_expiry(EXPIRY, NOW)


def flat(k: float) -> float:
    return 0.20


def skewed(k: float) -> float:
    """A put skew as steep as the paper market's SPY chain: IV falls 0.5 per unit of log strike."""
    return 0.20 + 0.5 * math.log(SPOT / k)


def fair(side: Side, option_type: OptionType, strike: float, smile) -> ResolvedLeg:  # type: ignore[no-untyped-def]
    iv = smile(strike)
    price = float(bsm_price(SPOT, strike, T, RATE, 0.0, iv, option_type is OptionType.CALL))
    return leg(side, option_type, str(strike), f"{price:.2f}", iv=iv)


def mid(legs: list[ResolvedLeg]) -> Decimal:
    return sum((lg.mid if lg.side is SELL else -lg.mid for lg in legs), Decimal(0))


def figures(legs: list[ResolvedLeg], price: Decimal, *, own_vols: bool = True
            ) -> tuple[float, float]:
    payoff = expiry_payoff(legs, price, 1, rate=RATE)
    shorts = [lg.iv for lg in legs if lg.side is SELL]
    vol = sum(shorts) / len(shorts)
    smile = leg_smile(legs, vol) if own_vols else None
    return (expected_pnl(payoff, SPOT, T, vol, RATE, smile=smile),
            probability_of_profit(payoff, SPOT, T, vol, RATE, smile=smile))


def put_spread(smile) -> list[ResolvedLeg]:  # type: ignore[no-untyped-def]
    return [fair(SELL, P, 92.0, smile), fair(BUY, P, 87.0, smile)]


def call_spread(smile) -> list[ResolvedLeg]:  # type: ignore[no-untyped-def]
    return [fair(SELL, C, 108.0, smile), fair(BUY, C, 113.0, smile)]


def condor(smile) -> list[ResolvedLeg]:  # type: ignore[no-untyped-def]
    return put_spread(smile) + call_spread(smile)


# Cent rounding of two to four legs and the carry of the premium (r x t x credit) bound the
# expected value of a fairly priced position: a dollar per spread at most here.
FAIR_EV = 1.0


@pytest.mark.parametrize("build", [put_spread, call_spread, condor])
def test_fair_positions_on_a_skew_free_chain_expect_nothing(build) -> None:  # type: ignore[no-untyped-def]
    legs = build(flat)
    ev, pop = figures(legs, mid(legs))
    assert abs(ev) < FAIR_EV
    assert 0.5 < pop < 1.0


def test_put_and_call_credit_spreads_on_a_skew_both_expect_nothing() -> None:
    puts, calls = put_spread(skewed), call_spread(skewed)
    put_ev, _ = figures(puts, mid(puts))
    call_ev, _ = figures(calls, mid(calls))
    assert abs(put_ev) < FAIR_EV and abs(call_ev) < FAIR_EV
    # One volatility for both legs (the short leg's) is what biased them by side.
    put_one, _ = figures(puts, mid(puts), own_vols=False)
    call_one, _ = figures(calls, mid(calls), own_vols=False)
    assert put_one < -5.0 and call_one > 2.0


def test_condor_on_a_skew_expects_about_nothing() -> None:
    legs = condor(skewed)
    ev, pop = figures(legs, mid(legs))
    assert abs(ev) < FAIR_EV
    assert 0.5 < pop < 1.0
    one_vol, _ = figures(legs, mid(legs), own_vols=False)
    assert one_vol < -5.0


def test_expected_value_moves_with_the_credit_received() -> None:
    legs = put_spread(skewed)
    at_mid, pop_mid = figures(legs, mid(legs))
    better, pop_better = figures(legs, mid(legs) + Decimal("0.10"))
    worse, _ = figures(legs, mid(legs) - Decimal("0.05"))
    assert better - at_mid == pytest.approx(10.0, abs=1e-6)
    assert worse - at_mid == pytest.approx(-5.0, abs=1e-6)
    assert pop_better > pop_mid  # the breakeven moves down with the extra credit


def test_skew_lowers_the_chance_of_a_low_finish() -> None:
    """A put skew prices downside digitals below the lognormal at the short strike's IV, so a
    put credit spread's POP rises and a call credit spread's falls against one volatility."""
    puts, calls = put_spread(skewed), call_spread(skewed)
    _, put_pop = figures(puts, mid(puts))
    _, put_pop_one = figures(puts, mid(puts), own_vols=False)
    _, call_pop = figures(calls, mid(calls))
    _, call_pop_one = figures(calls, mid(calls), own_vols=False)
    assert put_pop > put_pop_one
    assert call_pop < call_pop_one


def test_smile_uses_the_front_legs_and_falls_back() -> None:
    from datetime import date
    near = leg(SELL, C, "100", "2", iv=0.30)
    far = leg(BUY, C, "100", "3", iv=0.25, expiry=date(2027, 1, 15))
    smile = leg_smile([near, far], 0.5)
    assert smile.vol(100.0)[0] == pytest.approx(0.30)
    assert leg_smile([far], 0.5, EXPIRY).vol(100.0)[0] == pytest.approx(0.5)
    no_iv = leg(SELL, P, "95", "1", iv=0.0)
    assert leg_smile([no_iv], 0.4).vol(95.0)[0] == pytest.approx(0.4)
