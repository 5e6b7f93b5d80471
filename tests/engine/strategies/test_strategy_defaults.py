from __future__ import annotations

from decimal import Decimal

from tastydesk.engine.domain.enums import (
    Bias,
    OptionType,
    RuleAction,
    RuleType,
    SelectionMethod,
    Side,
)
from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.strategies.codec import strategy_to_dict
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES
from tastydesk.engine.strategies.validation import validate_strategy_dict

BY_NAME = {s.name: s for s in DEFAULT_STRATEGIES}


GUARDS = (RuleType.EXPIRATION_RISK, RuleType.EX_DIVIDEND)


def rules(s: Strategy) -> dict[RuleType, Decimal]:
    """The exit rules, without the assignment guards every default carries."""
    return {r.rule_type: r.threshold for r in s.rules if r.rule_type not in GUARDS}


def test_every_default_guards_against_assignment() -> None:
    for s in DEFAULT_STRATEGIES:
        guards = {r.rule_type: r for r in s.rules if r.rule_type in GUARDS}
        assert guards[RuleType.EXPIRATION_RISK].threshold == Decimal("1"), s.name
        assert guards[RuleType.EXPIRATION_RISK].strike_distance_pct == Decimal("1"), s.name
        assert guards[RuleType.EX_DIVIDEND].enabled, s.name


def test_five_named_defaults_all_valid() -> None:
    assert list(BY_NAME) == [
        "Put Credit Spread - 30 DTE", "Call Credit Spread - 30 DTE", "Iron Condor - 45 DTE",
        "Short Strangle - 30 DTE", "Cash Secured Put - 30 DTE"]
    for s in DEFAULT_STRATEGIES:
        assert validate_strategy_dict(strategy_to_dict(s)) == [], s.name
        assert s.filters.min_underlying_price == Decimal("20")
        # The bullish-only cash-secured put has no IV rank floor (see strategies.defaults).
        floor = Decimal("0") if s.name == "Cash Secured Put - 30 DTE" else Decimal("20")
        assert (s.filters.iv_rank_min, s.filters.iv_rank_max) == (floor, Decimal("100"))
        assert s.filters.min_credit > 0


def test_put_credit_spread() -> None:
    s = BY_NAME["Put Credit Spread - 30 DTE"]
    short, long_ = s.legs
    assert (short.option_type, short.side, short.selection.value) == (
        OptionType.PUT, Side.SELL, Decimal("0.16"))
    assert (long_.side, long_.selection.method, long_.selection.value,
            long_.selection.reference_leg) == (Side.BUY, SelectionMethod.WIDTH, Decimal("5"), 0)
    assert (s.dte.min, s.dte.target, s.dte.max) == (25, 30, 35)
    assert s.biases == {Bias.BULLISH, Bias.NEUTRAL}
    assert rules(s) == {RuleType.PROFIT_TARGET: 50, RuleType.STOP_LOSS: 200,
                        RuleType.TIME_EXIT: 21}


def test_call_credit_spread_mirrors_it() -> None:
    s = BY_NAME["Call Credit Spread - 30 DTE"]
    assert [leg.option_type for leg in s.legs] == [OptionType.CALL, OptionType.CALL]
    assert s.biases == {Bias.BEARISH, Bias.NEUTRAL}
    assert rules(s) == {RuleType.PROFIT_TARGET: 50, RuleType.STOP_LOSS: 200,
                        RuleType.TIME_EXIT: 21}


def test_iron_condor_with_partial_close() -> None:
    s = BY_NAME["Iron Condor - 45 DTE"]
    assert [(leg.option_type, leg.side, leg.selection.method, leg.selection.value,
             leg.selection.reference_leg) for leg in s.legs] == [
        (OptionType.PUT, Side.SELL, SelectionMethod.DELTA, Decimal("0.16"), None),
        (OptionType.PUT, Side.BUY, SelectionMethod.WIDTH, Decimal("10"), 0),
        (OptionType.CALL, Side.SELL, SelectionMethod.DELTA, Decimal("0.16"), None),
        (OptionType.CALL, Side.BUY, SelectionMethod.WIDTH, Decimal("10"), 2)]
    assert (s.dte.min, s.dte.target, s.dte.max) == (40, 45, 50)
    assert s.is_neutral
    partial = next(r for r in s.rules if r.rule_type is RuleType.PARTIAL_CLOSE)
    assert (partial.threshold, partial.close_pct, partial.action, partial.enabled) == (
        Decimal("15"), 50, RuleAction.PARTIAL_CLOSE, True)
    assert s.sizing.quantity == 2  # a partial close needs more than one lot
    assert rules(s)[RuleType.PROFIT_TARGET] == 25


def test_strangle_and_cash_secured_put() -> None:
    strangle = BY_NAME["Short Strangle - 30 DTE"]
    assert {leg.option_type for leg in strangle.legs} == {OptionType.PUT, OptionType.CALL}
    assert rules(strangle)[RuleType.DELTA_BREACH] == Decimal("0.25")
    csp = BY_NAME["Cash Secured Put - 30 DTE"]
    assert csp.legs[0].selection.value == Decimal("0.20") and csp.biases == {Bias.BULLISH}
    assert rules(csp) == {RuleType.PROFIT_TARGET: 50, RuleType.STOP_LOSS: 300,
                          RuleType.TIME_EXIT: 7}
