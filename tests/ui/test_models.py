"""KeyedTableModel behaviour and qtmodeltester checks of every model over view objects."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt

from tastydesk.engine.domain.enums import WorkflowState
from tastydesk.engine.domain.events import Alert
from tastydesk.engine.domain.records import (
    AuditRecord,
    DecisionRecord,
    ErrorRecord,
    JournalRecord,
    RuleActionRecord,
    TransitionRecord,
)
from tastydesk.engine.domain.views import StrategyStats
from tastydesk.ui.models.activity import activity_model, from_alert, from_audit, from_error
from tastydesk.ui.models.base import Column, KeyedTableModel, TableFilterProxy, changed_span
from tastydesk.ui.models.positions import (
    positions_model,
    progress,
    rule_actions_model,
    rules_model,
)
from tastydesk.ui.models.proposals import decisions_model, legs_model, pending_model
from tastydesk.ui.models.roles import KeyRole, RowObjectRole, SortRole, ValueRole
from tastydesk.ui.models.workflows import (
    journal_model,
    stats_model,
    transitions_model,
    workflows_model,
)
from tests.ui import factories as f


def _simple() -> KeyedTableModel[tuple[int, str]]:
    return KeyedTableModel([Column("id", "Id", lambda r: r[0]),
                            Column("name", "Name", lambda r: r[1])], key=lambda r: r[0])


def test_upsert_inserts_then_signals_only_changed_rows_in_contiguous_runs(qtbot: Any) -> None:
    model = _simple()
    model.upsert([(i, f"r{i}") for i in range(10)])
    assert model.rowCount() == 10
    changes: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(lambda a, b, _roles=None: changes.append(
        (a.row(), b.row(), a.column(), b.column())))
    # rows 2, 3, 4 and 8 change; 5 is re-sent unchanged
    n = model.upsert([(2, "x"), (3, "x"), (4, "x"), (5, "r5"), (8, "x")])
    assert n == 4
    assert changes == [(2, 4, 0, 1), (8, 8, 0, 1)]
    assert model.index(3, 1).data() == "x"


def test_upsert_of_identical_rows_emits_nothing(qtbot: Any) -> None:
    model = _simple()
    rows = [(i, "a") for i in range(5)]
    model.upsert(rows)
    with qtbot.assertNotEmitted(model.dataChanged):
        assert model.upsert(rows) == 0


def test_remove_and_sync_keep_keys_and_positions_consistent(qtbot: Any) -> None:
    model = _simple()
    model.upsert([(i, str(i)) for i in range(8)])
    assert model.remove([1, 2, 6, 99]) == 3
    assert model.keys() == [0, 3, 4, 5, 7]
    assert model.position(7) == 4
    model.sync([(4, "four"), (10, "ten")])
    assert model.keys() == [4, 10]
    assert model.row(4) == (4, "four")
    model.reset([(1, "a"), (1, "b")])
    assert model.keys() == [1] and model.row(1) == (1, "b")


def test_roles_expose_row_object_key_sort_and_value(qtbot: Any) -> None:
    model = positions_model()
    view = f.position(7, pnl="-25.00", pnl_pct=-30.0)
    model.upsert([view])
    pnl_col = model.column_index("pnl")
    ix = model.index(0, pnl_col)
    assert ix.data() == "\u2212$25.00"  # sign in the text, not colour alone
    assert ix.data(ValueRole) == Decimal("-25.00")
    assert ix.data(SortRole) == Decimal("-25.00")
    assert ix.data(RowObjectRole) == view
    assert ix.data(KeyRole) == 7
    assert model.headerData(pnl_col, Qt.Orientation.Horizontal) == "P&L"


def test_progress_is_signed_toward_target_or_stop() -> None:
    # Max profit $85 with a 50 % target: the target fires at +$42.50; the 200 % stop on an entry
    # of 0.85 at -$170.
    assert progress(f.position(1, pnl="21.25", pnl_pct=25.0)) == 0.5
    assert progress(f.position(1, pnl="-85", pnl_pct=-100.0)) == -0.5
    assert progress(f.position(1, pnl="68", pnl_pct=80.0)) == 1.0


def test_proxy_sorts_decimals_numerically_and_filters_text_and_predicate(qtbot: Any) -> None:
    model = positions_model()
    model.upsert([f.position(1, pnl="9.00", symbol="SPY"), f.position(2, pnl="100.00",
                                                                        symbol="QQQ"),
                  f.position(3, pnl="-5.00", symbol="IWM")])
    proxy = TableFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(model.column_index("pnl"), Qt.SortOrder.AscendingOrder)
    order = [proxy.index(r, 0).data(KeyRole) for r in range(proxy.rowCount())]
    assert order == [3, 1, 2]  # -5 < 9 < 100 (text sort would put "100" before "9")
    proxy.set_text("qqq")
    assert proxy.rowCount() == 1 and proxy.index(0, 0).data(KeyRole) == 2
    proxy.set_text("")
    proxy.set_predicate(lambda v: v.pnl > 0)
    assert proxy.rowCount() == 2


def test_every_model_passes_qtmodeltester(qtmodeltester: Any) -> None:
    now = f.T0
    models: list[tuple[Any, list[Any]]] = [
        (pending_model(lambda: now), [f.pending(1), f.pending(2, "QQQ", warnings=("wide",))]),
        (legs_model(), list(f.proposal().legs)),
        (decisions_model(lambda pid: f"proposal {pid}"),
         [DecisionRecord(1, 101, "approve", "me", "ok", now, Decimal("0.85"), 1),
          DecisionRecord(2, 102, "reject", "me", "too wide", now)]),
        (positions_model(), [f.position(1), f.position(2, pnl="-3")]),
        (rules_model(), list(f.position(1).rules)),
        (rule_actions_model(), [RuleActionRecord(1, 1, "stop_loss", "close", "hit", "done",
                                                 now)]),
        (workflows_model(), [f.workflow(1), f.workflow(2, WorkflowState.MONITORING)]),
        (transitions_model(), [TransitionRecord(1, 1, 1, None, WorkflowState.SCANNING, None,
                                                "engine", "created", {}, now)]),
        (stats_model(), [StrategyStats("IC", 4, 3, Decimal("120"))]),
        (journal_model(), [JournalRecord(1, 1, "IC", "SPY", Decimal("1.2"), Decimal("-0.6"),
                                         Decimal("4"), Decimal("56"), now,
                                         now + timedelta(days=3), 3 * 86400, "profit_target")]),
        (activity_model(), [from_alert(Alert("info", "pending", "New", "m", now, 1), 1),
                            from_audit(AuditRecord(1, "me", "approve", "d", 1, now)),
                            from_error(ErrorRecord(1, "broker", "boom", "d", None, now))]),
    ]
    for model, rows in models:
        model.upsert(rows)
        qtmodeltester.check(model, force_py=True)
        assert model.rowCount() == len(rows)
        for r in range(model.rowCount()):
            for c in range(model.columnCount()):
                assert isinstance(model.index(r, c).data(), str)


def test_pending_age_follows_the_given_clock(qtbot: Any) -> None:
    now = [f.T0]
    model = pending_model(lambda: now[0])
    model.upsert([f.pending(1, age_s=90)])
    col = model.column_index("age")
    assert model.index(0, col).data() == "1m"
    now[0] = f.T0 + timedelta(hours=2)
    with qtbot.waitSignal(model.dataChanged):
        model.refresh_column("age")
    assert model.index(0, col).data() == "2h 01m"


def test_changed_span_covers_every_changed_column_across_rows() -> None:
    """The span runs from the leftmost to the rightmost column that changed in any row, found
    in whichever row it changed; unchanged rows and columns leave it alone."""
    columns = [Column(str(i), str(i), lambda r, i=i: r[i]) for i in range(5)]
    base = (0, 0, 0, 0, 0)
    assert changed_span(columns, [(base, base)]) is None
    assert changed_span(columns, [(base, (0, 0, 1, 0, 0))]) == (2, 2)
    pairs = [(base, (0, 0, 1, 0, 0)), (base, base), (base, (0, 0, 0, 0, 1)),
             (base, (0, 1, 1, 0, 0))]
    assert changed_span(columns, pairs) == (1, 4)
    text = Column("t", "t", lambda r: 0, text=lambda r: str(r[0]))
    assert changed_span([text, *columns], [(base, (7, 0, 0, 0, 0))]) == (0, 1)
