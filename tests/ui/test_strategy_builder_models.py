"""Leg and rule table models: editing, drag-and-drop reordering with reference remapping."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from decimal import Decimal

import pytest
from PySide6.QtCore import QModelIndex, Qt

from tastydesk.engine.domain.enums import (
    ExpiryChoice,
    OptionType,
    RuleAction,
    RuleType,
    SelectionMethod,
    Side,
)
from tastydesk.engine.domain.strategy import ManagementRule, StrategyLeg, StrikeSelection
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES
from tastydesk.ui.models import legs as L
from tastydesk.ui.models import rules as R
from tastydesk.ui.models.legs import LegTableModel
from tastydesk.ui.models.rules import RuleTableModel


def condor_legs() -> list[StrategyLeg]:
    def delta(t: OptionType, d: str) -> StrategyLeg:
        return StrategyLeg(t, Side.SELL, StrikeSelection(SelectionMethod.DELTA, Decimal(d)))

    def wing(t: OptionType, ref: int) -> StrategyLeg:
        return StrategyLeg(t, Side.BUY, StrikeSelection(SelectionMethod.WIDTH, Decimal("5"), ref))

    return [delta(OptionType.PUT, "0.16"), wing(OptionType.PUT, 0),
            delta(OptionType.CALL, "0.16"), wing(OptionType.CALL, 2)]


def refs(model: LegTableModel) -> list[int | None]:
    return [leg.selection.reference_leg for leg in model.legs()]


def test_legs_model_passes_qtmodeltester(qtmodeltester) -> None:
    model = LegTableModel(condor_legs())
    qtmodeltester.check(model)


def test_rules_model_passes_qtmodeltester(qtmodeltester) -> None:
    model = RuleTableModel(DEFAULT_STRATEGIES[0].rules)
    qtmodeltester.check(model)


def test_leg_edit_every_column_updates_leg() -> None:
    model = LegTableModel(condor_legs())
    changes: list[int] = []
    model.legs_changed.connect(lambda: changes.append(1))
    row = 3
    assert model.setData(model.index(row, L.COL_TYPE), "put")
    assert model.setData(model.index(row, L.COL_SIDE), "sell")
    assert model.setData(model.index(row, L.COL_METHOD), "leg_offset")
    assert model.setData(model.index(row, L.COL_VALUE), -7.5)
    assert model.setData(model.index(row, L.COL_REFERENCE), 1)
    assert model.setData(model.index(row, L.COL_RATIO), 2)
    assert model.setData(model.index(row, L.COL_EXPIRY), "offset")
    assert model.setData(model.index(row, L.COL_OFFSET), 30)
    leg = model.leg(row)
    assert leg == StrategyLeg(OptionType.PUT, Side.SELL,
                              StrikeSelection(SelectionMethod.LEG_OFFSET, Decimal("-7.5"), 1),
                              ratio=2, expiry=ExpiryChoice.OFFSET, expiry_offset_days=30)
    assert len(changes) == 8
    assert model.data(model.index(row, L.COL_VALUE)) == "-$7.50"
    assert model.data(model.index(row, L.COL_OFFSET)) == "+30d"


def test_leg_method_change_drops_reference_and_value_cell_follows_method() -> None:
    model = LegTableModel(condor_legs())
    assert model.setData(model.index(1, L.COL_METHOD), "delta")
    assert model.leg(1).selection.reference_leg is None
    assert not model.flags(model.index(1, L.COL_REFERENCE)) & Qt.ItemFlag.ItemIsEditable
    assert model.setData(model.index(1, L.COL_METHOD), "atm")
    assert not model.flags(model.index(1, L.COL_VALUE)) & Qt.ItemFlag.ItemIsEditable
    assert model.data(model.index(1, L.COL_VALUE)) == "-"


def test_leg_bad_value_is_refused() -> None:
    model = LegTableModel(condor_legs())
    before = model.legs()
    assert not model.setData(model.index(0, L.COL_TYPE), "straddle")
    assert not model.setData(model.index(0, L.COL_RATIO), "two")
    assert model.legs() == before


def test_leg_drag_and_drop_moves_rows_and_remaps_references() -> None:
    model = LegTableModel(condor_legs())
    # Drag the call pair (rows 2, 3) above the put pair: what the view does on an internal move.
    mime = model.mimeData([model.index(2, 0), model.index(3, 0), model.index(3, 4)])
    assert model.canDropMimeData(mime, Qt.DropAction.MoveAction, 0, 0, QModelIndex())
    handled = model.dropMimeData(mime, Qt.DropAction.MoveAction, 0, 0, QModelIndex())
    assert handled is False  # the view must not delete "source" rows after our move
    types = [(leg.option_type, leg.side) for leg in model.legs()]
    assert types == [(OptionType.CALL, Side.SELL), (OptionType.CALL, Side.BUY),
                     (OptionType.PUT, Side.SELL), (OptionType.PUT, Side.BUY)]
    assert refs(model) == [None, 0, None, 2]  # each wing still measures from its own short leg


def test_leg_drop_on_row_moves_before_it_and_non_contiguous_rows() -> None:
    model = LegTableModel(condor_legs())
    mime = model.mimeData([model.index(0, 0), model.index(2, 0)])
    model.dropMimeData(mime, Qt.DropAction.MoveAction, -1, -1, model.index(3, 0))
    types = [(leg.option_type, leg.side) for leg in model.legs()]
    assert types == [(OptionType.PUT, Side.BUY), (OptionType.PUT, Side.SELL),
                     (OptionType.CALL, Side.SELL), (OptionType.CALL, Side.BUY)]
    assert refs(model) == [1, None, None, 2]


def test_leg_move_rows_down_and_remove_clears_dangling_reference() -> None:
    model = LegTableModel(condor_legs())
    assert model.move_leg(0, 2)
    assert [leg.option_type for leg in model.legs()] == [OptionType.PUT, OptionType.CALL,
                                                          OptionType.PUT, OptionType.CALL]
    assert refs(model) == [2, None, None, 1]
    model.remove_leg(2)  # the short put the wing referred to
    assert refs(model) == [None, None, 1]


def test_leg_errors_show_as_tooltip_and_error_role() -> None:
    model = LegTableModel(condor_legs())
    model.set_errors({(1, L.COL_REFERENCE): "must point to an earlier leg"})
    idx = model.index(1, L.COL_REFERENCE)
    assert model.data(idx, L.ErrorRole) == "must point to an earlier leg"
    assert model.data(idx, Qt.ItemDataRole.ToolTipRole) == "must point to an earlier leg"
    model.set_errors({})
    assert model.data(idx, L.ErrorRole) == ""


def test_rules_add_remove_reorder_enable() -> None:
    model = RuleTableModel()
    model.add_rule(RuleType.STOP_LOSS)
    model.add_rule(RuleType.PROFIT_TARGET)
    model.add_rule(RuleType.TIME_EXIT)
    assert [r.rule_type for r in model.rules()] == [RuleType.STOP_LOSS, RuleType.PROFIT_TARGET,
                                                     RuleType.TIME_EXIT]
    assert [r.priority for r in model.rules()] == [1, 2, 3]
    assert model.move_up(2)
    assert [r.rule_type for r in model.rules()] == [RuleType.STOP_LOSS, RuleType.TIME_EXIT,
                                                     RuleType.PROFIT_TARGET]
    assert [r.priority for r in model.rules()] == [1, 2, 3]
    assert not model.move_up(0)
    assert model.move_down(0)
    assert model.rules()[1].rule_type is RuleType.STOP_LOSS
    assert not model.move_down(2)
    idx = model.index(0, R.COL_ENABLED)
    assert model.data(idx, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert model.setData(idx, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert model.rules()[0].enabled is False
    assert model.setData(model.index(0, R.COL_AUTO), Qt.CheckState.Checked,
                         Qt.ItemDataRole.CheckStateRole)
    assert model.rules()[0].auto is True
    model.remove_rule(0)
    assert [r.rule_type for r in model.rules()] == [RuleType.STOP_LOSS, RuleType.PROFIT_TARGET]
    assert [r.priority for r in model.rules()] == [1, 2]
    with pytest.raises(IndexError, match="rule row 5"):
        model.remove_rule(5)


def test_rules_edit_fields() -> None:
    model = RuleTableModel([ManagementRule(RuleType.PROFIT_TARGET, Decimal("50"))])
    assert model.setData(model.index(0, R.COL_THRESHOLD), 65.0)
    assert model.setData(model.index(0, R.COL_HOLD_EVALS), 3)
    assert model.setData(model.index(0, R.COL_HOLD_SECONDS), 120)
    assert model.setData(model.index(0, R.COL_ACTION), "partial_close")
    assert model.rules()[0].close_pct == 50  # partial closes start at half
    assert model.setData(model.index(0, R.COL_CLOSE_PCT), 75)
    rule = model.rules()[0]
    assert (rule.threshold, rule.hold_evaluations, rule.hold_seconds, rule.action,
            rule.close_pct) == (Decimal("65"), 3, 120, RuleAction.PARTIAL_CLOSE, 75)
    assert model.setData(model.index(0, R.COL_TYPE), "delta_breach")
    rule = model.rules()[0]
    assert rule.rule_type is RuleType.DELTA_BREACH and rule.threshold == Decimal("0.40")
    assert model.setData(model.index(0, R.COL_SCOPE), "position")
    assert model.rules()[0].delta_scope.value == "position"
    assert not model.setData(model.index(0, R.COL_PRIORITY), 7)  # set by row order only
    assert model.data(model.index(0, R.COL_THRESHOLD)) == "|Δ| 0.40"


def test_rules_set_rules_orders_by_priority() -> None:
    rules = [ManagementRule(RuleType.TIME_EXIT, Decimal("21"), priority=5),
             ManagementRule(RuleType.STOP_LOSS, Decimal("200"), priority=2)]
    model = RuleTableModel(rules)
    assert [(r.rule_type, r.priority) for r in model.rules()] == [
        (RuleType.STOP_LOSS, 1), (RuleType.TIME_EXIT, 2)]
