from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tastydesk.engine.domain.enums import DeltaScope, RuleAction, RuleType
from tastydesk.engine.domain.strategy import ManagementRule
from tastydesk.engine.positions.rules import (
    HoldState,
    PositionState,
    close_quantity,
    evaluate,
    health,
    measure,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def state(mark: float, dte: int = 30, short_delta: float = 0.16) -> PositionState:
    # a 1.00 credit spread, $5 wide: max profit $100 per unit
    return PositionState(entry_price=1.0, mark=mark, max_profit_per_unit=100.0, dte=dte,
                         short_leg_delta=short_delta, position_delta=-0.05)


def rule(kind: RuleType, threshold: str, **kw: object) -> ManagementRule:
    return ManagementRule(rule_type=kind, threshold=Decimal(threshold), **kw)


def test_profit_target_measures_share_of_max_profit() -> None:
    assert measure(rule(RuleType.PROFIT_TARGET, "50"), state(0.40)) == 60.0


def test_stop_loss_measures_loss_as_share_of_credit() -> None:
    assert measure(rule(RuleType.STOP_LOSS, "200"), state(3.0)) == 200.0


def test_delta_breach_scopes() -> None:
    short = rule(RuleType.DELTA_BREACH, "0.25")
    pos = rule(RuleType.DELTA_BREACH, "0.25", delta_scope=DeltaScope.POSITION)
    assert measure(short, state(1.0, short_delta=0.31)) == 0.31
    assert measure(pos, state(1.0)) == 0.05


def test_priority_decides_between_triggered_rules() -> None:
    rules = (rule(RuleType.PROFIT_TARGET, "50", priority=2), rule(RuleType.TIME_EXIT, "21",
                                                                  priority=1))
    holds = [HoldState(), HoldState()]
    statuses, acting = evaluate(rules, state(0.3, dte=20), holds, NOW)
    assert [s.triggered for s in statuses] == [True, True]
    assert acting == 1


def test_hold_requirement_ignores_a_single_bad_tick() -> None:
    rules = (rule(RuleType.STOP_LOSS, "200", hold_evaluations=3, hold_seconds=60),)
    holds = [HoldState()]
    _, acting = evaluate(rules, state(3.5), holds, NOW)
    assert acting is None
    _, acting = evaluate(rules, state(0.9), holds, NOW + timedelta(seconds=10))  # recovers
    assert acting is None and holds[0].count == 0
    for i in range(3):
        _, acting = evaluate(rules, state(3.5), holds, NOW + timedelta(seconds=20 + i * 40))
    assert acting == 0


def test_confirmation_is_evaluations_or_seconds_whichever_comes_first() -> None:
    by_count = (rule(RuleType.STOP_LOSS, "200", hold_evaluations=3, hold_seconds=600),)
    holds = [HoldState()]
    acted = [evaluate(by_count, state(3.5), holds, NOW + timedelta(seconds=i))[1]
             for i in range(3)]
    assert acted == [None, None, 0]  # three in a row, 2 s of the 600
    by_time = (rule(RuleType.STOP_LOSS, "200", hold_evaluations=50, hold_seconds=10),)
    holds = [HoldState()]
    acted = [evaluate(by_time, state(3.5), holds, NOW + timedelta(seconds=s))[1]
             for s in (0, 4, 9, 10)]
    assert acted == [None, None, None, 0]  # 10 s held, 4 evaluations of the 50
    # Seconds 0: evaluations only (never "zero seconds have passed, act").
    no_time = (rule(RuleType.STOP_LOSS, "200", hold_evaluations=2, hold_seconds=0),)
    holds = [HoldState()]
    assert evaluate(no_time, state(3.5), holds, NOW)[1] is None
    assert evaluate(no_time, state(3.5), holds, NOW)[1] == 0
    # One evaluation (the stop-exit benchmark's setting) acts at once.
    once = (rule(RuleType.STOP_LOSS, "200", hold_evaluations=1, hold_seconds=0),)
    assert evaluate(once, state(3.5), [HoldState()], NOW)[1] == 0


def test_paused_positions_report_but_never_act() -> None:
    rules = (rule(RuleType.PROFIT_TARGET, "50"),)
    statuses, acting = evaluate(rules, state(0.1), [HoldState()], NOW, paused=True)
    assert statuses[0].triggered and acting is None


def test_distance_to_trigger_and_health() -> None:
    rules = (rule(RuleType.STOP_LOSS, "200"), rule(RuleType.TIME_EXIT, "21"))
    statuses, _ = evaluate(rules, state(2.8, dte=25), [HoldState(), HoldState()], NOW)
    assert statuses[0].distance == pytest.approx(20.0)  # 180 % lost, 20 points from the stop
    assert statuses[1].distance == pytest.approx(4.0)
    assert health(statuses) == "warn"
    statuses, _ = evaluate(rules, state(3.2, dte=25), [HoldState(), HoldState()], NOW)
    assert health(statuses) == "danger"


def test_partial_close_quantity() -> None:
    partial = rule(RuleType.PARTIAL_CLOSE, "35", action=RuleAction.PARTIAL_CLOSE, close_pct=50)
    assert close_quantity(partial, 4) == 2
    assert close_quantity(partial, 2) == 1
    assert close_quantity(partial, 1) == 0  # never the whole position
    assert close_quantity(replace(partial, close_pct=75), 2) == 1  # leaves one open
    assert close_quantity(rule(RuleType.PROFIT_TARGET, "50"), 4) == 4


def test_missing_quotes_never_trigger() -> None:
    s = state(0.1)
    s.quote_ok = False
    statuses, acting = evaluate((rule(RuleType.PROFIT_TARGET, "50"),), s, [HoldState()], NOW)
    assert acting is None and not statuses[0].triggered
