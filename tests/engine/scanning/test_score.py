"""Strategies chosen among equals: expected return on buying power with a tail charge for
undefined risk, priority breaking ties."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from tastydesk.benchmarks.proposal import iron_condor, synthetic_chain
from tastydesk.engine.domain.enums import OptionType, Side
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.strategy import DteRange
from tastydesk.engine.proposals import build_proposal
from tastydesk.engine.scanning.score import TAIL_CHARGE, expected_return_on_buying_power, rank
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


@pytest.fixture(scope="module", name="proposal")
def fixture_proposal() -> TradeProposal:
    chain = synthetic_chain("SPY", D("580"), NOW, strikes_per_expiry=80,
                            expiries=[date(2026, 11, 27) + timedelta(weeks=i) for i in range(10)])
    return build_proposal(dataclasses.replace(iron_condor(width="10"), dte=DteRange(25, 30, 40)),
                          chain, NOW)


def _with(p: TradeProposal, ev: str, bp: str) -> TradeProposal:
    return dataclasses.replace(p, expected_value=D(ev), buying_power=D(bp))


def test_score_is_expected_value_over_buying_power(proposal: TradeProposal) -> None:
    assert expected_return_on_buying_power(_with(proposal, "-8", "800")) == D("-0.010")
    assert expected_return_on_buying_power(_with(proposal, "30", "0")) is None


def test_best_return_wins_and_priority_breaks_ties(proposal: TradeProposal) -> None:
    condor, strangle = (s for s in DEFAULT_STRATEGIES if "Condor" in s.name or "Strangle" in s.name)
    # The strangle ties up more buying power for the same fees: a better (less negative) return.
    ranked = rank([(_with(proposal, "-8", "800"), condor),
                   (_with(proposal, "-8", "4000"), strangle)])
    assert ranked[0][1] is strangle
    # Equal to the tenth of a percent: the lower priority number wins, whatever the order given.
    first = dataclasses.replace(condor, priority=2)
    ranked = rank([(_with(proposal, "-8", "4000"), first),
                   (_with(proposal, "-8.1", "4000"), strangle)])
    assert ranked[0][1] is strangle


def test_the_cash_secured_put_fits_the_default_paper_account() -> None:
    csp = next(s for s in DEFAULT_STRATEGIES if "Cash Secured" in s.name)
    # A 20-delta put on a $185 stock ties up about $18,500: within its cap, and at most a
    # quarter of the default $100,000 account's 80 % allocation.
    assert D("18500") <= csp.sizing.max_buying_power <= D("80000") / 3


def test_undefined_risk_is_charged_for_its_tail(proposal: TradeProposal) -> None:
    condor, strangle = (s for s in DEFAULT_STRATEGIES if "Condor" in s.name or "Strangle" in s.name)
    naked = dataclasses.replace(_with(proposal, "-8", "4000"), defined_risk=False,
                                max_loss=D("999999"))  # an uncovered leg: beyond its margin
    assert expected_return_on_buying_power(naked) == D("-0.002") - TAIL_CHARGE
    # The same return per dollar: the defined-risk trade wins.
    ranked = rank([(naked, strangle), (_with(proposal, "-8", "4000"), condor)])
    assert ranked[0][1] is condor
    # Ahead by more than the charge: the undefined-risk trade wins.
    rich = dataclasses.replace(_with(proposal, "40", "4000"), defined_risk=False,
                               max_loss=D("999999"))
    ranked = rank([(rich, strangle), (_with(proposal, "-8", "4000"), condor)])
    assert ranked[0][1] is strangle


def test_a_cash_secured_put_is_not_charged_its_cash_covers_the_worst_case(
        proposal: TradeProposal) -> None:
    short_put = tuple(leg for leg in proposal.legs
                      if leg.side is Side.SELL and leg.option_type is OptionType.PUT)
    secured = dataclasses.replace(_with(proposal, "-8", "4000"), defined_risk=False,
                                  legs=short_put, max_loss=D("3900"))  # assigned at the strike
    assert expected_return_on_buying_power(secured) == D("-0.002")
    # The same put on margin (its worst case beyond the buying power) is charged.
    margin = dataclasses.replace(secured, max_loss=D("9000"))
    assert expected_return_on_buying_power(margin) == D("-0.002") - TAIL_CHARGE
    # A short call is never covered by cash: charged whatever its buying power.
    strangle_like = dataclasses.replace(secured, legs=proposal.legs)
    assert expected_return_on_buying_power(strangle_like) == D("-0.002") - TAIL_CHARGE
