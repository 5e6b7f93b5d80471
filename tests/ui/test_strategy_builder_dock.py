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
from tastydesk.ui.builder import StrategyBuilderDock
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


def finish(qloop, task) -> object:
    """Run a command the dock handed to its runner to its end; returns its result."""
    assert task is not None
    qloop.run_until_complete(asyncio.wait([task]))  # the dock's callbacks ran before this returns
    return task.result()


def select(dock: StrategyBuilderDock, name: str) -> None:
    row = dock.library_names().index(name)
    dock.library.list.setCurrentRow(row)


def test_dock_lists_engine_strategies_and_loads_first(dock, engine) -> None:
    assert dock.objectName() == "dock.strategy_builder"
    names = [s.name for s in engine.strategies()]
    assert sorted(dock.library_names()) == sorted(names)
    assert dock.current_strategy().name == dock.library_names()[0]
    assert not dock.save_button.isEnabled() and dock.errors() == []
    assert dock.preview.symbol_combo.count() == len(engine.config().watchlist)


def test_editing_every_field_updates_strategy_and_saves(dock, engine, qloop) -> None:
    dock.new_strategy()
    dock.field_widget("name").setText("My condor")
    dock.field_widget("name").textEdited.emit("My condor")
    dock.field_widget("description").setText("A test")
    dock.field_widget("description").textEdited.emit("A test")
    dock.field_widget("priority").setValue(4)
    dock.field_widget("enabled").setChecked(False)
    dock.field_widget("biases").checks[Bias.BULLISH].setChecked(True)
    dock.field_widget("biases").checks[Bias.NEUTRAL].setChecked(False)
    dock.field_widget("dte").min_spin.setValue(20)
    dock.field_widget("dte").target_spin.setValue(35)
    dock.field_widget("dte").max_spin.setValue(50)
    dock.field_widget("dte").prefer_monthly.setChecked(False)
    m = dock.field_widget("legs").model
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
    for path, value in (("filters.min_credit", 0.4), ("filters.min_underlying_price", 25),
                        ("filters.iv_rank_min", 10), ("filters.iv_rank_max", 90),
                        ("filters.min_liquidity", 3), ("filters.max_spread_pct", 12.5),
                        ("filters.min_open_interest", 250),
                        ("filters.earnings_blackout_days", 5), ("sizing.quantity", 2),
                        ("sizing.max_buying_power", 3000), ("pricing.start_offset", 0.05),
                        ("pricing.max_attempts", 5)):
        dock.field_widget(path).setValue(value)
    dock.field_widget("pricing.limit_price").check.setChecked(True)
    dock.field_widget("pricing.limit_price").spin.setValue(0.8)
    dock.field_widget("rules").model.add_rule(RuleType.PROFIT_TARGET)
    dock.field_widget("rules").model.add_rule(RuleType.TIME_EXIT)
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
    assert (p.start_offset, p.max_attempts, p.limit_price) == (
        Decimal("0.05"), 5, Decimal("0.8"))
    assert [r.rule_type for r in s.rules] == [RuleType.PROFIT_TARGET, RuleType.TIME_EXIT]
    assert dock.errors() == [] and dock.save_button.isEnabled()
    finish(qloop, dock.save())
    saved = next(x for x in engine.strategies() if x.name == "My condor")
    assert saved == s
    assert "My condor" in dock.library_names()
    assert not dock.save_button.isEnabled()  # nothing left to save


def test_validation_names_fields_and_disables_save(dock) -> None:
    dock.field_widget("name").setText("  ")
    dock.field_widget("name").textEdited.emit("  ")
    dock.field_widget("dte").min_spin.setValue(dock.field_widget("dte").target_spin.value() + 10)
    dock.field_widget("filters.iv_rank_min").setValue(100)
    dock.field_widget("filters.iv_rank_max").setValue(10)
    dock.field_widget("legs").model.setData(dock.field_widget("legs").model.index(0, L.COL_VALUE), 0.0)
    paths = {e.path for e in dock.errors()}
    assert {"name", "dte.min", "filters.iv_rank_min", "legs[0].selection.value"} <= paths
    texts = problems(dock)
    assert any(t.startswith("✖ name: must not be empty") for t in texts)
    assert any(t.startswith("✖ dte.min:") for t in texts)
    assert not dock.save_button.isEnabled()
    assert dock.is_flagged(dock.field_widget("name"))
    assert "name: must not be empty" in dock.field_widget("name").toolTip()
    assert dock.is_flagged(dock.field_widget("dte").min_spin)
    assert dock.is_flagged(dock.field_widget("filters.iv_rank_min"))
    cell = dock.field_widget("legs").model.index(0, L.COL_VALUE)
    assert "delta must be between 0 and 1" in dock.field_widget("legs").model.data(cell, L.ErrorRole)
    assert dock.widget_for("filters.iv_rank_min") is dock.field_widget("filters.iv_rank_min")
    assert dock.save() is None
    # Fix everything: flags clear, Save comes back.
    dock.field_widget("name").setText("Fixed")
    dock.field_widget("name").textEdited.emit("Fixed")
    dock.field_widget("dte").min_spin.setValue(1)
    dock.field_widget("filters.iv_rank_min").setValue(0)
    dock.field_widget("filters.iv_rank_max").setValue(100)
    dock.field_widget("legs").model.setData(cell, 0.25)
    assert dock.errors() == []
    assert not dock.is_flagged(dock.field_widget("name")) and dock.field_widget("name").toolTip() == ""
    assert dock.field_widget("legs").model.data(cell, L.ErrorRole) == ""
    assert dock.save_button.isEnabled()


def test_duplicate_name_is_flagged(dock, engine) -> None:
    names = dock.library_names()
    dock.duplicate_strategy()
    assert dock.current_strategy().name not in names
    dock.field_widget("name").setText(names[1])
    dock.field_widget("name").textEdited.emit(names[1])
    assert any(e.path == "name" and "already called" in e.message for e in dock.errors())
    assert not dock.save_button.isEnabled()


def test_leg_drag_and_drop_in_dock_remaps_or_flags_references(dock) -> None:
    select(dock, "Iron Condor - 45 DTE")
    m = dock.field_widget("legs").model
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


def test_rules_add_remove_reorder_enable_in_dock(dock, engine, qloop) -> None:
    select(dock, "Put Credit Spread - 30 DTE")
    r = dock.field_widget("rules").model
    start = [rule.rule_type for rule in r.rules()]
    dock.field_widget("rules").add(RuleType.DELTA_BREACH)
    assert r.rules()[-1].rule_type is RuleType.DELTA_BREACH
    dock.field_widget("rules").view.selectRow(len(start))
    dock.field_widget("rules").move_selected(-1)
    assert r.rules()[len(start) - 1].rule_type is RuleType.DELTA_BREACH
    r.setData(r.index(0, R.COL_ENABLED), Qt.CheckState.Unchecked.value,
              Qt.ItemDataRole.CheckStateRole)
    dock.field_widget("rules").view.selectRow(1)
    dock.field_widget("rules").remove_selected()
    finish(qloop, dock.save())
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


def test_export_import_round_trip(dock, engine, qloop, tmp_path: Path) -> None:
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
    dock.field_widget("name").setText("Condor imported")
    dock.field_widget("name").textEdited.emit("Condor imported")
    finish(qloop, dock.save())
    imported = next(s for s in engine.strategies() if s.name == "Condor imported")
    assert imported == dataclasses.replace(original, name="Condor imported")


def test_delete_asks_and_restore_defaults(dock, engine, qloop) -> None:
    select(dock, "Short Strangle - 30 DTE")
    dock.confirm = lambda title, text, accept: False
    assert dock.delete_strategy() is None
    assert "Short Strangle - 30 DTE" in [s.name for s in engine.strategies()]
    asked: list[str] = []
    dock.confirm = lambda title, text, accept: asked.append(accept) or True
    finish(qloop, dock.delete_strategy())
    assert asked == ["Delete"]
    assert "Short Strangle - 30 DTE" not in [s.name for s in engine.strategies()]
    assert "Short Strangle - 30 DTE" not in dock.library_names()
    finish(qloop, dock.restore_defaults())
    assert "Short Strangle - 30 DTE" in dock.library_names()


def test_rename_on_save_replaces_library_entry(dock, engine, qloop) -> None:
    select(dock, "Cash Secured Put - 30 DTE")
    dock.field_widget("name").setText("CSP renamed")
    dock.field_widget("name").textEdited.emit("CSP renamed")
    finish(qloop, dock.save())
    names = [s.name for s in engine.strategies()]
    assert "CSP renamed" in names and "Cash Secured Put - 30 DTE" not in names


def test_preview_on_paper_market_shows_proposal_and_chart(dock, qloop) -> None:
    select(dock, "Put Credit Spread - 30 DTE")
    dock.preview.symbol_combo.setCurrentText("SPY")
    task = dock.start_preview()
    assert task is not None
    assert dock.start_preview() is None  # a double click does not start a second request
    assert not dock.preview.button.isEnabled()
    proposal = finish(qloop, task)
    assert dock.preview.button.isEnabled()
    assert proposal is not None and dock.preview.proposal is proposal
    assert proposal.underlying == "SPY" and len(proposal.legs) == 2
    assert dock.preview.legs.rowCount() == 2
    assert dock.preview.metric_labels["max_loss"].text().startswith("$")
    assert dock.preview.metric_labels["breakevens"].text() != "—"
    assert dock.preview.chart is None  # the Preview tab is not on screen: no diagram drawn
    dock.tabs.setCurrentWidget(dock.preview)
    assert dock.preview.chart is not None
    xs, _ys = dock.preview.chart.expiry_item.getData()
    assert len(xs) > 10
    assert len(dock.preview.chart.breakeven_points()) == len(proposal.breakevens)


def test_preview_error_is_shown_clearly(dock, qloop) -> None:
    select(dock, "Put Credit Spread - 30 DTE")
    dock.preview.symbol_combo.setCurrentText("NOSUCH")
    task = dock.start_preview()
    assert task is not None
    qloop.run_until_complete(dock.runner.drain())
    assert dock.preview.proposal is None
    assert dock.preview.status.text().startswith("No proposal on NOSUCH:")
    assert dock.preview.button.isEnabled()


def test_preview_refused_while_invalid(dock) -> None:
    dock.field_widget("name").setText("")
    dock.field_widget("name").textEdited.emit("")
    assert dock.start_preview() is None
    assert "fix the problems" in dock.preview.status.text()


def test_save_checks_the_chain_and_marks_the_field_it_names(dock, engine, qloop) -> None:
    select(dock, "Put Credit Spread - 30 DTE")
    before = next(s for s in engine.strategies() if s.name == "Put Credit Spread - 30 DTE")
    dock.preview.symbol_combo.setCurrentText("SPY")
    dte = dock.field_widget("dte")
    dte.max_spin.setValue(720)
    dte.target_spin.setValue(715)
    dte.min_spin.setValue(710)
    assert dock.errors() == []  # the static checks pass: only the chain can refuse this
    task = dock.save()
    assert dock.save() is None  # one save at a time
    with pytest.raises(Exception, match="dte"):
        finish(qloop, task)
    assert dock.is_flagged(dte)
    assert "on SPY" in dte.toolTip() and "expiration" in dte.toolTip()
    assert dock.status.text().startswith("Not saved: dte: on SPY")
    assert any(t.startswith("✖ dte: on SPY") for t in problems(dock))
    assert next(s for s in engine.strategies() if s.name == before.name) == before
    assert dock.save_button.isEnabled()  # another symbol may be tried
    # Back in range: the chain check passes, the strategy is saved and previewed.
    dte.min_spin.setValue(20)
    dte.target_spin.setValue(30)
    dte.max_spin.setValue(45)
    assert not dock.is_flagged(dte)  # an edit re-runs the static checks and clears the mark
    saved = finish(qloop, dock.save())
    assert saved.proposal is not None and dock.preview.proposal is saved.proposal
    stored = next(s for s in engine.strategies() if s.name == before.name)
    assert (stored.dte.min, stored.dte.max) == (20, 45)
    assert dock.status.text() == f"Saved {before.name!r}"
