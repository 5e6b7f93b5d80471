"""Assignment prevention: the expiration-risk and ex-dividend rules, the risk figures they read,
and their validation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from tastydesk.engine.domain.enums import AfterAssignment, RuleType
from tastydesk.engine.domain.strategy import ManagementRule
from tastydesk.engine.lifecycle.risk import assignment_risk
from tastydesk.engine.positions.monitored import monitored_leg
from tastydesk.engine.positions.rules import HoldState, PositionState, evaluate
from tastydesk.engine.strategies.codec import strategy_from_dict, strategy_to_dict
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES
from tastydesk.engine.strategies.validation import validate_strategy_dict

D = Decimal
TODAY = date(2026, 3, 19)
NOW = datetime(2026, 3, 19, 15, tzinfo=UTC)


def short(option: str, strike: str, expiry: date, bid: str, ask: str) -> object:
    kind = "C" if option == "call" else "P"
    symbol = f"XYZ   {expiry:%y%m%d}{kind}{int(D(strike) * 1000):08d}"
    leg = monitored_leg(symbol, -1, D("1.00"), 1)
    leg.bid, leg.ask = D(bid), D(ask)
    return leg


def state(*risks: object) -> PositionState:
    return PositionState(entry_price=1.0, mark=0.5, max_profit_per_unit=100.0, dte=5,
                         short_leg_delta=0.3, position_delta=0.0,
                         short_risks=tuple(risks))  # type: ignore[arg-type]


def fire(rule: ManagementRule, st: PositionState) -> bool:
    _, acting = evaluate((rule,), st, [HoldState()], NOW)
    return acting == 0


def test_short_leg_risk_figures() -> None:
    leg = short("call", "100", date(2026, 3, 20), "2.05", "2.15")
    risk = assignment_risk(leg, 102.0, TODAY, (date(2026, 3, 20), D("0.50")))
    assert risk is not None
    assert risk.in_the_money and risk.intrinsic == D("2") and risk.extrinsic == D("0.10")
    assert risk.dte == 1 and risk.days_to_ex_dividend == 1 and risk.dividend_exposed
    assert "ITM" in risk.describe() and "ex-div 0.50 in 1d" in risk.describe()
    # A long leg carries no assignment risk.
    long_leg = monitored_leg(leg.symbol, 1, D("1"), 1)
    assert assignment_risk(long_leg, 102.0, TODAY, None) is None


def test_expiration_risk_acts_on_the_last_day_in_or_near_the_money() -> None:
    rule = ManagementRule(RuleType.EXPIRATION_RISK, D("1"), strike_distance_pct=D("1"))
    put = short("put", "100", TODAY, "0.40", "0.50")
    near = assignment_risk(put, 100.5, TODAY, None)  # 0.5 % above the strike: near
    far = assignment_risk(put, 110.0, TODAY, None)
    tomorrow = assignment_risk(short("put", "100", date(2026, 3, 20), "1", "1.1"), 99.0, TODAY,
                               None)
    assert fire(rule, state(near))
    assert not fire(rule, state(far))  # out of the money, 9 % away
    assert not fire(rule, state(tomorrow))  # in the money, but one day left is not fewer than 1
    assert fire(ManagementRule(RuleType.EXPIRATION_RISK, D("2")), state(tomorrow))


def test_ex_dividend_rule_acts_on_a_short_call_worth_less_than_the_dividend() -> None:
    rule = ManagementRule(RuleType.EX_DIVIDEND, D("3"))
    call = short("call", "100", date(2026, 4, 17), "5.05", "5.15")
    cheap = assignment_risk(call, 105.0, TODAY, (date(2026, 3, 20), D("0.50")))
    rich = assignment_risk(call, 105.0, TODAY, (date(2026, 3, 20), D("0.05")))
    later = assignment_risk(call, 105.0, TODAY, (date(2026, 3, 30), D("0.50")))
    assert fire(rule, state(cheap))
    assert not fire(rule, state(rich))  # time value above the dividend: no early exercise
    assert not fire(rule, state(later))  # ex-date 11 days away


def test_validation_names_the_field_and_round_trips() -> None:
    base = strategy_to_dict(DEFAULT_STRATEGIES[0])
    assert strategy_from_dict(base).after_assignment is AfterAssignment.CLOSE
    bad = {**base, "after_assignment": "sell"}
    assert any("after_assignment" in str(e) for e in validate_strategy_dict(bad))
    rules = [dict(r) for r in base["rules"]]
    guard = next(r for r in rules if r["rule_type"] == "expiration_risk")
    guard["threshold"] = "0"
    errors = [str(e) for e in validate_strategy_dict({**base, "rules": rules})]
    assert any(".threshold" in e and "between 1 and 30" in e for e in errors)
    profit = next(r for r in rules if r["rule_type"] == "profit_target")
    profit["strike_distance_pct"] = "2"
    guard["threshold"] = "1"
    errors = [str(e) for e in validate_strategy_dict({**base, "rules": rules})]
    assert any("strike_distance_pct" in e and "expiration_risk rules only" in e for e in errors)
    wheel = strategy_from_dict({**base, "after_assignment": "wheel"})
    assert strategy_to_dict(wheel)["after_assignment"] == "wheel"
