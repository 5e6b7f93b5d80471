"""KeyedTreeModel and KeyedTreeView: positions with their legs as child rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, cast

from PySide6.QtCore import QEvent, QObject, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QApplication

from tastydesk.engine.domain.enums import OptionType
from tastydesk.engine.domain.views import PositionLegView, PositionView
from tastydesk.ui.models.positions import positions_model
from tastydesk.ui.models.roles import KeyRole, RowObjectRole, ValueRole
from tastydesk.ui.models.tree import ParentObjectRole
from tastydesk.ui.widgets.tree import KeyedTreeView
from tests.ui import factories as f


def condor(workflow_id: int, symbol: str = "SPY") -> PositionView:
    """Four legs; the far call expires a week after the rest (so leg DTEs differ)."""
    def leg(kind: OptionType, strike: str, qty: int, entry: str, mark: str | None,
            delta: float, expiry: date = date(2026, 12, 18)) -> PositionLegView:
        occ = f"{symbol:<6}{expiry:%y%m%d}{'C' if kind is OptionType.CALL else 'P'}" \
              f"{int(Decimal(strike) * 1000):08d}"
        return PositionLegView(occ, kind, Decimal(strike), expiry, qty, Decimal(entry),
                               None if mark is None else Decimal(mark), delta)

    legs = (leg(OptionType.PUT, "550", 2, "0.60", "0.40", -0.08),
            leg(OptionType.PUT, "560", -2, "1.20", "0.90", -0.15),
            leg(OptionType.CALL, "620", -2, "1.10", "1.50", 0.18),
            leg(OptionType.CALL, "630", 2, "0.50", None, 0.09, date(2026, 12, 24)))
    return replace(f.position(workflow_id, symbol=symbol), strategy_name="Iron Condor - 45 DTE",
                   quantity=2, legs=legs)


def test_tree_passes_qtmodeltester_through_updates(qtmodeltester: Any) -> None:
    model = positions_model()
    model.upsert([condor(1), f.position(2)])
    qtmodeltester.check(model, force_py=True)
    assert model.rowCount() == 2
    assert model.rowCount(model.index(0, 0)) == 4 and model.rowCount(model.index(1, 0)) == 1
    # A partial close / roll changes the leg count: children are replaced, the parent stays.
    fewer = replace(condor(1), legs=condor(1).legs[:2])
    assert model.upsert([fewer]) == 1
    assert model.rowCount(model.index(0, 0)) == 2
    assert model.upsert([fewer]) == 0  # unchanged: no signal, no work
    model.sync([f.position(2), condor(3)])
    qtmodeltester.check(model, force_py=True)
    assert model.keys() == [2, 3] and model.rowCount(model.index(1, 0)) == 4


def test_leg_rows_read_under_the_position_columns() -> None:
    model = positions_model()
    model.upsert([condor(1)])
    parent = model.index(0, 0)

    def cell(row: int, key: str, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return model.index(row, model.column_index(key), parent).data(role)

    assert cell(1, "symbol") is None  # the leg's name says it all, under Strategy
    assert cell(1, "strategy") == "SPY 18 Dec 26 560 P"
    assert "SPY 261218P00560000" in cell(1, "strategy", Qt.ItemDataRole.ToolTipRole)
    assert cell(1, "quantity") == "-2"
    # Short put sold at 1.20, now 0.90: (0.90 - 1.20) x -2 x 100 = +60.
    assert cell(1, "pnl", ValueRole) == Decimal("60.00")
    assert cell(1, "pnl") == "+$60.00"
    assert cell(3, "pnl") == "\u2014"  # no mark yet
    assert cell(1, "delta", ValueRole) == -0.15 * -2 * 100
    assert cell(0, "dte") == "24" and cell(3, "dte") == "30"  # the far call: 6 days later
    for key in ("progress", "rules", "health", "pnl_pct", "id"):
        assert cell(0, key) is None  # position-only figures stay empty on legs
    index = model.index(2, 0, parent)
    assert index.data(RowObjectRole) == condor(1).legs[2]
    assert index.data(ParentObjectRole) == condor(1)
    assert index.data(KeyRole) == 1
    assert model.parent(index) == parent


def test_child_persistent_index_survives_removing_an_earlier_position() -> None:
    model = positions_model()
    model.upsert([f.position(1), condor(2)])
    leg = QPersistentModelIndex(model.index(3, 0, model.index(1, 0)))
    assert leg.data(RowObjectRole) == condor(2).legs[3]
    model.remove([1])
    assert leg.isValid() and leg.data(RowObjectRole) == condor(2).legs[3]
    assert leg.parent() == model.index(0, 0)
    model.remove([2])
    assert not leg.isValid()


def test_view_filters_selects_and_keeps_legs_with_their_position(qtbot: Any) -> None:
    model = positions_model()
    view = KeyedTreeView(model, "positions.table", sort_column="id")
    qtbot.addWidget(view)
    model.upsert([condor(1), condor(2, "QQQ")])
    proxy = view.proxy
    first = proxy.index(0, 0)
    assert view.isExpanded(first)  # new positions open with their legs shown
    view.proxy.set_text("iron condor")  # matches positions only: their legs stay with them
    assert proxy.rowCount() == 2 and proxy.rowCount(proxy.index(0, 0)) == 4
    view.proxy.set_text("qqq 18 dec 26 620 c")  # one leg: its position stays visible
    assert proxy.rowCount() == 1 and proxy.index(0, 0).data(KeyRole) == 2
    view.proxy.set_text("")
    view.selectionModel().select(
        proxy.index(2, 0, proxy.index(1, 0)),
        view.selectionModel().SelectionFlag.ClearAndSelect
        | view.selectionModel().SelectionFlag.Rows)
    assert view.current_row() == condor(2, "QQQ")  # actions act on the whole position
    assert view.current_child() == condor(2, "QQQ").legs[2]
    assert view.select_key(1) and view.current_row() == condor(1) and view.current_child() is None
    view.collapse(proxy.index(0, 0))
    model.upsert([replace(condor(1), pnl=Decimal("99"))])
    assert not view.isExpanded(proxy.index(0, 0))  # a collapsed position stays collapsed
    assert not view.select_key(42)


def test_large_book_opens_collapsed_and_only_shown_legs_are_signalled(qtbot: Any) -> None:
    model = positions_model()
    view = KeyedTreeView(model, "positions.table", sort_column="id", auto_expand=2)
    qtbot.addWidget(view)
    model.upsert([condor(1), condor(2), condor(3)])
    proxy = view.proxy
    assert not any(view.isExpanded(proxy.index(r, 0)) for r in range(3))
    child_signals: list[int] = []
    model.dataChanged.connect(
        lambda top, _bottom, _roles=(): top.parent().isValid()
        and child_signals.append(top.parent().row()))

    def marks_moved(view_: PositionView, by: str) -> PositionView:
        legs = tuple(replace(leg, mark=(leg.mark or Decimal("1")) + Decimal(by))
                     for leg in view_.legs)
        return replace(view_, legs=legs)

    model.upsert([marks_moved(condor(k), "0.05") for k in (1, 2, 3)])
    assert child_signals == []  # nothing on screen shows those legs
    assert model.children(2)[0].mark == Decimal("0.45")  # but the model holds the new values
    view.expand(proxy.index(1, 0))
    assert child_signals == [1]  # shown: re-read at once
    model.upsert([marks_moved(condor(k), "0.10") for k in (1, 2, 3)])
    assert child_signals == [1, 1]
    view.collapse(proxy.index(1, 0))
    model.upsert([marks_moved(condor(k), "0.15") for k in (1, 2, 3)])
    assert child_signals == [1, 1]


def test_a_changed_position_signals_only_the_cells_that_changed(qtbot: Any) -> None:
    model = positions_model()
    model.upsert([condor(1), condor(2), condor(3)])
    ranges: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(lambda a, b, _roles=(): ranges.append(
        (a.row(), a.column(), b.row(), b.column())))
    model.upsert([replace(condor(1), pnl=Decimal("5")), replace(condor(2), pnl=Decimal("6")),
                  condor(3)])
    pnl, progress = model.column_index("pnl"), model.column_index("progress")
    # The span from the P&L to the target / stop bar drawn from it, on the two rows that moved:
    # not the key (the tree need not re-check children), not the third row, no column outside
    # (a view sorted by one of those is not re-sorted).
    assert ranges == [(0, min(pnl, progress), 1, max(pnl, progress))]
    ranges.clear()
    model.upsert([replace(condor(1), pnl=Decimal("5"), quantity=3)])
    quantity = model.column_index("quantity")
    assert ranges == [(0, quantity, 0, quantity)]
    assert model.index(0, model.column_index("pnl")).data(ValueRole) == Decimal("5")




class _PaintedRegions(QObject):
    """Records the region of every paint event of a view's viewport."""

    def __init__(self) -> None:
        super().__init__()
        self.rects: list[QRect] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.rects.append(cast(QPaintEvent, event).region().boundingRect())
        return False


def test_a_price_move_over_many_positions_repaints_only_the_changed_columns(qtbot: Any) -> None:
    model = positions_model()
    view = KeyedTreeView(model, "positions.table", sort_column="id", auto_expand=0)
    qtbot.addWidget(view)
    view.resize(1000, 300)
    view.show()
    qtbot.waitExposed(view)
    model.upsert([f.position(i) for i in range(1, 30)])
    qtbot.wait(50)  # the new rows laid out and painted
    QApplication.processEvents()
    spans: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, _roles=None: spans.append((a.column(), b.column())))
    painted = _PaintedRegions()
    view.viewport().installEventFilter(painted)
    model.upsert([f.position(i, pnl="-3") for i in range(1, 30)])  # every row's P&L moves
    qtbot.waitUntil(lambda: bool(painted.rects))
    assert len(spans) == 1 and spans[0][0] > 0
    header = view.header()
    left = header.sectionViewportPosition(spans[0][0])
    right = header.sectionViewportPosition(spans[0][1]) + header.sectionSize(spans[0][1])
    assert left > 0  # the number, symbol and strategy are not repainted
    assert painted.rects == [QRect(left, 0, min(right, view.viewport().width()) - left,
                                   view.viewport().height())]
