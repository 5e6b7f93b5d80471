"""Strategy Builder dock on the real engine (paper mode): editing, validation, library, preview."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
import dataclasses
import json
from decimal import Decimal
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QModelIndex, Qt

from tastydesk.engine.bootstrap import open_engine
from tastydesk.engine.domain.enums import (
    Bias,
    ExpiryChoice,
    OptionType,
    RuleType,
    SelectionMethod,
    Side,
)
from tastydesk.engine.domain.strategy import StrategyLeg, StrikeSelection
from tastydesk.ui.docks.strategy_builder import StrategyBuilderDock
from tastydesk.ui.models import legs as L
from tastydesk.ui.models import rules as R
from tests.ui.engine_kit import seed_calendar


@pytest.fixture(name="qloop")
def fixture_qloop(qapp):
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture(name="engine")
def fixture_engine(qloop, tmp_path: Path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    seed_calendar(data_dir)  # the exchange calendar computed once per session, not per test
    engine = qloop.run_until_complete(open_engine(data_dir, paper=True, seed=7))
    qloop.run_until_complete(engine.start(start_driver=False))
    yield engine
    qloop.run_until_complete(engine.stop())


@pytest.fixture(name="dock")
def fixture_dock(qtbot, engine) -> StrategyBuilderDock:
    dock = StrategyBuilderDock(engine)
    dock.confirm = lambda title, text, accept: True
    qtbot.addWidget(dock)
    dock.resize(980, 620)
    dock.show()
    return dock


def problems(dock: StrategyBuilderDock) -> list[str]:
    return [dock.problems.item(i).text() for i in range(dock.problems.count())]


def select(dock: StrategyBuilderDock, name: str) -> None:
    row = dock.library_names().index(name)
    dock.library.setCurrentRow(row)


def test_dock_lists_engine_strategies_and_loads_first(dock, engine) -> None:
    assert dock.objectName() == "dock.strategy_builder"
    names = [s.name for s in engine.strategies()]
    assert sorted(dock.library_names()) == sorted(names)
    assert dock.current_strategy().name == dock.library_names()[0]
    assert not dock.save_button.isEnabled() and dock.errors() == []
    assert dock.symbol_combo.count() == len(engine.config().watchlist)


def test_editing_every_field_updates_strategy_and_saves(dock, engine) -> None:
    dock.new_strategy()
    dock.name_edit.setText("My condor")
    dock.name_edit.textEdited.emit("My condor")
    dock.description_edit.setText("A test")
    dock.description_edit.textEdited.emit("A test")
    dock.priority_spin.setValue(4)
    dock.enabled_check.setChecked(False)
    dock.bias_checks[Bias.BULLISH].setChecked(True)
    dock.bias_checks[Bias.NEUTRAL].setChecked(False)
    dock.dte_editor.min_spin.setValue(20)
    dock.dte_editor.target_spin.setValue(35)
    dock.dte_editor.max_spin.setValue(50)
    dock.dte_editor.prefer_monthly.setChecked(False)
    m = dock.legs_model
    m.setData(m.index(0, L.COL_VALUE), 0.2)
    m.add_leg()
    for col, value in ((L.COL_TYPE, "put"), (L.COL_SIDE, "buy"), (L.COL_METHOD, "width"),
                       (L.COL_VALUE, 5.0), (L.COL_REFERENCE, 0), (L.COL_RATIO, 1)):
        assert m.setData(m.index(1, col), value)
    m.add_leg()
    for col, value in ((L.COL_TYPE, "call"), (L.COL_SIDE, "sell"), (L.COL_METHOD, "percent"),
                       (L.COL_VALUE, 4.5), (L.COL_RATIO, 2), (L.COL_EXPIRY, "offset"),
                       (L.COL_OFFSET, 30)):
        assert m.setData(m.index(2, col), value)
    for spin, value in ((dock.min_credit_spin, 0.4), (dock.min_underlying_spin, 25),
                        (dock.iv_rank_min_spin, 10), (dock.iv_rank_max_spin, 90),
                        (dock.min_liquidity_spin, 3), (dock.max_spread_spin, 12.5),
                        (dock.min_oi_spin, 250), (dock.earnings_spin, 5),
                        (dock.quantity_spin, 2), (dock.max_bp_spin, 3000),
                        (dock.start_offset_spin, 0.05), (dock.step_spin, 0.02),
                        (dock.interval_spin, 300), (dock.max_attempts_spin, 5)):
        spin.setValue(value)
    dock.limit_check.setChecked(True)
    dock.limit_spin.setValue(0.8)
    dock.rules_model.add_rule(RuleType.PROFIT_TARGET)
    dock.rules_model.add_rule(RuleType.TIME_EXIT)
    s = dock.current_strategy()
    assert (s.name, s.description, s.priority, s.enabled) == ("My condor", "A test", 4, False)
    assert s.biases == frozenset({Bias.BULLISH})
    assert (s.dte.min, s.dte.target, s.dte.max, s.dte.prefer_monthly) == (20, 35, 50, False)
    assert s.legs[0].selection == StrikeSelection(SelectionMethod.DELTA, Decimal("0.2"))
    assert s.legs[1] == StrategyLeg(OptionType.PUT, Side.BUY,
                                    StrikeSelection(SelectionMethod.WIDTH, Decimal("5"), 0))
    assert s.legs[2] == StrategyLeg(OptionType.CALL, Side.SELL,
                                    StrikeSelection(SelectionMethod.PERCENT, Decimal("4.5")),
                                    ratio=2, expiry=ExpiryChoice.OFFSET, expiry_offset_days=30)
    f = s.filters
    assert (f.min_credit, f.min_underlying_price, f.iv_rank_min, f.iv_rank_max, f.min_liquidity,
            f.max_spread_pct, f.min_open_interest, f.earnings_blackout_days) == (
        Decimal("0.4"), Decimal("25"), Decimal("10"), Decimal("90"), 3, Decimal("12.5"), 250, 5)
    assert (s.sizing.quantity, s.sizing.max_buying_power) == (2, Decimal("3000"))
    p = s.pricing
    assert (p.start_offset, p.step, p.interval_seconds, p.max_attempts, p.limit_price) == (
        Decimal("0.05"), Decimal("0.02"), 300, 5, Decimal("0.8"))
    assert [r.rule_type for r in s.rules] == [RuleType.PROFIT_TARGET, RuleType.TIME_EXIT]
    assert dock.errors() == [] and dock.save_button.isEnabled()
    assert dock.save()
    saved = next(x for x in engine.strategies() if x.name == "My condor")
    assert saved == s
    assert "My condor" in dock.library_names()
    assert not dock.save_button.isEnabled()  # nothing left to save


def test_validation_names_fields_and_disables_save(dock) -> None:
    dock.name_edit.setText("  ")
    dock.name_edit.textEdited.emit("  ")
    dock.dte_editor.min_spin.setValue(dock.dte_editor.target_spin.value() + 10)
    dock.iv_rank_min_spin.setValue(100)
    dock.iv_rank_max_spin.setValue(10)
    dock.legs_model.setData(dock.legs_model.index(0, L.COL_VALUE), 0.0)
    paths = {e.path for e in dock.errors()}
    assert {"name", "dte.min", "filters.iv_rank_min", "legs[0].selection.value"} <= paths
    texts = problems(dock)
    assert any(t.startswith("✖ name: must not be empty") for t in texts)
    assert any(t.startswith("✖ dte.min:") for t in texts)
    assert not dock.save_button.isEnabled()
    assert dock.is_flagged(dock.name_edit)
    assert "name: must not be empty" in dock.name_edit.toolTip()
    assert dock.is_flagged(dock.dte_editor.min_spin)
    assert dock.is_flagged(dock.iv_rank_min_spin)
    cell = dock.legs_model.index(0, L.COL_VALUE)
    assert "delta must be between 0 and 1" in dock.legs_model.data(cell, L.ErrorRole)
    assert dock.widget_for("filters.iv_rank_min") is dock.iv_rank_min_spin
    assert dock.save() is False
    # Fix everything: flags clear, Save comes back.
    dock.name_edit.setText("Fixed")
    dock.name_edit.textEdited.emit("Fixed")
    dock.dte_editor.min_spin.setValue(1)
    dock.iv_rank_min_spin.setValue(0)
    dock.iv_rank_max_spin.setValue(100)
    dock.legs_model.setData(cell, 0.25)
    assert dock.errors() == []
    assert not dock.is_flagged(dock.name_edit) and dock.name_edit.toolTip() == ""
    assert dock.legs_model.data(cell, L.ErrorRole) == ""
    assert dock.save_button.isEnabled()


def test_duplicate_name_is_flagged(dock, engine) -> None:
    names = dock.library_names()
    dock.duplicate_strategy()
    assert dock.current_strategy().name not in names
    dock.name_edit.setText(names[1])
    dock.name_edit.textEdited.emit(names[1])
    assert any(e.path == "name" and "already called" in e.message for e in dock.errors())
    assert not dock.save_button.isEnabled()


def test_leg_drag_and_drop_in_dock_remaps_or_flags_references(dock) -> None:
    select(dock, "Iron Condor - 45 DTE")
    m = dock.legs_model
    before = [(leg.option_type, leg.side) for leg in m.legs()]
    assert len(before) == 4
    # Drag the last two legs (a short leg and its wing) to the top: references follow the move.
    mime = m.mimeData([m.index(2, 0), m.index(3, 0)])
    m.dropMimeData(mime, Qt.DropAction.MoveAction, 0, 0, QModelIndex())
    after = [(leg.option_type, leg.side) for leg in m.legs()]
    assert after == before[2:] + before[:2]
    wings = [(i, leg.selection.reference_leg) for i, leg in enumerate(m.legs())
             if leg.selection.method is SelectionMethod.WIDTH]
    for i, ref in wings:
        assert ref is not None and m.legs()[ref].option_type is m.legs()[i].option_type
        assert m.legs()[ref].side is Side.SELL
    assert dock.errors() == []
    # Drag a wing above its short leg: the reference now points forward and validation says so.
    m.dropMimeData(m.mimeData([m.index(1, 0)]), Qt.DropAction.MoveAction, 0, 0, QModelIndex())
    paths = [e.path for e in dock.errors()]
    assert "legs[0].selection.reference_leg" in paths
    assert "cannot refer" in m.data(m.index(0, L.COL_REFERENCE), L.ErrorRole)
    assert not dock.save_button.isEnabled()


def test_rules_add_remove_reorder_enable_in_dock(dock, engine) -> None:
    select(dock, "Put Credit Spread - 30 DTE")
    r = dock.rules_model
    start = [rule.rule_type for rule in r.rules()]
    dock._on_add_rule(RuleType.DELTA_BREACH)
    assert r.rules()[-1].rule_type is RuleType.DELTA_BREACH
    dock.rules_view.selectRow(len(start))
    dock._on_move_rule(-1)
    assert r.rules()[len(start) - 1].rule_type is RuleType.DELTA_BREACH
    r.setData(r.index(0, R.COL_ENABLED), Qt.CheckState.Unchecked.value,
              Qt.ItemDataRole.CheckStateRole)
    dock.rules_view.selectRow(1)
    dock._on_remove_rule()
    assert dock.save()
    saved = next(x for x in engine.strategies() if x.name == "Put Credit Spread - 30 DTE")
    assert saved.rules == r.rules()
    assert saved.rules[0].enabled is False
    assert [x.priority for x in saved.rules] == list(range(1, len(saved.rules) + 1))
    assert RuleType.DELTA_BREACH in [x.rule_type for x in saved.rules]


def test_import_bad_json_shows_field_errors_and_changes_nothing(dock, engine,
                                                                tmp_path: Path) -> None:
    before_editor = dock.current_strategy()
    before_library = [s for s in engine.strategies()]
    bad = {"name": "", "legs": [{"option_type": "straddle", "side": "sell",
                                 "selection": {"method": "delta", "value": "1.5"}}],
           "dte": {"min": 50, "target": 40, "max": 60}, "biases": ["sideways"]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    assert dock.import_from_file(path) is False
    texts = problems(dock)
    assert any("name: must not be empty" in t for t in texts)
    assert any("legs[0].option_type" in t for t in texts)
    assert any("biases[0]" in t for t in texts)
    assert "bad.json" in dock.status.text()
    assert dock.current_strategy() == before_editor
    assert engine.strategies() == before_library
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json", encoding="utf-8")
    assert dock.import_from_file(garbage) is False
    assert any("not valid JSON" in t for t in problems(dock))
    assert dock.import_from_file(tmp_path / "missing.json") is False
    assert any("cannot read the file" in t for t in problems(dock))


def test_export_import_round_trip(dock, engine, tmp_path: Path) -> None:
    select(dock, "Iron Condor - 45 DTE")
    original = dock.current_strategy()
    path = tmp_path / "condor.json"
    assert dock.export_to_file(path)
    assert json.loads(path.read_text(encoding="utf-8"))["name"] == original.name
    dock.new_strategy()
    assert dock.import_from_file(path)
    assert dock.current_strategy() == original
    assert "exists; rename" in dock.status.text()
    assert not dock.save_button.isEnabled()  # same name as the library copy
    dock.name_edit.setText("Condor imported")
    dock.name_edit.textEdited.emit("Condor imported")
    assert dock.save()
    imported = next(s for s in engine.strategies() if s.name == "Condor imported")
    assert imported == dataclasses.replace(original, name="Condor imported")


def test_delete_asks_and_restore_defaults(dock, engine) -> None:
    select(dock, "Short Strangle - 30 DTE")
    dock.confirm = lambda title, text, accept: False
    assert dock.delete_strategy() is False
    assert "Short Strangle - 30 DTE" in [s.name for s in engine.strategies()]
    asked: list[str] = []
    dock.confirm = lambda title, text, accept: asked.append(accept) or True
    assert dock.delete_strategy()
    assert asked == ["Delete"]
    assert "Short Strangle - 30 DTE" not in [s.name for s in engine.strategies()]
    assert "Short Strangle - 30 DTE" not in dock.library_names()
    assert dock.restore_defaults()
    assert "Short Strangle - 30 DTE" in dock.library_names()


def test_rename_on_save_replaces_library_entry(dock, engine) -> None:
    select(dock, "Cash Secured Put - 30 DTE")
    dock.name_edit.setText("CSP renamed")
    dock.name_edit.textEdited.emit("CSP renamed")
    assert dock.save()
    names = [s.name for s in engine.strategies()]
    assert "CSP renamed" in names and "Cash Secured Put - 30 DTE" not in names


def test_preview_on_paper_market_shows_proposal_and_chart(dock, qloop) -> None:
    select(dock, "Put Credit Spread - 30 DTE")
    dock.symbol_combo.setCurrentText("SPY")
    task = dock.start_preview()
    assert task is not None
    assert dock.start_preview() is None  # a double click does not start a second request
    assert not dock.preview_button.isEnabled()
    proposal = qloop.run_until_complete(task)
    assert dock.preview_button.isEnabled()
    assert proposal is not None and dock.proposal is proposal
    assert proposal.underlying == "SPY" and len(proposal.legs) == 2
    assert dock.preview_legs.rowCount() == 2
    assert dock.metric_labels["max_loss"].text().startswith("$")
    assert dock.metric_labels["breakevens"].text() != "—"
    assert dock.chart is not None
    xs, _ys = dock.chart.expiry_item.getData()
    assert len(xs) > 10
    assert len(dock.chart.breakeven_points()) == len(proposal.breakevens)


def test_preview_error_is_shown_clearly(dock, qloop) -> None:
    select(dock, "Put Credit Spread - 30 DTE")
    dock.symbol_combo.setCurrentText("NOSUCH")
    task = dock.start_preview()
    assert task is not None
    assert qloop.run_until_complete(task) is None
    assert dock.preview_status.text().startswith("No proposal on NOSUCH:")
    assert dock.preview_button.isEnabled()


def test_preview_refused_while_invalid(dock) -> None:
    dock.name_edit.setText("")
    dock.name_edit.textEdited.emit("")
    assert dock.start_preview() is None
    assert "fix the problems" in dock.preview_status.text()
